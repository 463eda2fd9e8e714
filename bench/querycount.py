"""Count and time the SQL statements that each contracts page request sends.

pg_stat_statements needs `shared_preload_libraries`, which a shared PostgreSQL
server may not have, so the count is taken in-process instead. Both apps are
driven through httpx's ASGI transport, over the same walk of all pages as the load
test. The GraphQL app's statements are taken from Tortoise ORM's
`tortoise.db_client` DEBUG log records, the reference's from its own record.

As a check from the server's side, the transactions that PostgreSQL counted for
the database during the walk (pg_stat_database) are divided by the requests. Each
statement outside a transaction block is one transaction. So is the reset query
(`SELECT pg_advisory_unlock_all(); CLOSE ALL; ...`) that asyncpg's pool sends
whenever a connection goes back to the pool, so this figure also counts those
round trips. Nothing else may use the database meanwhile.

Finally the statements of one request in the middle of the walk are run again
under EXPLAIN ANALYZE, to show what each costs PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg  # type: ignore[import-untyped]
import httpx

from bench.common import (
    BENCH_USER_EMAIL,
    BENCH_USER_PASSWORD,
    CONTRACTS_PAGE_QUERY,
    PAGE_SIZE,
)

logger = logging.getLogger(__name__)

_PARAMETER_LIST = re.compile(r"IN \((?:\$\d+,)+\$\d+\)")
_SQL_VERBS = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")
# Bounds the walk in case a server never reports hasNextPage = false.
MAX_PAGES = 1_000
# The page whose statements are shown and explained: one in the middle of the walk.
SAMPLE_PAGE = 50
# Each statement runs this many times under EXPLAIN ANALYZE, and the minimum counts.
EXPLAIN_RUNS = 3
# PostgreSQL 15 publishes a backend's statistics when it exits or goes idle, not
# at once, so the transaction count is read until it stops changing.
STATS_SETTLE_S = 0.5
STATS_TIMEOUT_S = 10.0

Statement = tuple[str, list[Any]]


@dataclass
class ExplainedStatement:
    sql: str
    planning_ms: float
    execution_ms: float


@dataclass
class QueryCount:
    server: str
    pages: int = 0
    first_page: int = 0
    per_request_mean: float = 0.0
    per_request_min: int = 0
    per_request_max: int = 0
    # Transactions PostgreSQL counted per request, pool resets included.
    transactions_per_request: float = 0.0
    sample_page: int = 0
    # The statements of the sample page's request, in the order they were sent.
    sample: list[ExplainedStatement] = field(default_factory=list)


class _StatementRecorder(logging.Handler):
    """Keep the SQL statements that Tortoise ORM logs, with their arguments."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.statements: list[Statement] = []

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        text = args[0] if args else record.msg
        if isinstance(text, str) and text.lstrip().upper().startswith(_SQL_VERBS):
            values = args[1] if len(args) > 1 else None
            arguments = list(values) if isinstance(values, (list, tuple)) else []
            self.statements.append((text, arguments))


async def _walk(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    statements: Callable[[], list[Statement]],
) -> tuple[QueryCount, list[Statement]]:
    """Walk all pages once and return the counts and the sample page's statements."""
    counts: list[int] = []
    sample: list[Statement] = []
    after: str | None = None
    for page in range(1, MAX_PAGES + 1):
        before = len(statements())
        response = await client.post(
            "/graphql",
            json={
                "query": CONTRACTS_PAGE_QUERY,
                "variables": {"first": PAGE_SIZE, "after": after},
            },
            headers=headers,
        )
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise RuntimeError(
                f"Page {page} failed during the query count: HTTP "
                f"{response.status_code}, {str(body)[:300]}"
            )
        sent = statements()[before:]
        counts.append(len(sent))
        page_info = body["data"]["contracts"]["pageInfo"]
        # A walk shorter than SAMPLE_PAGE pages samples its last page.
        if page == SAMPLE_PAGE or (not sample and not page_info["hasNextPage"]):
            sample = sent
        if not page_info["hasNextPage"]:
            break
        after = page_info["endCursor"]
    count = QueryCount(
        server="",
        pages=len(counts),
        first_page=counts[0],
        per_request_mean=statistics.fmean(counts),
        per_request_min=min(counts),
        per_request_max=max(counts),
        sample_page=min(SAMPLE_PAGE, len(counts)),
    )
    return count, sample


def _shorten(sql: str, width: int = 160) -> str:
    """Return `sql` on one line, with column and parameter lists replaced by counts."""
    text = " ".join(sql.split())
    text = _PARAMETER_LIST.sub(
        lambda match: f"IN (<{match.group(0).count('$')} parameters>)", text
    )
    verb, _, rest = text.partition(" ")
    columns, found, tail = rest.partition(" FROM ")
    if verb.upper() == "SELECT" and found:
        text = f"SELECT <{columns.count(',') + 1} columns> FROM {tail}"
    return text if len(text) <= width else text[: width - 3] + "..."


async def _explain(
    database_url: str, statements: list[Statement]
) -> list[ExplainedStatement]:
    """Run each statement under EXPLAIN ANALYZE and return its fastest timings."""
    connection = await asyncpg.connect(database_url)
    explained = []
    try:
        for sql, values in statements:
            planning: list[float] = []
            execution: list[float] = []
            for _ in range(EXPLAIN_RUNS):
                plan_text = await connection.fetchval(
                    "EXPLAIN (ANALYZE, FORMAT JSON) " + sql, *values
                )
                plan = json.loads(plan_text)[0]
                planning.append(plan["Planning Time"])
                execution.append(plan["Execution Time"])
            explained.append(
                ExplainedStatement(_shorten(sql), min(planning), min(execution))
            )
    finally:
        await connection.close()
    return explained


@asynccontextmanager
async def _transactions(database_url: str) -> AsyncIterator[list[int]]:
    """Yield a list that receives the transactions counted inside the block."""
    parts = urlsplit(database_url)
    database = parts.path.lstrip("/")
    # Read the statistics from another database so that the reads do not count.
    stats_url = parts._replace(path="/postgres").geturl()
    query = (
        "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1"
    )

    async def settled_count() -> int:
        connection = await asyncpg.connect(stats_url)
        try:
            deadline = time.monotonic() + STATS_TIMEOUT_S
            value: int = await connection.fetchval(query, database)
            while time.monotonic() < deadline:
                await asyncio.sleep(STATS_SETTLE_S)
                await connection.execute("SELECT pg_stat_clear_snapshot()")
                latest: int = await connection.fetchval(query, database)
                if latest == value:
                    break
                value = latest
            return value
        finally:
            await connection.close()

    result: list[int] = []
    before = await settled_count()
    yield result
    result.append(await settled_count() - before)


def _client(app: Any) -> httpx.AsyncClient:
    """Return a client that calls `app` in-process, without a socket."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
    )


async def count_graphql(database_url: str) -> QueryCount:
    """Return the statements per request of the GraphQL app, logged in as finance.

    The transaction count also covers the pool's connection set-up and the login,
    about 0.05 per request over 100 pages.
    """
    from contractgql import db
    from contractgql.app import create_app
    from contractgql.config import Settings

    recorder = _StatementRecorder()
    db_logger = logging.getLogger("tortoise.db_client")
    saved_level, saved_propagate = db_logger.level, db_logger.propagate
    with tempfile.TemporaryDirectory(prefix="contractgql-bench-") as data_dir:
        settings = Settings(
            database_url=database_url, secret_key="q" * 48, data_dir=Path(data_dir)
        )
        app = create_app(settings, manage_database=False)
        async with _transactions(database_url) as transactions:
            await db.connect(settings)
            db_logger.addHandler(recorder)
            db_logger.setLevel(logging.DEBUG)
            db_logger.propagate = False
            try:
                async with _client(app) as client:
                    token = await login(client)
                    result, sample = await _walk(
                        client,
                        {"authorization": f"Bearer {token}"},
                        lambda: recorder.statements,
                    )
            finally:
                db_logger.removeHandler(recorder)
                db_logger.setLevel(saved_level)
                db_logger.propagate = saved_propagate
                await db.disconnect()
    result.server = "graphql"
    result.transactions_per_request = transactions[0] / result.pages
    result.sample = await _explain(database_url, sample)
    return result


async def count_reference(database_url: str) -> QueryCount:
    """Return the statements per request of the reference endpoint."""
    from bench.reference import create_app

    app = create_app(database_url)
    service = app.state.service
    service.recorded = []
    async with _transactions(database_url) as transactions:
        await service.start()
        try:
            async with _client(app) as client:
                result, sample = await _walk(client, {}, lambda: service.recorded)
        finally:
            await service.stop()
    result.server = "reference"
    result.transactions_per_request = transactions[0] / result.pages
    result.sample = await _explain(database_url, sample)
    return result


async def login(client: httpx.AsyncClient) -> str:
    """Log the benchmark user in through the GraphQL mutation and return the token."""
    mutation = (
        "mutation Login($email: String!, $password: String!) "
        "{ login(email: $email, password: $password) { token } }"
    )
    response = await client.post(
        "/graphql",
        json={
            "query": mutation,
            "variables": {"email": BENCH_USER_EMAIL, "password": BENCH_USER_PASSWORD},
        },
    )
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(
            f"Login as {BENCH_USER_EMAIL} failed: HTTP {response.status_code}, "
            f"{str(body)[:300]}. Seed the database again (run without --skip-seed)."
        )
    token: str = body["data"]["login"]["token"]
    return token
