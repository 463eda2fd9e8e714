"""FastExecutor returns what strawberry's own executor returns, errors included.

Both executors run the same documents on a small schema. Its fields cover the
executor's short paths and their edge cases: nulls in non-null fields, attributes
that contain an exception or an awaitable, and resolvers that take the source, the
info or nothing, sync and async.
"""

from __future__ import annotations

import enum
from collections.abc import Generator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import strawberry

from contractgql.graphql import execution
from contractgql.graphql.execution import FastExecutor


@strawberry.enum
class Kind(enum.Enum):
    PLAIN = "plain"
    SPECIAL = "special"


class _Later:
    """An awaitable of `value` that, unlike a coroutine, may stay unawaited."""

    def __init__(self, value: str) -> None:
        self.value = value

    def __await__(self) -> Generator[None, None, str]:
        yield from ()
        return self.value


@strawberry.type
class Item:
    name: str
    note: str | None
    amount: Decimal
    day: date
    kind: Kind
    labels: list[str]

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()

    @strawberry.field
    def field_name(self, info: strawberry.Info) -> str:
        return info.field_name

    @strawberry.field
    def source_name(root: Item) -> str:
        return root.name

    @strawberry.field
    async def slow_name(self) -> str:
        return self.name

    @strawberry.field
    def failing(self) -> str | None:
        raise ValueError(f"{self.name} failed")

    @strawberry.field
    def failing_required(self) -> str:
        raise ValueError(f"{self.name} failed hard")

    @strawberry.field
    def child(self) -> Item | None:
        if self.name == "leaf":
            return None
        return _item("leaf")


@strawberry.type
class Holder:
    item: Item | None
    items: list[Item | None]


def _item(name: Any, note: Any = "note") -> Item:
    return Item(
        name=name,
        note=note,
        amount=Decimal("12.50"),
        day=date(2026, 2, 28),
        kind=Kind.SPECIAL,
        labels=["a", "b"],
    )


@strawberry.type
class Query:
    @strawberry.field
    def holder(self) -> Holder:
        broken = _item(None)
        with_error = _item("error", note=ValueError("note failed"))
        awaiting = _item("awaiting", note=_Later("awaited note"))
        return Holder(item=_item("one"), items=[broken, with_error, awaiting])

    @strawberry.field
    def item(self) -> Item:
        return _item(None)


DOCUMENTS = {
    "plain fields": """
      { holder { item { name note amount day kind labels __typename } } }
    """,
    "resolvers": """
      { holder { item {
        shout fieldName sourceName slowName
        renamed: fieldName
        child { name child { name } }
      } } }
    """,
    "errors in list items": "{ holder { items { name note failing } } }",
    "non-null error propagates": "{ holder { items { failingRequired } } }",
    "null at the root": "{ item { name } }",
    "fragments and aliases": """
      query { holder { item { ...Names n: name } } }
      fragment Names on Item { name first: name shout }
    """,
}


def _schema(executor: type[Any] | None) -> strawberry.Schema:
    return strawberry.Schema(query=Query, execution_context_class=executor)


def _outcome(result: Any) -> dict[str, Any]:
    errors = [(error.message, error.path) for error in result.errors or []]
    return {"data": result.data, "errors": sorted(errors, key=str)}


@pytest.mark.parametrize("name", list(DOCUMENTS))
async def test_fast_executor_matches_strawberry(name: str) -> None:
    document = DOCUMENTS[name]

    expected = await _schema(None).execute(document)
    actual = await _schema(FastExecutor).execute(document)

    assert _outcome(actual) == _outcome(expected)


async def test_fast_executor_reports_null_in_non_null_field() -> None:
    result = await _schema(FastExecutor).execute("{ holder { items { name } } }")

    items = [None, {"name": "error"}, {"name": "awaiting"}]
    assert result.data == {"holder": {"items": items}}
    messages = {error.message for error in result.errors or []}
    assert "Cannot return null for non-nullable field Item.name." in messages


async def test_fast_executor_completes_awaitable_attribute() -> None:
    result = await _schema(FastExecutor).execute("{ holder { items { note } } }")

    assert result.data is not None
    assert result.data["holder"]["items"][2] == {"note": "awaited note"}


async def test_fast_executor_takes_short_paths() -> None:
    schema = _schema(FastExecutor)

    result = await schema.execute("{ holder { item { name shout fieldName } } }")

    assert result.errors is None
    item_type = schema._schema.type_map["Item"]
    assert execution._leaf_fields[item_type]["name"] is not None
    assert execution._resolver_fields[item_type]["shout"] is not None
    assert execution._resolver_fields[item_type]["fieldName"] is not None
