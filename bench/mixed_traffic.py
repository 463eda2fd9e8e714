"""The operations of the mixed load benchmark and the clients that send them.

Each client loops until the deadline or the shared request budget runs out. It
picks an operation by weight with a random generator of its own, sends it to
the next API process in turn and checks the response. Reads page through the
contracts and sum their totals. Writes rename the client's own contracts with
`expectedVersion` and add notes to them. Every write carries an X-Request-ID of
its own, which the audit log must store with it.

Every check that fails counts as an error of that operation. A write that was
not acknowledged is not expected in the database, and a rename whose outcome is
unknown, because no response came, takes the contract out of the client's
rotation and out of the checks.
"""

from __future__ import annotations

import asyncio
import base64
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from bench.common import CONTRACTS_PAGE_QUERY, encode_end_date_cursor, encode_global_id

# Seconds one request may take before it counts as an error.
REQUEST_TIMEOUT_S = 30.0
# Distinct error messages kept per operation. The error count covers all of them.
MAX_ERROR_KINDS = 5
PAGE_SIZE = 50

CONTRACT_TOTALS_QUERY = """
query ContractTotals($filter: ContractFilter) {
  contracts(first: 1, filter: $filter) {
    totalCount
    totals { count mrr { currency amount } arr { currency amount }
             totalContractValue { currency amount } }
  }
}
"""
PORTFOLIO_REPORT_QUERY = """
query PortfolioReport($groupBy: PortfolioGrouping!) {
  portfolio(groupBy: $groupBy) {
    totals { contractCount currencies { currency mrr arr } }
    groupCount
    groups(first: 20) { name figures { contractCount } }
  }
  revenueAtRisk(period: {preset: NEXT_QUARTER}) {
    atRisk { contractCount currencies { currency mrr } }
  }
}
"""
REPORT_GROUPINGS = ("CLIENT", "CONTRACT_TYPE", "OWNER", "TAG")
UPDATE_CONTRACT = """
mutation UpdateContract($id: ID!, $input: UpdateContractInput!, $version: Int) {
  updateContract(id: $id, input: $input, expectedVersion: $version) {
    contract { id version }
    errors { field code message }
  }
}
"""
CREATE_NOTE = """
mutation CreateNote($input: NoteInput!) {
  createNote(input: $input) { record { id } errors { field code message } }
}
"""
TOTALS_FILTERS: tuple[dict[str, Any], ...] = (
    {},
    {"statuses": ["ACTIVE"]},
    {"statuses": ["ACTIVE", "UPCOMING"], "autoRenewal": True},
    {"endDate": {"from": "2027-01-01", "to": "2027-12-31"}},
)


@dataclass(frozen=True)
class Operation:
    name: str
    is_write: bool
    weight: int


# The mix, by weight. A new operation needs a branch in `Client.send` that
# builds and checks its request.
OPERATIONS = (
    Operation("contracts_page", False, 35),
    Operation("contract_totals", False, 15),
    Operation("portfolio_report", False, 10),
    Operation("update_contract", True, 25),
    Operation("create_note", True, 15),
)


class CheckFailed(Exception):
    """A response that is not what the operation must return."""


@dataclass
class KnownContract:
    """A contract's name and version as its last acknowledged rename left them."""

    name: str
    version: int
    renamed: bool = False


@dataclass
class Ledger:
    """The acknowledged writes of all clients, for the checks after the run."""

    contracts: dict[int, KnownContract] = field(default_factory=dict)
    # Contracts whose last rename got no response, so its outcome is unknown.
    unknown_contracts: set[int] = field(default_factory=set)
    notes: dict[int, str] = field(default_factory=dict)
    # X-Request-ID -> audit action of each acknowledged write.
    audited: dict[str, str] = field(default_factory=dict)


@dataclass
class OperationStats:
    latencies_s: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


class Traffic:
    """The shared state of one run: endpoints, budget, statistics and ledger."""

    def __init__(
        self,
        urls: list[str],
        token: str,
        contract_count: int,
        deadline: float,
        max_requests: int,
    ) -> None:
        self.urls = urls
        self.headers = {
            "authorization": f"Bearer {token}",
            "content-type": "application/json",
        }
        self.contract_count = contract_count
        self.deadline = deadline
        self.budget = max_requests
        self.turn = 0
        self.stats = {operation.name: OperationStats() for operation in OPERATIONS}
        self.ledger = Ledger()
        self.timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)

    def next_url(self) -> str:
        self.turn += 1
        return self.urls[self.turn % len(self.urls)]

    def take_request(self) -> bool:
        """Return whether the run goes on, and count one request if it does."""
        if time.monotonic() >= self.deadline or self.budget <= 0:
            return False
        self.budget -= 1
        return True

    async def post(
        self,
        session: aiohttp.ClientSession,
        query: str,
        variables: dict[str, Any],
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """Post one operation and return its `data`, or raise CheckFailed."""
        headers = dict(self.headers)
        if request_id is not None:
            headers["x-request-id"] = request_id
        body = orjson.dumps({"query": query, "variables": variables})
        async with session.post(
            self.next_url(), data=body, headers=headers, timeout=self.timeout
        ) as response:
            raw = await response.read()
            if response.status != 200:
                raise CheckFailed(f"HTTP {response.status}: {raw[:120]!r}")
            if request_id is not None and (
                response.headers.get("x-request-id") != request_id
            ):
                raise CheckFailed("the response's X-Request-ID differs")
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise CheckFailed(f"invalid JSON: {raw[:120]!r}") from None
        if document.get("errors"):
            message = document["errors"][0].get("message", "")
            raise CheckFailed(f"GraphQL error: {message[:160]}")
        data: dict[str, Any] = document["data"]
        return data


class Client:
    """One simulated user, which sends operations in a loop until the run ends."""

    def __init__(self, index: int, traffic: Traffic, owned: list[int]) -> None:
        self.index = index
        self.traffic = traffic
        self.owned = owned
        self.rng = random.Random(1_000 + index)
        self.sent = 0

    async def run(self, session: aiohttp.ClientSession) -> None:
        weights = [operation.weight for operation in OPERATIONS]
        while self.traffic.take_request():
            operation = self.rng.choices(OPERATIONS, weights)[0]
            if operation.is_write and not self.owned:
                operation = OPERATIONS[0]
            stats = self.traffic.stats[operation.name]
            self.sent += 1
            started = time.perf_counter()
            try:
                await self.send(session, operation.name)
            except CheckFailed as error:
                stats.errors[str(error)] += 1
            except (aiohttp.ClientError, TimeoutError) as error:
                stats.errors[f"{type(error).__name__}: {error}"] += 1
                # Back off, so that a dead server does not spin the loop.
                await asyncio.sleep(0.05)
            stats.latencies_s.append(time.perf_counter() - started)

    async def send(self, session: aiohttp.ClientSession, name: str) -> None:
        if name == "contracts_page":
            await self.contracts_page(session)
        elif name == "contract_totals":
            await self.contract_totals(session)
        elif name == "portfolio_report":
            await self.portfolio_report(session)
        elif name == "update_contract":
            await self.update_contract(session)
        elif name == "create_note":
            await self.create_note(session)
        else:
            raise ValueError(f"Unknown operation {name!r}")

    async def contracts_page(self, session: aiohttp.ClientSession) -> None:
        # A page that starts after a random contract in end date order.
        after_pk = self.rng.randint(1, self.traffic.contract_count)
        variables = {"first": PAGE_SIZE, "after": encode_end_date_cursor(after_pk)}
        data = await self.traffic.post(session, CONTRACTS_PAGE_QUERY, variables)
        edges = data["contracts"]["edges"]
        if not isinstance(edges, list) or len(edges) > PAGE_SIZE:
            raise CheckFailed(f"contracts.edges is not a list of {PAGE_SIZE} or fewer")

    async def contract_totals(self, session: aiohttp.ClientSession) -> None:
        variables = {"filter": self.rng.choice(TOTALS_FILTERS)}
        data = await self.traffic.post(session, CONTRACT_TOTALS_QUERY, variables)
        contracts = data["contracts"]
        if contracts["totals"]["count"] != contracts["totalCount"]:
            raise CheckFailed("totals.count differs from totalCount")

    async def portfolio_report(self, session: aiohttp.ClientSession) -> None:
        grouping = self.rng.choice(REPORT_GROUPINGS)
        variables = {"groupBy": grouping}
        data = await self.traffic.post(session, PORTFOLIO_REPORT_QUERY, variables)
        portfolio = data["portfolio"]
        total = portfolio["totals"]["contractCount"]
        groups = portfolio["groups"]
        grouped = sum(group["figures"]["contractCount"] for group in groups)
        all_groups = portfolio["groupCount"] <= len(portfolio["groups"])
        # A contract is in exactly one client, type or owner group (a null group
        # included), but in one group per tag.
        if all_groups and grouping != "TAG" and grouped != total:
            raise CheckFailed(f"{grouping} groups count {grouped} of {total} contracts")
        if all_groups and grouping == "TAG" and grouped < total:
            raise CheckFailed(f"tag groups count {grouped} of {total} contracts")
        if data["revenueAtRisk"]["atRisk"]["contractCount"] < 0:
            raise CheckFailed("revenueAtRisk.atRisk.contractCount is negative")

    async def update_contract(self, session: aiohttp.ClientSession) -> None:
        contract_pk = self.owned[self.sent % len(self.owned)]
        known = self.traffic.ledger.contracts[contract_pk]
        request_id = f"load-{self.index}-{self.sent}"
        name = f"Load client {self.index} rename {self.sent}"
        variables = {
            "id": encode_global_id("Contract", contract_pk),
            "input": {"name": name},
            "version": known.version,
        }
        try:
            data = await self.traffic.post(
                session, UPDATE_CONTRACT, variables, request_id
            )
        except (aiohttp.ClientError, TimeoutError):
            # The rename may have committed without a response.
            self.owned.remove(contract_pk)
            self.traffic.ledger.unknown_contracts.add(contract_pk)
            raise
        payload = data["updateContract"]
        if payload["errors"]:
            raise CheckFailed(f"updateContract: {payload['errors'][0]['code']}")
        version = payload["contract"]["version"]
        if version != known.version + 1:
            raise CheckFailed(
                f"updateContract returned version {version}, expected "
                f"{known.version + 1}"
            )
        self.traffic.ledger.contracts[contract_pk] = KnownContract(name, version, True)
        self.traffic.ledger.audited[request_id] = "contract.update"

    async def create_note(self, session: aiohttp.ClientSession) -> None:
        contract_pk = self.rng.choice(self.owned)
        request_id = f"load-{self.index}-{self.sent}"
        body = f"Load note {request_id}"
        variables = {
            "input": {
                "body": body,
                "contractId": encode_global_id("Contract", contract_pk),
            }
        }
        data = await self.traffic.post(session, CREATE_NOTE, variables, request_id)
        payload = data["createNote"]
        if payload["errors"]:
            raise CheckFailed(f"createNote: {payload['errors'][0]['code']}")
        note_pk = int(_decode_pk(payload["record"]["id"]))
        self.traffic.ledger.notes[note_pk] = body
        self.traffic.ledger.audited[request_id] = "note.create"


def _decode_pk(global_id: str) -> str:
    padded = global_id + "=" * (-len(global_id) % 4)
    return base64.urlsafe_b64decode(padded).decode().split(":", 1)[1]


async def run_clients(traffic: Traffic, owned: list[list[int]]) -> None:
    """Run one Client per list of owned contracts until the run ends."""
    connector = aiohttp.TCPConnector(limit=len(owned))
    async with aiohttp.ClientSession(connector=connector) as session:
        clients = [Client(index, traffic, pks) for index, pks in enumerate(owned)]
        await asyncio.gather(*(client.run(session) for client in clients))
