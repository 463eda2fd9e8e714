"""Two API processes and two workers on one database and Redis, one of each stopped.

The test starts two `contractgql serve` and two `contractgql worker` processes on
127.0.0.1, against the job tests' scratch PostgreSQL database and a redis-server
of its own, with a queue name and key prefix of its own. Writers send
updateContract (with expectedVersion) and createNote through both APIs and
upload PDFs, while the workers scan, record the audit chain and extract text.
Mid-run one API gets SIGTERM and one worker SIGKILL. Afterwards every job must
have had its effect exactly once and every acknowledged write must be stored
and audited.

It runs on PostgreSQL only: the processes share the database, which SQLite
serializes. It is marked `long`, so `make test` leaves it out and `make test-long`
runs it. It took 25 s on 2 shared cores.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from arq import ArqRedis, create_pool
from arq.connections import RedisSettings
from arq.jobs import Job, JobStatus

from contractgql.audit.recorder import ChainEnd, verify_chain
from contractgql.config import Settings
from contractgql.ids import decode_id, encode_id
from contractgql.models import (
    AuditLog,
    AuditOutbox,
    Contract,
    DocumentText,
    DocumentVersion,
    Note,
    TextStatus,
    User,
)
from contractgql.security.tokens import TokenSigner
from tests.conftest import BACKEND
from tests.documents.helpers import CSRF_HEADER, UPLOAD_DOCUMENT, multipart, pdf_bytes
from tests.jobs.conftest import CONTRACTGQL, free_port, process_env, read_log
from tests.jobs.factory import make_contracts
from tests.jobs.processes import RedisServer, Worker, wait_for, wait_until
from tests.jobs.test_worker import (
    OFFSETS,
    assert_exactly_once,
    due_world,
    reminders_locked,
)
from tests.observability.test_metrics import parse, request_labels

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.long,
    pytest.mark.skipif(
        BACKEND != "postgres", reason="several processes share a PostgreSQL database"
    ),
]

CONTRACTS = 120
WRITERS = 8
# Seconds of load, and when in it the API and the worker are stopped.
LOAD_SECONDS = 20.0
STOP_API_AT = 6.0
KILL_WORKER_AT = 10.0
UPLOADS = 6
# Contracts with due reminders that are added mid-run, for a scan that the kill of
# a worker may cut off.
ADDED_DUE_CONTRACTS = 400
START_TIMEOUT = 60.0
DRAIN_TIMEOUT = 60.0
REQUEST_TIMEOUT = 30.0
METRICS_TOKEN = "scale-out-metrics-" + "t" * 32

UPDATE = """
mutation UpdateContract($id: ID!, $input: UpdateContractInput!, $version: Int) {
  updateContract(id: $id, input: $input, expectedVersion: $version) {
    contract { id name version }
    errors { field code message }
  }
}
"""
CREATE_NOTE = """
mutation CreateNote($input: NoteInput!) {
  createNote(input: $input) { record { id } errors { field code message } }
}
"""
READ_CONTRACT = """
query ReadContract($id: ID!) { node(id: $id) { ... on Contract { name version } } }
"""


@dataclass
class ApiServer:
    """A `contractgql serve` process on a free loopback port."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    # Responses to each operation name that this test received from the server.
    responses: Counter[str] = field(default_factory=Counter)

    @classmethod
    def start(cls, name: str, env: dict[str, str], directory: Path) -> ApiServer:
        port = free_port()
        log = directory / f"{name}.log"
        with log.open("ab") as output:
            process = subprocess.Popen(
                [*CONTRACTGQL, "serve", "--port", str(port)],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        return cls(name, process, port, log)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready(self) -> bool:
        assert self.process.poll() is None, read_log(self.log)
        try:
            response = httpx.get(f"{self.url}/health/ready", timeout=2)
        except httpx.TransportError:
            return False
        return response.status_code == 200

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
        return self.process.returncode


@dataclass
class KnownState:
    """A contract's name and version, as acknowledged or read back after an error."""

    name: str
    version: int


@dataclass
class Ledger:
    """The writes that the servers acknowledged, and what they must have left."""

    contracts: dict[str, KnownState] = field(default_factory=dict)
    # Request id -> audit action of each acknowledged write.
    audited: dict[str, str] = field(default_factory=dict)
    notes: dict[int, str] = field(default_factory=dict)
    versions: dict[int, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


class Cluster:
    """Sends each request to a live API, and skips an API once it stops accepting."""

    def __init__(self, servers: list[ApiServer], token: str) -> None:
        self.servers = servers
        self.down: set[str] = set()
        self.token = token
        self.clients = {
            server.name: httpx.AsyncClient(base_url=server.url, timeout=REQUEST_TIMEOUT)
            for server in servers
        }
        self._turn = 0

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()

    def _next_server(self) -> ApiServer:
        live = [server for server in self.servers if server.name not in self.down]
        assert live, "every API process is down"
        self._turn += 1
        return live[self._turn % len(live)]

    async def post(
        self, operation: str, request_id: str, **request: Any
    ) -> dict[str, Any] | None:
        """Post to one live API and return the body, or None without a response."""
        server = self._next_server()
        headers = {
            "Authorization": f"Bearer {self.token}",
            "X-Request-ID": request_id,
            **request.pop("headers", {}),
        }
        try:
            response = await self.clients[server.name].post(
                "/graphql", headers=headers, **request
            )
        except httpx.TransportError:
            if server.process.poll() is not None or not _accepts(server.port):
                self.down.add(server.name)
            return None
        server.responses[operation] += 1
        assert response.status_code == 200, response.text
        assert response.headers["x-request-id"] == request_id
        body: dict[str, Any] = response.json()
        return body

    async def graphql(
        self, operation: str, request_id: str, query: str, variables: dict[str, Any]
    ) -> dict[str, Any] | None:
        return await self.post(
            operation, request_id, json={"query": query, "variables": variables}
        )


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


async def write_contracts(
    cluster: Cluster,
    ledger: Ledger,
    writer: int,
    contract_ids: list[str],
    deadline: float,
) -> None:
    """Rename this writer's contracts in turn, and add a note after each rename."""
    step = 0
    while time.monotonic() < deadline:
        contract_id = contract_ids[step % len(contract_ids)]
        known = ledger.contracts[contract_id]
        name = f"Writer {writer} step {step}"
        request_id = f"scale-w{writer}-u{step}"
        body = await cluster.graphql(
            "UpdateContract",
            request_id,
            UPDATE,
            {"id": contract_id, "input": {"name": name}, "version": known.version},
        )
        if body is None:
            # Not acknowledged: it may or may not have committed, so read back.
            await read_back(cluster, ledger, contract_id, f"scale-w{writer}-r{step}")
        else:
            payload = body["data"]["updateContract"]
            if payload["errors"]:
                ledger.failures.append(f"{request_id}: {payload['errors']}")
            else:
                contract = payload["contract"]
                assert contract["version"] == known.version + 1
                ledger.contracts[contract_id] = KnownState(name, contract["version"])
                ledger.audited[request_id] = "contract.update"

        note_request = f"scale-w{writer}-n{step}"
        note_body = f"Note {note_request}"
        body = await cluster.graphql(
            "CreateNote",
            note_request,
            CREATE_NOTE,
            {"input": {"body": note_body, "contractId": contract_id}},
        )
        if body is not None:
            payload = body["data"]["createNote"]
            if payload["errors"]:
                ledger.failures.append(f"{note_request}: {payload['errors']}")
            else:
                ledger.notes[decode_id(payload["record"]["id"])[1]] = note_body
                ledger.audited[note_request] = "note.create"
        step += 1


async def read_back(
    cluster: Cluster, ledger: Ledger, contract_id: str, request_id: str
) -> None:
    for _ in range(10):
        body = await cluster.graphql(
            "ReadContract", request_id, READ_CONTRACT, {"id": contract_id}
        )
        if body is not None:
            node = body["data"]["node"]
            ledger.contracts[contract_id] = KnownState(node["name"], node["version"])
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"No API answered a read of {contract_id}")


async def upload_documents(
    cluster: Cluster, ledger: Ledger, contract_ids: list[str], deadline: float
) -> None:
    """Upload UPLOADS PDFs spread over the load, each with a word of its own."""
    for index in range(UPLOADS):
        await asyncio.sleep(max(0.0, deadline - time.monotonic()) / (UPLOADS - index))
        word = f"scaleword{index}x{uuid.uuid4().hex[:6]}"
        variables = {
            "input": {
                "contractId": contract_ids[index],
                "kind": "SIGNED_CONTRACT",
                "file": None,
            }
        }
        request = multipart(
            UPLOAD_DOCUMENT,
            variables,
            {"0": (f"{word}.pdf", ["variables.input.file"], pdf_bytes(word))},
        )
        body = await cluster.post(
            "Upload", f"scale-upload-{index}", headers=dict(CSRF_HEADER), **request
        )
        if body is None:
            continue
        payload = body["data"]["uploadDocument"]
        assert payload["errors"] == [], payload["errors"]
        version_id = decode_id(payload["document"]["versions"][0]["id"])[1]
        ledger.versions[version_id] = word
        ledger.audited[f"scale-upload-{index}"] = "document.create"


async def stop_mid_run(
    api: ApiServer,
    workers: list[Worker],
    started: float,
    add_due_contracts: Callable[[], Awaitable[list[int]]],
    pool: ArqRedis,
    settings: Settings,
) -> tuple[list[int], int]:
    """Stop the API, then kill the worker that runs a scan in the middle of it.

    The scan plans contracts that came due mid-run, and cannot insert their
    reminders while the table is locked, so it is cut off before it ends.
    Return the ids of the added contracts and the index of the killed worker.
    """
    await asyncio.sleep(max(0.0, started + STOP_API_AT - time.monotonic()))
    api.process.send_signal(signal.SIGTERM)
    added = await add_due_contracts()
    await asyncio.sleep(max(0.0, started + KILL_WORKER_AT - time.monotonic()))
    job_id = f"mid-run-scan-{uuid.uuid4().hex[:8]}"
    async with reminders_locked(settings):
        await pool.enqueue_job("scan_all", _job_id=job_id)

        async def picked_up() -> bool:
            return any(f"→ {job_id}:scan_all" in w.text() for w in workers)

        await wait_for(picked_up, START_TIMEOUT, "a worker to start the scan")
        await asyncio.sleep(0.5)
        victim = next(
            index
            for index, worker in enumerate(workers)
            if f"→ {job_id}:scan_all" in worker.text()
        )
        workers[victim].kill()
    # The scan was cut off: the killed worker never logged its end.
    assert f"← {job_id}:scan_all" not in workers[victim].text()
    return added, victim


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def processes() -> Iterator[list[ApiServer | Worker]]:
    """Collect the processes a test starts and kill any still running at its end."""
    started: list[ApiServer | Worker] = []
    yield started
    for process in started:
        if process.process.poll() is None:
            process.process.kill()
            process.process.wait(timeout=10)


async def test_two_apis_two_workers_one_stopped_each(
    scratch: Settings,
    redis_server: RedisServer,
    processes: list[ApiServer | Worker],
    tmp_path: Path,
) -> None:
    world, ids, today = await due_world(CONTRACTS)
    organization = world.organization
    admin = await User.create(
        organization=organization,
        email=f"admin-{uuid.uuid4().hex[:8]}@example.com",
        name="Admin",
        roles=["admin"],
    )
    queue = f"scale:{uuid.uuid4().hex[:8]}"
    env = process_env(
        scratch,
        CONTRACTGQL_REDIS_URL=redis_server.url,
        CONTRACTGQL_WORKER_QUEUE=queue,
        CONTRACTGQL_REDIS_KEY_PREFIX=f"{queue}:",
        CONTRACTGQL_SCAN_TIMEOUT="60",
        CONTRACTGQL_METRICS_TOKEN=METRICS_TOKEN,
    )
    token = TokenSigner(env["CONTRACTGQL_SECRET_KEY"], 3600).issue(
        admin.id, organization.id
    )
    apis = [ApiServer.start(f"api-{n}", env, tmp_path) for n in (1, 2)]
    metrics_ports = [free_port(), free_port()]
    workers = [
        Worker.start(
            {**env, "CONTRACTGQL_WORKER_METRICS_PORT": str(port)},
            tmp_path / f"worker-{n}.log",
        )
        for n, port in zip((1, 2), metrics_ports, strict=True)
    ]
    processes.extend([*apis, *workers])
    for api in apis:
        wait_until(api.ready, START_TIMEOUT, f"{api.name} to be ready")
    for worker in workers:
        wait_until(
            lambda worker=worker: "Worker started on queue" in worker.text(),
            START_TIMEOUT,
            "the workers to start",
        )

    contract_ids = [encode_id("Contract", pk) for pk in ids]
    ledger = Ledger()
    for contract_id, (name, version) in zip(
        contract_ids,
        [
            (c.name, c.version)
            for c in sorted(await Contract.filter(id__in=ids), key=lambda c: c.id)
        ],
        strict=True,
    ):
        ledger.contracts[contract_id] = KnownState(name, version)
    cluster = Cluster(apis, token)
    pool = await create_pool(
        RedisSettings.from_dsn(redis_server.url), default_queue_name=queue
    )

    async def add_due_contracts() -> list[int]:
        contract_type_id = (
            await Contract.filter(id=ids[0]).values_list("contract_type_id", flat=True)
        )[0]
        return await make_contracts(
            world,
            ADDED_DUE_CONTRACTS,
            contract_type_id=contract_type_id,
            start_date=today - timedelta(days=100),
            end_date=today + timedelta(days=30),
            reminder_offsets=OFFSETS,
        )

    started = time.monotonic()
    deadline = started + LOAD_SECONDS
    slices = [contract_ids[n::WRITERS] for n in range(WRITERS)]
    try:
        *_, (added_ids, killed) = await asyncio.gather(
            *(
                write_contracts(cluster, ledger, n, slices[n], deadline)
                for n in range(WRITERS)
            ),
            upload_documents(cluster, ledger, contract_ids, deadline),
            stop_mid_run(apis[1], workers, started, add_due_contracts, pool, scratch),
        )
    finally:
        await cluster.close()

    # The sweeps would catch up within a minute. These jobs make the surviving
    # worker do it now. Jobs that the killed worker was running stay in the
    # queue until their timeout, and then run again.
    try:
        # The texts sweep is a cron function, whose job arq keeps marked in
        # progress for a while after it ends, so only the texts are waited for.
        await pool.enqueue_job(
            f"cron:{queue}:extract_pending_texts", _job_id=f"{queue}:texts"
        )
        final_jobs = [
            await pool.enqueue_job("record_audit", None, _job_id=f"{queue}:audit"),
            await pool.enqueue_job("scan_all", _job_id=f"{queue}:scan"),
        ]
        for job in final_jobs:
            assert job is not None

            async def finished(job: Job = job) -> bool:
                # The recorder keeps no result, so its job is then not found.
                status = await job.status()
                return status in (JobStatus.complete, JobStatus.not_found)

            await wait_for(finished, DRAIN_TIMEOUT, f"the job {job.job_id}")
    finally:
        await pool.aclose()

    async def drained() -> bool:
        waiting = await AuditOutbox.filter(organization_id=organization.id).count()
        pending = await DocumentVersion.filter(
            id__in=list(ledger.versions), text_status=TextStatus.PENDING
        ).count()
        return waiting == 0 and pending == 0

    await wait_for(drained, DRAIN_TIMEOUT, "the outbox and the texts to drain")
    worker_metrics = httpx.get(
        f"http://127.0.0.1:{metrics_ports[1 - killed]}/metrics", timeout=5
    ).text
    api_metrics = httpx.get(
        f"{apis[0].url}/metrics",
        headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
        timeout=5,
    ).text
    api_exit_codes = [apis[0].stop(), apis[1].stop()]

    # uvicorn 0.55 shuts down gracefully on SIGTERM and then re-raises it.
    for api, exit_code in zip(apis, api_exit_codes, strict=True):
        assert exit_code in (0, -signal.SIGTERM), read_log(api.log)
        assert "Application shutdown complete" in read_log(api.log)
        assert "Traceback" not in read_log(api.log)
    survivor = workers[1 - killed]
    assert survivor.stop() == 0, survivor.text()
    assert workers[killed].process.returncode == -signal.SIGKILL
    assert ledger.failures == []
    # Both APIs responded, and the stopped one was then skipped.
    assert apis[1].responses["UpdateContract"] > 0
    assert cluster.down == {"api-2"}
    assert len(ledger.audited) > 100

    # Every job's effect exists exactly once.
    await assert_exactly_once(world, ids + added_ids, today)

    # Every acknowledged rename and note is stored.
    stored = {
        encode_id("Contract", c.id): KnownState(c.name, c.version)
        for c in await Contract.filter(id__in=ids)
    }
    assert stored == ledger.contracts
    notes = dict(await Note.filter(id__in=list(ledger.notes)).values_list("id", "body"))
    assert notes == ledger.notes

    # The audit chain has no gap or duplicate and contains each acknowledged write.
    entries = await AuditLog.filter(organization_id=organization.id).order_by(
        "sequence"
    )
    assert [entry.sequence for entry in entries] == list(range(1, len(entries) + 1))
    outbox_ids = [entry.outbox_id for entry in entries]
    assert len(set(outbox_ids)) == len(outbox_ids)
    assert isinstance(await verify_chain(organization), ChainEnd)
    recorded = Counter(entry.request_id for entry in entries)
    actions = {entry.request_id: entry.action for entry in entries}
    for request_id, action in ledger.audited.items():
        assert recorded[request_id] == 1, request_id
        assert actions[request_id] == action

    # The text of every acknowledged upload was extracted once.
    texts = dict(
        await DocumentText.filter(version_id__in=list(ledger.versions)).values_list(
            "version_id", "text"
        )
    )
    assert set(texts) == set(ledger.versions)
    for version_id, word in ledger.versions.items():
        assert word in texts[version_id]

    # The surviving API counted exactly the responses this test received from it,
    # and the surviving worker counted its jobs.
    api_samples = parse(api_metrics)
    for operation in ("UpdateContract", "CreateNote"):
        labels = request_labels("/graphql", "mutation", operation, 200)
        assert (
            api_samples[("contractgql_http_requests_total", labels)]
            == (apis[0].responses[operation])
        )
    worker_samples = parse(worker_metrics)
    recorder_runs = (("job", "record_audit"), ("outcome", "success"))
    assert worker_samples[("contractgql_job_runs_total", recorder_runs)] >= 1
