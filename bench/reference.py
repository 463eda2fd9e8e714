"""A bare Starlette endpoint that serves the contracts page from hand-written SQL.

It is the yardstick for the GraphQL server. For the same request body it returns
the same JSON document (`{"data": {"contracts": ...}}`, with the same ids, cursors
and values). Its SQL reads the row that the cursor points at, the page with its
client and owner joined in, and the tags of the page's contracts. A page that
reaches the contracts without an end date takes one more statement, and the first
page needs no cursor row.

It serves one organization, read at start, and skips authentication. It does not
verify the bearer token, load the user or resolve permissions, so it measures the
data path alone. It accepts only the contracts page query with `first` and
`after` variables and ignores the query text.

Run it with BENCH_DATABASE_URL set:
    uvicorn --factory bench.reference:create_app_from_env --port 8001
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg  # type: ignore[import-untyped]
from babel.numbers import get_currency_precision
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.common import (
    ORGANIZATION_NAME,
    decode_end_date_cursor,
    encode_end_date_cursor,
    encode_global_id,
)

logger = logging.getLogger(__name__)

# The app's default page size limit (Settings.max_page_size).
MAX_PAGE_SIZE = 100
# The same pool size as Tortoise ORM 1.1.9's asyncpg default (at most 5).
POOL_MIN_SIZE = 1
POOL_MAX_SIZE = 5

_PAGE_COLUMNS = """
    c.id, c.number, c.name, c.stage, c.start_date, c.end_date, c.notice_deadline,
    c.amount_minor, c.currency, c.client_id, cl.name AS client_name,
    c.owner_id, u.name AS owner_name
"""
_PAGE_JOINS = """
    JOIN clients cl ON cl.id = c.client_id AND cl.organization_id = c.organization_id
    LEFT JOIN users u ON u.id = c.owner_id AND u.organization_id = c.organization_id
"""
# Contracts without an end date come last, as in the app's END_DATE order.
FIRST_PAGE_SQL = f"""
SELECT {_PAGE_COLUMNS}
FROM contracts c {_PAGE_JOINS}
WHERE c.organization_id = $1 AND c.archived_at IS NULL
ORDER BY c.end_date ASC NULLS LAST, c.id ASC
LIMIT $2
"""
# The anchor is the row a cursor points at. It need not match the filter any more
# (it may have been archived since), only belong to the organization.
ANCHOR_SQL = "SELECT end_date FROM contracts WHERE organization_id = $1 AND id = $2"
# Keyset pagination after an anchor with an end date. The OR condition alone cannot
# bound an index scan, so the redundant `end_date >= $2` lets the
# (organization_id, end_date) index seek to the anchor instead of reading from the
# first row.
DATED_AFTER_SQL = f"""
SELECT {_PAGE_COLUMNS}
FROM contracts c {_PAGE_JOINS}
WHERE c.organization_id = $1 AND c.archived_at IS NULL
  AND c.end_date >= $2 AND (c.end_date > $2 OR c.id > $3)
ORDER BY c.end_date ASC, c.id ASC
LIMIT $4
"""
# The open-ended contracts that follow the anchor: all of them after a dated anchor
# ($2 = 0), those with a larger id after an open-ended anchor.
OPEN_ENDED_AFTER_SQL = f"""
SELECT {_PAGE_COLUMNS}
FROM contracts c {_PAGE_JOINS}
WHERE c.organization_id = $1 AND c.archived_at IS NULL
  AND c.end_date IS NULL AND c.id > $2
ORDER BY c.id ASC
LIMIT $3
"""
TAGS_SQL = """
SELECT ct.contracts_id, t.id, t.name, t.color
FROM contract_tags ct JOIN tags t ON t.id = ct.tag_id
WHERE ct.contracts_id = ANY($1::bigint[])
  AND t.organization_id = $2 AND t.archived_at IS NULL
ORDER BY t.name, t.id
"""


class ReferenceService:
    """The connection pool and the organization that the endpoint serves."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.pool: asyncpg.Pool | None = None
        self.organization_id = 0
        self.timezone = ZoneInfo("UTC")
        # Statements sent to PostgreSQL, read by the in-process query count, which
        # also sets `recorded` to a list to keep each statement with its arguments.
        self.query_count = 0
        self.recorded: list[tuple[str, list[Any]]] | None = None

    async def start(self) -> None:
        self.pool = await asyncpg.create_pool(
            self.dsn, min_size=POOL_MIN_SIZE, max_size=POOL_MAX_SIZE
        )
        row = await self.pool.fetchrow(
            "SELECT id, timezone FROM organizations WHERE name = $1", ORGANIZATION_NAME
        )
        if row is None:
            raise RuntimeError(
                f"Organization {ORGANIZATION_NAME!r} not found: seed the database "
                "with `python -m bench` first."
            )
        self.organization_id = row["id"]
        self.timezone = ZoneInfo(row["timezone"])

    async def stop(self) -> None:
        if self.pool is not None:
            await self.pool.close()
            self.pool = None

    async def contracts_page(self, first: int, after: str | None) -> dict[str, Any]:
        """Return the `data` of a contracts page, or raise ValueError for bad input."""
        if self.pool is None:
            raise RuntimeError("ReferenceService.start() was not awaited.")
        organization_id = self.organization_id
        anchor_pk = None
        if after is not None:
            anchor_pk = decode_end_date_cursor(after)
            if anchor_pk is None:
                raise ValueError(f"Cursor {after!r} is invalid.")

        async with self.pool.acquire() as connection:
            rows = await self._page_rows(connection, first + 1, anchor_pk)
            if rows is None:
                raise ValueError(f"Cursor {after!r} points at a missing record.")
            has_next = len(rows) > first
            rows = rows[:first]
            tags: dict[int, list[dict[str, Any]]] = {row["id"]: [] for row in rows}
            if rows:
                tag_rows = await self._fetch(
                    connection, TAGS_SQL, list(tags), organization_id
                )
                for tag in tag_rows:
                    tags[tag["contracts_id"]].append(
                        {
                            "id": encode_global_id("Tag", tag["id"]),
                            "name": tag["name"],
                            "color": tag["color"],
                        }
                    )

        today = datetime.now(self.timezone).date()
        edges = [
            {
                "cursor": encode_end_date_cursor(row["id"]),
                "node": _contract(row, tags[row["id"]], today),
            }
            for row in rows
        ]
        return {
            "contracts": {
                "pageInfo": {
                    "hasNextPage": has_next,
                    "endCursor": edges[-1]["cursor"] if edges else None,
                },
                "edges": edges,
            }
        }

    async def _page_rows(
        self, connection: asyncpg.Connection, limit: int, anchor_pk: int | None
    ) -> list[asyncpg.Record] | None:
        """Return up to `limit` rows after the anchor, or None if it does not exist."""
        organization_id = self.organization_id
        if anchor_pk is None:
            return await self._fetch(connection, FIRST_PAGE_SQL, organization_id, limit)

        anchors = await self._fetch(connection, ANCHOR_SQL, organization_id, anchor_pk)
        if not anchors:
            return None
        anchor_end: date | None = anchors[0]["end_date"]
        rows: list[asyncpg.Record] = []
        if anchor_end is not None:
            rows = await self._fetch(
                connection,
                DATED_AFTER_SQL,
                organization_id,
                anchor_end,
                anchor_pk,
                limit,
            )
        if len(rows) < limit:
            rows += await self._fetch(
                connection,
                OPEN_ENDED_AFTER_SQL,
                organization_id,
                anchor_pk if anchor_end is None else 0,
                limit - len(rows),
            )
        return rows

    async def _fetch(
        self, connection: asyncpg.Connection, sql: str, *args: Any
    ) -> list[asyncpg.Record]:
        self.query_count += 1
        if self.recorded is not None:
            self.recorded.append((sql, list(args)))
        return list(await connection.fetch(sql, *args))


def _contract(
    row: asyncpg.Record, tags: list[dict[str, Any]], today: date
) -> dict[str, Any]:
    end: date | None = row["end_date"]
    deadline: date | None = row["notice_deadline"]
    amount_minor: int | None = row["amount_minor"]
    owner_id: int | None = row["owner_id"]
    return {
        "id": encode_global_id("Contract", row["id"]),
        "number": row["number"],
        "name": row["name"],
        "status": _status(row["stage"], row["start_date"], end, today),
        "startDate": row["start_date"].isoformat(),
        "endDate": end.isoformat() if end else None,
        "noticeDeadline": deadline.isoformat() if deadline else None,
        "amount": (
            None
            if amount_minor is None
            else str(Decimal(amount_minor).scaleb(-_exponent(row["currency"])))
        ),
        "currency": row["currency"],
        "client": {
            "id": encode_global_id("Client", row["client_id"]),
            "name": row["client_name"],
        },
        "owner": (
            None
            if owner_id is None
            else {"id": encode_global_id("User", owner_id), "name": row["owner_name"]}
        ),
        "tags": tags,
    }


def _status(stage: str, start: date, end: date | None, today: date) -> str:
    """Return the GraphQL ContractStatus name, with the end date inclusive."""
    if stage == "draft":
        return "DRAFT"
    if stage == "cancelled":
        return "CANCELLED"
    if start > today:
        return "UPCOMING"
    if end is not None and end < today:
        return "EXPIRED"
    return "ACTIVE"


@functools.cache
def _exponent(currency: str) -> int:
    return int(get_currency_precision(currency))


def _error(message: str, status: int = 200) -> JSONResponse:
    return JSONResponse({"data": None, "errors": [{"message": message}]}, status)


def create_app(dsn: str) -> Starlette:
    """Build the reference app, whose lifespan opens and closes the pool."""
    service = ReferenceService(dsn)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    async def graphql(request: Request) -> JSONResponse:
        try:
            body = await request.json()
            variables = body.get("variables") or {}
            first = variables["first"]
            after = variables.get("after")
        except (json.JSONDecodeError, AttributeError, KeyError, TypeError):
            return _error(
                'The body is invalid: send {"query": ..., "variables": '
                '{"first": N, "after": cursor}}.',
                400,
            )
        if not isinstance(first, int) or not 0 <= first <= MAX_PAGE_SIZE:
            return _error(f"first={first!r} is out of range: use 0 to {MAX_PAGE_SIZE}.")
        try:
            data = await service.contracts_page(first, after)
        except ValueError as error:
            return _error(str(error))
        return JSONResponse({"data": data})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["POST"]),
            Route("/health", health),
        ],
        lifespan=lifespan,
    )
    app.state.service = service
    return app


def create_app_from_env() -> Starlette:
    """Build the app for `uvicorn --factory`, from BENCH_DATABASE_URL."""
    dsn = os.environ.get("BENCH_DATABASE_URL")
    if not dsn:
        raise RuntimeError(
            "BENCH_DATABASE_URL is not set: set it to the benchmark database, e.g. "
            "postgres://postgres@127.0.0.1:5432/contractgql_bench."
        )
    return create_app(dsn)
