"""The load and the measurements of the audit recorder benchmark.

`GraphQLClient` sends the mutations over HTTP, `run_steady_load` sends update
mutations at a fixed rate, and `CommitListener` stamps the moment each audit log
entry becomes visible. A row trigger on audit_log, which the benchmark adds to its
own database, calls `pg_notify` with the entry's outbox id. PostgreSQL delivers a
notification when the inserting transaction commits, so the listener receives it
when the entry is in the audit log for every reader.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg  # type: ignore[import-untyped]

from bench.audit_setup import USER_EMAIL, USER_PASSWORD, SetupError

logger = logging.getLogger("bench.audit")

NOTIFY_CHANNEL = "bench_audit_recorded"
INSTALL_TRIGGER_SQL = f"""
CREATE OR REPLACE FUNCTION bench_audit_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{NOTIFY_CHANNEL}', NEW.outbox_id::text);
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS bench_audit_notify ON audit_log;
CREATE TRIGGER bench_audit_notify AFTER INSERT ON audit_log
FOR EACH ROW EXECUTE FUNCTION bench_audit_notify();
"""
REMOVE_TRIGGER_SQL = """
DROP TRIGGER IF EXISTS bench_audit_notify ON audit_log;
DROP FUNCTION IF EXISTS bench_audit_notify();
"""

LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { token }
}
"""
CREATE_CLIENT = """
mutation CreateClient($input: ClientInput!) {
  createClient(input: $input) { record { id } errors { field code message } }
}
"""
CREATE_CONTRACT = """
mutation CreateContract($input: CreateContractInput!) {
  createContract(input: $input) { contract { id } errors { field code message } }
}
"""
UPDATE_CONTRACT = """
mutation UpdateContract($id: ID!, $input: UpdateContractInput!) {
  updateContract(id: $id, input: $input) {
    contract { id version }
    errors { field code message }
  }
}
"""
# Seconds one request may take before it counts as failed.
REQUEST_TIMEOUT_S = 30.0
# Seconds the listener thread may take to connect and LISTEN.
LISTEN_TIMEOUT_S = 30.0


def mutation_name(index: int) -> str:
    """Return the contract name that mutation `index` sets, unique in the run."""
    return f"Bench update {index:08d}"


class GraphQLClient:
    """A logged-in GraphQL client of the API server under test."""

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url = url
        self.session = session
        self.headers: dict[str, str] = {}

    async def execute(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """Send one operation and return its data. Raise SetupError on any error."""
        async with self.session.post(
            self.url,
            json={"query": query, "variables": variables},
            headers=self.headers,
        ) as response:
            body = await response.json(content_type=None)
        if response.status != 200 or body.get("errors"):
            raise SetupError(
                f"The API returned HTTP {response.status} with errors "
                f"{body.get('errors')!r}."
            )
        data: dict[str, Any] = body["data"]
        return data

    async def login(self) -> None:
        data = await self.execute(
            LOGIN, {"email": USER_EMAIL, "password": USER_PASSWORD}
        )
        self.headers = {"Authorization": f"Bearer {data['login']['token']}"}

    async def create_contracts(self, count: int) -> list[str]:
        """Create one client with `count` contracts and return the contracts' ids."""
        created = await self.execute(
            CREATE_CLIENT, {"input": {"name": "Bench Audit Client"}}
        )
        _check_payload(created["createClient"])
        client_id = created["createClient"]["record"]["id"]
        contract_ids = []
        for index in range(count):
            data = await self.execute(
                CREATE_CONTRACT,
                {
                    "input": {
                        "name": f"Bench contract {index}",
                        "clientId": client_id,
                        "startDate": "2026-01-01",
                    }
                },
            )
            _check_payload(data["createContract"])
            contract_ids.append(data["createContract"]["contract"]["id"])
        return contract_ids


def _check_payload(payload: dict[str, Any]) -> None:
    if payload["errors"]:
        raise SetupError(f"A set-up mutation failed: {payload['errors']!r}.")


class CommitListener:
    """Receive the outbox id of each audit log entry when its transaction commits.

    It runs its own event loop on a thread, so that the load generator's work does
    not delay the time stamps. `arrivals` maps outbox ids to `time.time()`.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.arrivals: dict[int, float] = {}
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name="commit-listener", daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        ready = self._ready.wait(LISTEN_TIMEOUT_S)
        if not ready or self._error is not None:
            self.stop()
            reason = (
                f"did not connect within {LISTEN_TIMEOUT_S:.0f} s"
                if self._error is None
                else f"failed: {self._error!r}"
            )
            raise SetupError(f"The LISTEN connection to {self.url} {reason}.")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(LISTEN_TIMEOUT_S)

    def _run(self) -> None:
        try:
            asyncio.run(self._listen())
        except BaseException as error:  # noqa: BLE001 - start() reports it
            self._error = error
            self._ready.set()

    async def _listen(self) -> None:
        connection = await asyncpg.connect(self.url)
        try:

            def received(connection: Any, pid: int, channel: str, payload: str) -> None:
                self.arrivals[int(payload)] = time.time()

            await connection.add_listener(NOTIFY_CHANNEL, received)
            self._ready.set()
            while not self._stop.is_set():
                await asyncio.sleep(0.05)
        finally:
            await connection.close()


@dataclass
class Mutation:
    """One update mutation of the steady load, with wall-clock times."""

    index: int
    scheduled: float
    sent: float = 0.0
    responded: float = 0.0
    ok: bool = False
    error: str | None = None


async def run_steady_load(
    client: GraphQLClient,
    contract_ids: list[str],
    rate: float,
    duration_s: float,
    max_in_flight: int,
) -> list[Mutation]:
    """Send `rate` update mutations per second for `duration_s` seconds.

    Mutation i is due at start + i / rate, whatever the responses before it take
    (an open loop). When `max_in_flight` requests are waiting for a response, the
    next one waits for a slot and is sent late, which the achieved rate shows.
    Mutation i renames contract i mod N to `mutation_name(i)`, so that
    consecutive mutations change different rows.
    """
    total = int(rate * duration_s)
    slots = asyncio.Semaphore(max_in_flight)
    mutations = [Mutation(index, 0.0) for index in range(total)]
    loop = asyncio.get_running_loop()
    start_monotonic = loop.time() + 0.1
    start_wall = time.time() + (start_monotonic - loop.time())

    async def send(mutation: Mutation) -> None:
        contract_id = contract_ids[mutation.index % len(contract_ids)]
        variables = {
            "id": contract_id,
            "input": {"name": mutation_name(mutation.index)},
        }
        mutation.sent = time.time()
        try:
            payload = await client.execute(UPDATE_CONTRACT, variables)
            errors = payload["updateContract"]["errors"]
            mutation.ok = not errors
            if errors:
                mutation.error = repr(errors)
        except (aiohttp.ClientError, TimeoutError, SetupError) as error:
            mutation.error = repr(error)
        finally:
            mutation.responded = time.time()
            slots.release()

    tasks = []
    for mutation in mutations:
        due = start_monotonic + mutation.index / rate
        mutation.scheduled = start_wall + mutation.index / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await slots.acquire()
        tasks.append(asyncio.create_task(send(mutation)))
    if tasks:
        # Each request times out after REQUEST_TIMEOUT_S through the session.
        await asyncio.wait(tasks, timeout=REQUEST_TIMEOUT_S + 5.0)
    for task in tasks:
        task.cancel()
    return mutations
