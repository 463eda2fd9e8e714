"""Relay building blocks: the Node interface, cursors and forward pagination.

Cursors name a sort order and the primary key of the row they point at, never a
field value, so a cursor cannot leak a value the caller may not read. Paging after a
cursor looks up that row's sort value on the server.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import strawberry
from tortoise.expressions import Q
from tortoise.functions import Lower
from tortoise.queryset import QuerySet

from contractgql.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 20
NodeT = TypeVar("NodeT")


@strawberry.interface(description="An object with a globally unique, opaque id.")
class Node:
    id: strawberry.ID


@strawberry.type(description="Position information for cursor pagination.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type(description="A node of a connection and the cursor that points at it.")
class Edge(Generic[NodeT]):
    cursor: str
    node: NodeT


@strawberry.type(description="A page of nodes with cursors, in the requested order.")
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    nodes: list[NodeT]
    page_info: PageInfo
    count_query: strawberry.Private[QuerySet[Any]]

    @strawberry.field(
        description="Number of nodes that match the filter, on all pages."
    )
    async def total_count(self) -> int:
        return int(await self.count_query.count())


@dataclass(frozen=True)
class SortKey:
    """How one sort order maps onto the database: a column or lower-cased text."""

    name: str
    column: str
    nullable: bool = False
    case_insensitive: bool = False


def _annotations(key: SortKey) -> dict[str, Any]:
    if key.case_insensitive or "__" in key.column:
        value: Any = Lower(key.column) if key.case_insensitive else key.column
        return {"sort_value": value}
    return {}


def _value_field(key: SortKey) -> str:
    return "sort_value" if key.case_insensitive or "__" in key.column else key.column


def encode_cursor(key: SortKey, descending: bool, pk: int) -> str:
    raw = f"v1:{key.name}:{'d' if descending else 'a'}:{pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, key: SortKey, descending: bool) -> int:
    """Return the primary key a cursor points at; reject a cursor of another order."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, name, direction, pk = raw.split(":")
        if version != "v1" or direction not in ("a", "d"):
            raise ValueError(version)
        parsed_pk = int(pk)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidArgument(
            f"Cursor {cursor!r} is invalid: pass an `endCursor` or edge `cursor` "
            "from an earlier page of the same query."
        ) from None
    if name != key.name or (direction == "d") != descending:
        raise InvalidArgument(
            f"Cursor {cursor!r} belongs to another sort order: page with the same "
            "orderBy that produced it, or start again without `after`."
        )
    return parsed_pk


# Maximum search length: longer patterns cost the database without finding more.
MAX_SEARCH_LENGTH = 200


def search_text(search: str | None) -> str | None:
    """Return the trimmed search text, or None; reject text no record could match."""
    if search is None or not search.strip():
        return None
    text = search.strip()
    if len(text) > MAX_SEARCH_LENGTH or "\x00" in text:
        raise InvalidArgument(
            f"The search text is {len(text)} characters long or contains a NUL "
            f"character: search for at most {MAX_SEARCH_LENGTH} characters of "
            "plain text."
        )
    return text


def check_page_size(first: int | None, max_page_size: int) -> int:
    if first is None:
        return min(DEFAULT_PAGE_SIZE, max_page_size)
    if first < 0 or first > max_page_size:
        raise InvalidArgument(
            f"first={first} is out of range: request from 0 to {max_page_size} "
            "nodes per page and fetch more pages with `after`."
        )
    return first


async def paginate(
    query: QuerySet[Any],
    anchor_scope: QuerySet[Any],
    *,
    key: SortKey,
    descending: bool,
    first: int | None,
    after: str | None,
    max_page_size: int,
    columns: Sequence[str],
    build: Callable[[list[dict[str, Any]]], Awaitable[list[Any]]],
) -> Connection[Any]:
    """Fetch one page of `query` as value dicts and turn it into a connection.

    `anchor_scope` is the query without filters: the row a cursor points at must be
    visible to the caller but need not match the filter any more.

    Rows without a sort value come last in both directions, and ties are broken by
    id in the same direction. A page takes one statement, plus one to look up the
    row that the cursor points at, plus one for a nullable key when the page runs
    from the rows with a value into those without.
    """
    limit = check_page_size(first, max_page_size)
    annotations = _annotations(key)
    count_query = query
    page = query.annotate(**annotations) if annotations else query

    anchor = None
    if after is not None:
        anchor_pk = decode_cursor(after, key, descending)
        anchor = await _anchor(anchor_scope, key, anchor_pk)

    if key.nullable:
        rows = await _nullable_key_rows(
            page, key, descending, anchor, limit + 1, columns
        )
    else:
        if anchor is not None:
            page = page.filter(_after_value(key, descending, anchor))
        rows = await (
            page.order_by(*_order(key, descending)).limit(limit + 1).values(*columns)
        )
    has_next = len(rows) > limit
    rows = rows[:limit]
    nodes = await build(rows)

    edges = [
        Edge(cursor=encode_cursor(key, descending, row["id"]), node=node)
        for row, node in zip(rows, nodes, strict=True)
    ]
    return Connection(
        edges=edges,
        nodes=nodes,
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        count_query=count_query,
    )


@dataclass(frozen=True)
class _Anchor:
    """The row a cursor points at: its primary key and its sort value."""

    pk: int
    value: Any


def _order(key: SortKey, descending: bool) -> list[str]:
    sign = "-" if descending else ""
    return [sign + _value_field(key), sign + "id"]


async def _anchor(scope: QuerySet[Any], key: SortKey, anchor_pk: int) -> _Anchor:
    annotations = _annotations(key)
    anchor_query = scope.annotate(**annotations) if annotations else scope
    field = _value_field(key)
    anchors = await anchor_query.filter(id=anchor_pk).values(field)
    if not anchors:
        raise InvalidArgument(
            "The cursor points at a record that no longer exists or that you can no "
            "longer see: start again without `after`."
        )
    return _Anchor(anchor_pk, anchors[0][field])


def _after_value(key: SortKey, descending: bool, anchor: _Anchor) -> Q:
    """Return the condition for rows after a non-null anchor in the sort order.

    Besides the exact keyset condition it bounds the value on its own, so that an
    index on the sort column can seek to the anchor instead of reading from the
    first row.
    """
    field = _value_field(key)
    compare = "lt" if descending else "gt"
    bound = "lte" if descending else "gte"
    after_value = Q(**_lookup(f"{field}__{compare}", anchor.value)) | (
        Q(**_lookup(field, anchor.value)) & Q(**_lookup(f"id__{compare}", anchor.pk))
    )
    return Q(**_lookup(f"{field}__{bound}", anchor.value)) & after_value


async def _nullable_key_rows(
    page: QuerySet[Any],
    key: SortKey,
    descending: bool,
    anchor: _Anchor | None,
    count: int,
    columns: Sequence[str],
) -> list[dict[str, Any]]:
    """Return up to `count` rows after the anchor, those without a value last.

    Ordering on `column IS NULL` first would put the nulls last in one statement, but
    no index serves that expression, so the database would sort every row. Instead
    the rows with a value come from one statement in index order, and the rows
    without a value, ordered by id, from a second one when the first falls short.
    """
    sign = "-" if descending else ""
    rows: list[dict[str, Any]] = []
    if anchor is None or anchor.value is not None:
        valued = page.filter(**_lookup(f"{key.column}__isnull", False))
        if anchor is not None:
            valued = valued.filter(_after_value(key, descending, anchor))
        rows = await (
            valued.order_by(*_order(key, descending)).limit(count).values(*columns)
        )
    if len(rows) < count:
        nulls = page.filter(**_lookup(f"{key.column}__isnull", True))
        # After a row with a value all rows without one follow. After a row without
        # one, those with a larger id follow (a smaller one when descending).
        if anchor is not None and anchor.value is None:
            compare = "lt" if descending else "gt"
            nulls = nulls.filter(**_lookup(f"id__{compare}", anchor.pk))
        rows += await (
            nulls.order_by(sign + "id").limit(count - len(rows)).values(*columns)
        )
    return rows


def _lookup(name: str, value: Any) -> dict[str, Any]:
    return {name: value}
