"""The real server process, fed by the real import command, queried by a GraphQL client.

Starts `contractgql serve` on a free loopback port against a database of the backend
under test, imports the UK Contracts Finder register with `contractgql import`, and
reads it back through the `gql` client library.
"""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gql import Client, GraphQLRequest, gql
from gql.transport.httpx import HTTPXAsyncTransport

from tests.conftest import scratch_database

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
UK_REGISTER = ROOT / "tests/data/uk_contracts_finder_council_contracts.csv"
CONTRACTGQL = [sys.executable, "-m", "contractgql"]
PASSWORD = "end-to-end-password"

LOGIN = gql("""
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { token }
}
""")
CONTRACT_PAGE = gql("""
query Page($after: String) {
  contracts(first: 100, after: $after, orderBy: {field: NUMBER, direction: ASC}) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { number } }
  }
}
""")
ONE_CONTRACT = gql("""
query One($search: String!) {
  contracts(first: 5, filter: {search: $search}) {
    edges { node {
      number name startDate endDate currency amount mrr totalContractValue status
      client { name }
    } }
  }
}
""")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CONTRACTGQL, *args], env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def server_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment of a server process with its own empty database."""
    env = {
        **os.environ,
        "CONTRACTGQL_DATA_DIR": str(tmp_path_factory.mktemp("e2e")),
        "CONTRACTGQL_SECRET_KEY": "end-to-end-secret-" + "k" * 32,
        "CONTRACTGQL_LOG_LEVEL": "WARNING",
        "CONTRACTGQL_PASSWORD": PASSWORD,
    }
    with scratch_database() as database_url:
        if database_url is not None:
            env["CONTRACTGQL_DATABASE_URL"] = database_url
            assert _run(env, "migrate").returncode == 0
        yield env


@pytest.fixture(scope="module")
def server_url(server_env: dict[str, str]) -> Iterator[str]:
    created = _run(
        server_env,
        "create-user",
        "--email",
        "finance@e2e.example",
        "--name",
        "Finance",
        "--role",
        "finance",
        "--organization",
        "E2E Council Supplier",
    )
    assert created.returncode == 0, created.stderr
    imported = _run(
        server_env, "import", str(UK_REGISTER), "--organization", "E2E Council Supplier"
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "557 created, 0 updated, 0 unchanged, 126 duplicates, 0 rejected" in (
        imported.stdout
    )

    port = _free_port()
    process = subprocess.Popen(
        [*CONTRACTGQL, "serve", "--port", str(port)],
        env=server_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_until_ready(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"The server exited early: {process.stderr.read()}")
        try:
            if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("The server did not become ready within 60 s.")


async def _session_client(url: str) -> Client:
    anonymous = Client(transport=HTTPXAsyncTransport(url=f"{url}/graphql"))
    async with anonymous as session:
        result = await session.execute(
            GraphQLRequest(
                LOGIN,
                variable_values={"email": "finance@e2e.example", "password": PASSWORD},
            )
        )
    token = result["login"]["token"]
    transport = HTTPXAsyncTransport(
        url=f"{url}/graphql", headers={"Authorization": f"Bearer {token}"}
    )
    return Client(transport=transport, fetch_schema_from_transport=True)


def _register_numbers() -> set[str]:
    with UK_REGISTER.open(encoding="utf-8-sig", newline="") as handle:
        return {row["release_id"] for row in csv.DictReader(handle)}


async def test_pages_through_every_imported_contract(server_url: str) -> None:
    client = await _session_client(server_url)
    numbers: list[str] = []
    after = None
    async with client as session:
        for _ in range(20):
            request = GraphQLRequest(CONTRACT_PAGE, variable_values={"after": after})
            page = (await session.execute(request))["contracts"]
            numbers.extend(edge["node"]["number"] for edge in page["edges"])
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]

    assert page["totalCount"] == 557
    assert len(numbers) == 557
    assert set(numbers) == _register_numbers()


async def test_contract_values_match_register(server_url: str) -> None:
    client = await _session_client(server_url)
    async with client as session:
        request = GraphQLRequest(ONE_CONTRACT, variable_values={"search": "454733"})
        result = await session.execute(request)

    nodes = [edge["node"] for edge in result["contracts"]["edges"]]
    assert nodes == [
        {
            "number": "454733",
            "name": "Invitation to Tender for the Collection and Disposal of Landfill "
            "Leachate at an Appropriate Treatment Works",
            "startDate": "2021-04-14",
            "endDate": "2022-04-13",
            "currency": "GBP",
            "amount": "45000.00",
            "mrr": "0.00",
            "totalContractValue": "45000.00",
            "status": "EXPIRED",
            "client": {"name": "Herefordshire Council"},
        }
    ]
