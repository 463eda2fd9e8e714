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
from tortoise.expressions import Case, Q, When
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
    value: Any = Lower(key.column) if key.case_insensitive else key.column
    annotations: dict[str, Any] = {}
    if key.case_insensitive or "__" in key.column:
        annotations["sort_value"] = value
    if key.nullable:
        annotations["sort_null"] = Case(
            When(**{f"{key.column}__isnull": True}, then="1"), default="0"
        )
    return annotations


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
        if version != "v1":
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
    """
    limit = check_page_size(first, max_page_size)
    annotations = _annotations(key)
    count_query = query
    page = query.annotate(**annotations) if annotations else query

    if after is not None:
        anchor_pk = decode_cursor(after, key, descending)
        page = page.filter(await _after(anchor_scope, key, descending, anchor_pk))

    order = _order(key, descending)
    rows = await page.order_by(*order).limit(limit + 1).values(*columns)
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


def _order(key: SortKey, descending: bool) -> list[str]:
    sign = "-" if descending else ""
    order = ["sort_null"] if key.nullable else []
    order.append(sign + _value_field(key))
    order.append(sign + "id")
    return order


async def _after(
    scope: QuerySet[Any], key: SortKey, descending: bool, anchor_pk: int
) -> Q:
    annotations = _annotations(key)
    anchor_query = scope.annotate(**annotations) if annotations else scope
    anchors = await anchor_query.filter(id=anchor_pk).values(_value_field(key))
    if not anchors:
        raise InvalidArgument(
            "The cursor points at a record that no longer exists or that you can no "
            "longer see: start again without `after`."
        )

    value = anchors[0][_value_field(key)]
    field = _value_field(key)
    compare = "lt" if descending else "gt"
    id_after = Q(**_lookup(f"id__{compare}", anchor_pk))
    if key.nullable and value is None:
        return Q(sort_null="1") & id_after

    after_value = Q(**_lookup(f"{field}__{compare}", value)) | (
        Q(**_lookup(field, value)) & id_after
    )
    if key.nullable:
        return (Q(sort_null="0") & after_value) | Q(sort_null="1")
    return after_value


def _lookup(name: str, value: Any) -> dict[str, Any]:
    return {name: value}
