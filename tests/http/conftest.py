"""A real `contractgql serve` process for the HTTP conformance, fuzz and client tests.

The server runs on a free loopback port with its own database of the backend under
test, CORS open to SPA_ORIGIN and a short notification poll interval. One user per
role is logged in, and a contract with distinctive financial values is seeded, so
the tests can check that roles without the financial permission never receive
them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from contractgql.security.policy import ROLES
from tests.conftest import MigratedTemplate

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "tests/node"
CONTRACTGQL = [sys.executable, "-m", "contractgql"]
PASSWORD = "http-conformance-password"
SPA_ORIGIN = "http://spa.contractgql.test"
ORGANIZATION = "HTTP Conformance BV"
# Roles that may not read the financial fields of contracts (policies/policy.csv).
NON_FINANCIAL_ROLES = ("account_manager", "sales", "project_staff", "integrator")
# Values of the seeded contract that only admin, management and finance may read.
# Each string is distinctive enough to be unlikely in a response by chance.
SECRET_AMOUNT = "987654.31"
SECRET_INDEXATION = "7.31"
SECRET_RENEWAL_PRICE = "Renewal price WOMBAT-2718"
# Substrings of the secret values and of the values derived from them: the
# monthly amount is the MRR, and twelve times it (11851851.72) the ARR.
SECRET_NEEDLES = ("987654", "11851851", "7.31", "WOMBAT")


@dataclass
class LiveServer:
    """The running server, a token per role and the ids of the seeded records."""

    url: str
    tokens: dict[str, str]
    user_ids: dict[str, str]
    client_id: str
    secret_contract_id: str

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/graphql"

    def post(
        self, query: str, variables: dict[str, Any] | None = None, *, role: str
    ) -> dict[str, Any]:
        """Post a document as `role` and return the response body."""
        response = httpx.post(
            self.graphql_url,
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.tokens[role]}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def data(
        self, query: str, variables: dict[str, Any] | None = None, *, role: str
    ) -> dict[str, Any]:
        """Post a document that must succeed and return its `data`."""
        body = self.post(query, variables, role=role)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data


def require_node() -> Path:
    """Return the Node.js harness folder, installing its packages when missing.

    Fails, and never skips, when node or npm is not installed, because these tests
    are the only check of the real JavaScript clients.
    """
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            pytest.fail(
                f"{tool} was not found on PATH: install Node.js 20 or later with npm "
                "to run the GraphQL-over-HTTP audits and the SPA client tests.",
                pytrace=False,
            )
    if not (NODE_DIR / "node_modules").is_dir():
        installed = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if installed.returncode != 0:
            pytest.fail(
                f"npm ci failed in {NODE_DIR}:\n{installed.stdout}{installed.stderr}",
                pytrace=False,
            )
    return NODE_DIR


def run_node(script: str, *args: str, env: dict[str, str] | None = None) -> str:
    """Run a script of the Node.js harness and return its standard output."""
    folder = require_node()
    completed = subprocess.run(
        ["node", script, *args],
        cwd=folder,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, (
        f"node {script} exited with {completed.returncode}:\n"
        f"{completed.stdout}\n{completed.stderr}"
    )
    return completed.stdout


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run_cli(env: dict[str, str], *args: str) -> None:
    completed = subprocess.run(
        [*CONTRACTGQL, *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def _wait_until_ready(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.stderr.read() if process.stderr else ""
            raise AssertionError(f"The server exited early: {stderr}")
        try:
            if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("The server did not become ready within 60 s.")


@pytest.fixture(scope="session")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, migrated_template: MigratedTemplate
) -> Iterator[LiveServer]:
    """Start the server, create one user per role and seed the secret contract."""
    data_dir = tmp_path_factory.mktemp("http-live")
    env = {
        **os.environ,
        "CONTRACTGQL_DATA_DIR": str(data_dir),
        "CONTRACTGQL_SECRET_KEY": "http-conformance-secret-" + "k" * 32,
        "CONTRACTGQL_LOG_LEVEL": "WARNING",
        "CONTRACTGQL_PASSWORD": PASSWORD,
        "CONTRACTGQL_CORS_ORIGINS": SPA_ORIGIN,
        "CONTRACTGQL_NOTIFICATION_POLL_INTERVAL": "0.2",
        "CONTRACTGQL_SCHEDULER": "off",
    }
    for name in ("CONTRACTGQL_REDIS_URL", "CONTRACTGQL_DATABASE_URL"):
        env.pop(name, None)
    with migrated_template.copy(data_dir) as database_url:
        if database_url is not None:
            env["CONTRACTGQL_DATABASE_URL"] = database_url
        _run_cli(
            env,
            *("create-user", "--email", "admin@http.example", "--name", "Admin"),
            *("--role", "admin", "--organization", ORGANIZATION),
        )
        port = _free_port()
        process = subprocess.Popen(
            [*CONTRACTGQL, "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_ready(url, process)
            yield _seed(url)
        finally:
            process.terminate()
            process.wait(timeout=30)


LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { token }
}
"""
CREATE_USER = """
mutation CreateUser($input: CreateUserInput!) {
  createUser(input: $input) { record { id } errors { field code message } }
}
"""
CREATE_CLIENT = """
mutation CreateClient($input: ClientInput!) {
  createClient(input: $input) { record { id } errors { field code message } }
}
"""
CREATE_PROJECT = """
mutation CreateProject($input: ProjectInput!) {
  createProject(input: $input) { record { id } errors { field code message } }
}
"""
SET_PROJECT_MEMBERS = """
mutation SetMembers($projectId: ID!, $userIds: [ID!]!) {
  setProjectMembers(projectId: $projectId, userIds: $userIds) {
    errors { field code message }
  }
}
"""
CREATE_CONTRACT = """
mutation CreateContract($input: CreateContractInput!) {
  createContract(input: $input) { contract { id } errors { field code message } }
}
"""


def _login(url: str, email: str) -> str:
    response = httpx.post(
        f"{url}/graphql",
        json={"query": LOGIN, "variables": {"email": email, "password": PASSWORD}},
        timeout=30,
    )
    token: str = response.json()["data"]["login"]["token"]
    return token


def _seed(url: str) -> LiveServer:
    tokens = {"admin": _login(url, "admin@http.example")}
    server = LiveServer(url, tokens, {}, "", "")
    for role in ROLES:
        if role == "admin":
            continue
        email = f"{role.replace('_', '-')}@http.example"
        user = {"email": email, "name": role, "roles": [role], "password": PASSWORD}
        payload = server.data(CREATE_USER, {"input": user}, role="admin")["createUser"]
        assert payload["errors"] == []
        server.user_ids[role] = payload["record"]["id"]
        tokens[role] = _login(url, email)

    client = server.data(
        CREATE_CLIENT, {"input": {"name": "Quokka Hosting"}}, role="admin"
    )
    server.client_id = client["createClient"]["record"]["id"]
    project = server.data(
        CREATE_PROJECT,
        {"input": {"clientId": server.client_id, "name": "Support"}},
        role="admin",
    )["createProject"]
    assert project["errors"] == []
    members = server.data(
        SET_PROJECT_MEMBERS,
        {
            "projectId": project["record"]["id"],
            "userIds": [server.user_ids["project_staff"]],
        },
        role="admin",
    )
    assert members["setProjectMembers"]["errors"] == []

    contract = server.data(
        CREATE_CONTRACT,
        {
            "input": {
                "name": "Secret pricing",
                "clientId": server.client_id,
                "startDate": "2026-01-01",
                "endDate": "2028-12-31",
                "stage": "SIGNED",
                "signedDate": "2025-12-15",
                "currency": "EUR",
                "amount": SECRET_AMOUNT,
                "paymentFrequency": "MONTHLY",
                "indexation": SECRET_INDEXATION,
                "renewalPriceAgreement": SECRET_RENEWAL_PRICE,
                "ownerId": server.user_ids["account_manager"],
            }
        },
        role="admin",
    )["createContract"]
    assert contract["errors"] == []
    server.secret_contract_id = contract["contract"]["id"]
    return server
