"""Database connection and schema migrations through Tortoise ORM."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper
from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient
from tortoise.migrations.api import migrate as run_migrations

from contractgql.config import Settings

logger = logging.getLogger(__name__)


def tortoise_config(settings: Settings) -> dict[str, Any]:
    url = settings.resolved_database_url
    if url.startswith("postgresql://"):
        url = "postgres://" + url.removeprefix("postgresql://")
    return {
        "connections": {"default": url},
        "apps": {
            "models": {
                "models": ["contractgql.models"],
                "default_connection": "default",
                "migrations": "contractgql.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def migrate(settings: Settings) -> None:
    """Apply every pending migration to the configured database."""
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    applied: list[str] = []

    def record(event: str, app_label: str, name: str) -> None:
        if event == "apply_done":
            applied.append(f"{app_label}.{name}")

    try:
        await run_migrations(config=tortoise_config(settings), progress=record)
    finally:
        # An open SQLite connection runs in a thread that keeps the process alive,
        # so a failed migration would otherwise leave `serve` hanging.
        await Tortoise.close_connections()
    if applied:
        logger.info("Applied migrations: %s", ", ".join(applied))
    else:
        logger.info("Database schema is up to date; no migration was pending")


async def connect(settings: Settings) -> None:
    await Tortoise.init(config=tortoise_config(settings), _enable_global_fallback=True)
    if settings.is_sqlite:
        await _unicode_upper_on_sqlite()


async def prepare_sqlite_connection() -> None:
    """Give the current context's SQLite connection the functions that queries use."""
    await _unicode_upper_on_sqlite()


async def _unicode_upper_on_sqlite() -> None:
    """Replace SQLite's ASCII-only UPPER() with Python's Unicode-aware one.

    Case-insensitive filters compare UPPER() of both sides, so without this a search
    for "müller" would miss "MÜLLER GMBH" on SQLite while PostgreSQL finds it.
    """
    client = connections.get("default")
    await client.create_connection(with_db=True)
    await client._connection.create_function("upper", 1, _upper, deterministic=True)


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


class _SharedConnection(TransactionWrapper):
    """One pooled asyncpg connection that runs each statement in autocommit mode.

    It is Tortoise's transaction client without the transaction: statements on it
    take the connection's lock, and `in_transaction()` inside starts a real one.
    """

    def __init__(self, client: AsyncpgDBClient, connection: Any) -> None:
        super().__init__(client)
        self._connection = connection


@asynccontextmanager
async def shared_connection(name: str = "default") -> AsyncIterator[None]:
    """Send the block's ORM statements over one pooled connection.

    asyncpg's pool resets a connection with a statement of its own each time one is
    released, and Tortoise takes a connection for each statement, so N statements
    cost PostgreSQL 2N round trips and transactions. In this block they cost N + 1.
    Each statement still commits on its own, so use it for reads, and use
    `in_transaction()` where statements must succeed or fail together. On SQLite,
    which has one connection, and inside a transaction, it changes nothing.
    """
    client = connections.get(name)
    pool = getattr(client, "_pool", None)
    if (
        not isinstance(client, AsyncpgDBClient)
        or isinstance(client, TransactionalDBClient)
        or pool is None
    ):
        yield
        return
    connection = await pool.acquire()
    token = connections.set(name, _SharedConnection(client, connection))
    try:
        yield
    finally:
        connections.reset(token)
        await pool.release(connection)


async def disconnect() -> None:
    await Tortoise.close_connections()


def __getattr__(name: str) -> Any:
    # `tortoise -c contractgql.db.TORTOISE_ORM makemigrations` reads the ORM config
    # from this attribute; it is built on access so importing the module reads no
    # environment.
    if name == "TORTOISE_ORM":
        from contractgql.config import load_settings

        return tortoise_config(load_settings())
    raise AttributeError(name)


class Statement:
    """Parameters of one SQL statement, in the placeholder style of its database.

    The batch loaders and the scans write their SQL by hand. With Tortoise,
    building a statement with a 100-id `IN` list took longer than running it, and
    the list made a new statement text for each length, so asyncpg prepared the
    statement again each time.
    """

    def __init__(self, db: BaseDBAsyncClient) -> None:
        dialect = db.capabilities.dialect
        if dialect not in ("postgres", "sqlite"):
            raise NotImplementedError(
                f"Hand-written SQL supports PostgreSQL and SQLite, not {dialect!r}: "
                "configure a postgres:// or sqlite:// database URL."
            )
        self.postgres = dialect == "postgres"
        self.parameters: list[Any] = []

    def parameter(self, value: Any) -> str:
        self.parameters.append(value)
        return f"${len(self.parameters)}" if self.postgres else "?"

    def any_of(self, column: str, ids: Sequence[int]) -> str:
        """Return a condition that `column` is one of `ids`, with one parameter on
        PostgreSQL, so that the statement text does not depend on their number."""
        if self.postgres:
            return f"{column} = ANY({self.parameter(list(ids))})"
        return f"{column} IN ({', '.join(self.parameter(pk) for pk in ids)})"
