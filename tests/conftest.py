"""Shared fixtures: a real database per backend, the ASGI app and logged-in callers.

Every test creates its own organization, and every row belongs to one, so tests on the
same database stay independent without a rebuild between them.

CONTRACTGQL_TEST_BACKEND picks the database: `sqlite` (the default) or `postgres`, which
needs CONTRACTGQL_TEST_POSTGRES_URL; each run makes its own database there and drops it
at the end. One process tests one backend because Tortoise ORM keeps per-dialect state
in its model classes, so `make test` runs the suite once per backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from tortoise import Tortoise

from contractgql import db
from contractgql.app import create_app
from contractgql.config import Settings
from contractgql.models import Organization, User
from contractgql.security.passwords import hash_password
from contractgql.security.policy import ROLES
from contractgql.security.tokens import TokenSigner

PASSWORD = "correct-horse-battery"
POSTGRES_URL = os.environ.get("CONTRACTGQL_TEST_POSTGRES_URL")
BACKEND = os.environ.get("CONTRACTGQL_TEST_BACKEND", "sqlite")
if BACKEND not in ("sqlite", "postgres"):
    raise pytest.UsageError(
        f"CONTRACTGQL_TEST_BACKEND={BACKEND!r} is not supported: use sqlite or "
        "postgres."
    )
if BACKEND == "postgres" and not POSTGRES_URL:
    raise pytest.UsageError(
        "CONTRACTGQL_TEST_BACKEND=postgres needs CONTRACTGQL_TEST_POSTGRES_URL, such "
        "as postgres://postgres@127.0.0.1:5432/test."
    )
BACKENDS = [BACKEND]


@contextlib.contextmanager
def scratch_database() -> Iterator[str | None]:
    """Yield the URL of a new, empty PostgreSQL database, or None on SQLite."""
    if BACKEND != "postgres":
        yield None
        return
    assert POSTGRES_URL is not None
    name = f"contractgql_scratch_{uuid.uuid4().hex[:12]}"
    admin_url = POSTGRES_URL.replace("postgres://", "postgresql://", 1)

    asyncio.run(run_admin_statement(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        asyncio.run(run_admin_statement(admin_url, drop))


async def run_admin_statement(admin_url: str, statement: str) -> None:
    """Run CREATE or DROP DATABASE, retrying while another session uses template1.

    PostgreSQL rejects CREATE DATABASE while any other session is connected to the
    template database, which happens when another process creates one at the same time.
    """
    for attempt in range(20):
        connection = await asyncpg.connect(admin_url)
        try:
            await connection.execute(statement)
            return
        except asyncpg.ObjectInUseError:
            if attempt == 19:
                raise
        finally:
            await connection.close()
        await asyncio.sleep(0.25)


@pytest.fixture(scope="session")
def tmp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("contractgql")


@pytest_asyncio.fixture(scope="session", params=BACKENDS)
async def settings(
    request: pytest.FixtureRequest, tmp_root: Path
) -> AsyncIterator[Settings]:
    """Migrate a fresh database of one backend and connect the ORM to it."""
    backend = request.param
    data_dir = tmp_root / backend
    database_url = None
    database_name = f"contractgql_test_{uuid.uuid4().hex[:12]}"
    if backend == "postgres":
        assert POSTGRES_URL is not None
        admin_url = POSTGRES_URL.replace("postgres://", "postgresql://", 1)
        await run_admin_statement(admin_url, f'CREATE DATABASE "{database_name}"')
        database_url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + database_name

    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        secret_key="test-secret-key-" + "x" * 32,
    )
    await db.migrate(settings)
    await db.connect(settings)
    yield settings
    await Tortoise.close_connections()

    if backend == "postgres":
        drop = f'DROP DATABASE IF EXISTS "{database_name}" WITH (FORCE)'
        await run_admin_statement(admin_url, drop)


@pytest_asyncio.fixture(scope="session")
async def app(settings: Settings) -> Any:
    return create_app(settings, manage_database=False)


@pytest_asyncio.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@dataclass
class Tenant:
    """An organization with one user per role, and a bearer token for each."""

    organization: Organization
    user_ids: dict[str, int] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)


@dataclass
class Api:
    """Posts GraphQL documents to the app as one of a tenant's users."""

    client: httpx.AsyncClient
    tenant: Tenant

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, *, role: str | None
    ) -> dict[str, Any]:
        headers = {}
        if role is not None:
            headers["Authorization"] = f"Bearer {self.tenant.tokens[role]}"
        response = await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        role: str = "admin",
    ) -> dict[str, Any]:
        """Post a document that must succeed and return its `data`."""
        body = await self.post(query, variables, role=role)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    async def error(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        role: str | None = "admin",
    ) -> dict[str, Any]:
        """Post a document that must fail and return its first error."""
        body = await self.post(query, variables, role=role)
        assert body.get("errors"), body
        error: dict[str, Any] = body["errors"][0]
        return error


@functools.cache
def password_hash() -> str:
    """Return one Argon2 hash of the test password, computed once per process."""
    return hash_password(PASSWORD)


async def make_tenant(settings: Settings) -> Tenant:
    """Create an organization with one user per role and a bearer token for each.

    Hashing and verifying a password with Argon2 costs about 0.2 s per user, so all
    users share one hash of PASSWORD and get tokens signed the way the login mutation
    signs them. The login tests exercise the real password path.
    """
    suffix = uuid.uuid4().hex[:10]
    organization = await Organization.create(name=f"Org {suffix}")
    tenant = Tenant(organization=organization)
    signer = TokenSigner(settings.resolved_secret_key(), settings.token_ttl)
    for role in ROLES:
        email = f"{role}-{suffix}@example.com"
        user = await User.create(
            organization=organization,
            email=email,
            name=role.replace("_", " ").title(),
            roles=[role],
            password_hash=password_hash(),
        )
        tenant.user_ids[role] = user.id
        tenant.emails[role] = email
        tenant.tokens[role] = signer.issue(user.id, organization.id)
    return tenant


@pytest_asyncio.fixture
async def tenant(settings: Settings) -> Tenant:
    return await make_tenant(settings)


@pytest_asyncio.fixture
async def api(client: httpx.AsyncClient, tenant: Tenant) -> Api:
    return Api(client, tenant)


class QueryCounter(logging.Handler):
    """Counts the SQL statements that Tortoise sends while it is attached."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if (
            message.lstrip()
            .upper()
            .startswith(("SELECT", "INSERT", "UPDATE", "DELETE"))
        ):
            self.statements.append(message)


@pytest.fixture
def count_queries() -> Iterator[QueryCounter]:
    logger = logging.getLogger("tortoise.db_client")
    counter = QueryCounter()
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(counter)
    yield counter
    logger.removeHandler(counter)
    logger.setLevel(previous)
