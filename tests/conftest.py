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
import shutil
import subprocess
import sys
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
# Name of the SQLite database file that Settings uses inside data_dir.
SQLITE_FILE = "contractgql.sqlite3"


@contextlib.contextmanager
def scratch_database() -> Iterator[str | None]:
    """Yield the URL of a new, empty PostgreSQL database, or None on SQLite."""
    if BACKEND != "postgres":
        yield None
        return
    name = f"contractgql_scratch_{uuid.uuid4().hex[:12]}"
    database_url = asyncio.run(create_postgres_database(name))
    try:
        yield database_url
    finally:
        asyncio.run(drop_postgres_database(name))


async def run_admin_statement(admin_url: str, statement: str) -> None:
    """Run CREATE or DROP DATABASE, retrying while another session uses the template.

    PostgreSQL rejects CREATE DATABASE while any other session is connected to the
    template database (template1 unless the statement names one), which happens when
    another process creates one at the same time.
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


def postgres_database_url(name: str) -> str:
    """Return the URL of database `name` on the test PostgreSQL server."""
    assert POSTGRES_URL is not None
    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name


async def create_postgres_database(name: str, template: str | None = None) -> str:
    """Create database `name` and return its URL. It copies `template` when given."""
    assert POSTGRES_URL is not None
    admin_url = POSTGRES_URL.replace("postgres://", "postgresql://", 1)
    statement = f'CREATE DATABASE "{name}"'
    if template is not None:
        statement += f' TEMPLATE "{template}"'
    await run_admin_statement(admin_url, statement)
    return postgres_database_url(name)


async def drop_postgres_database(name: str) -> None:
    assert POSTGRES_URL is not None
    admin_url = POSTGRES_URL.replace("postgres://", "postgresql://", 1)
    await run_admin_statement(
        admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    )


@dataclass(frozen=True)
class MigratedTemplate:
    """A database of the backend under test with every migration applied, to copy.

    `contractgql migrate` on an empty database took about 2 s of CPU (Tortoise ORM
    1.1.9, 16 migrations), because Tortoise rebuilds its model state for each
    migration. A copy of the migrated database took under 0.1 s. So tests that need
    a database of their own, but do not test migrations, start from a copy. On
    PostgreSQL the copy is made with CREATE DATABASE ... TEMPLATE, which fails while
    any session is connected to the template, so no test connects to it.
    """

    data_dir: Path
    postgres_name: str | None

    async def create_copy(self, data_dir: Path) -> str | None:
        """Create a migrated database for `data_dir` and return its URL.

        On SQLite it copies the database file into `data_dir` and returns None,
        because Settings finds the file there.
        """
        if self.postgres_name is None:
            data_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.data_dir / SQLITE_FILE, data_dir / SQLITE_FILE)
            return None
        name = f"contractgql_copy_{uuid.uuid4().hex[:12]}"
        return await create_postgres_database(name, template=self.postgres_name)

    @contextlib.contextmanager
    def copy(self, data_dir: Path) -> Iterator[str | None]:
        """Yield the URL of a new migrated database, or None on SQLite, then drop it."""
        database_url = asyncio.run(self.create_copy(data_dir))
        try:
            yield database_url
        finally:
            if database_url is not None:
                name = database_url.rsplit("/", 1)[1]
                asyncio.run(drop_postgres_database(name))


@pytest.fixture(scope="session")
def tmp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("contractgql")


@pytest.fixture(scope="session")
def migrated_template(tmp_root: Path) -> Iterator[MigratedTemplate]:
    """Migrate one database with `contractgql migrate` for the tests to copy.

    The command runs in a subprocess because db.migrate closes the ORM connections
    of its process, which the session's tests share.
    """
    data_dir = tmp_root / "template"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTRACTGQL_")}
    env["CONTRACTGQL_DATA_DIR"] = str(data_dir)
    with scratch_database() as database_url:
        postgres_name = None
        if database_url is not None:
            env["CONTRACTGQL_DATABASE_URL"] = database_url
            postgres_name = database_url.rsplit("/", 1)[1]
        migrated = subprocess.run(
            [sys.executable, "-m", "contractgql", "migrate"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert migrated.returncode == 0, migrated.stderr
        yield MigratedTemplate(data_dir, postgres_name)


@pytest_asyncio.fixture(scope="session", params=BACKENDS)
async def settings(
    request: pytest.FixtureRequest, tmp_root: Path, migrated_template: MigratedTemplate
) -> AsyncIterator[Settings]:
    """Copy the migrated database of one backend and connect the ORM to it."""
    backend = request.param
    data_dir = tmp_root / backend
    database_url = await migrated_template.create_copy(data_dir)
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        secret_key="test-secret-key-" + "x" * 32,
    )
    await db.connect(settings)
    yield settings
    await Tortoise.close_connections()

    if database_url is not None:
        await drop_postgres_database(database_url.rsplit("/", 1)[1])


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
