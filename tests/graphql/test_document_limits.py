"""Limits on a request's document, and the cache of parsed and validated documents.

Each document is sent twice, because the second request is served from the cache
of parsed and validated documents and must be rejected the same way.
"""

from __future__ import annotations

import time

import pytest

from contractgql.graphql.schema import (
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_TOKENS,
    _CachedDocument,
    _DocumentCache,
)
from graphql import GraphQLError, parse
from tests.conftest import Api

VIEWER_ROLES = "query Roles { viewer { roles } }"


def _nested_contracts(levels: int) -> str:
    """Return a query whose contracts nest `levels` times, four fields per level."""
    selection = "id"
    for _ in range(levels):
        selection = f"contracts {{ edges {{ node {{ client {{ {selection} }} }} }} }}"
    return f"query Nested {{ {selection} }}"


async def _errors_twice(api: Api, query: str) -> list[dict[str, object]]:
    first = await api.post(query, role="admin")
    second = await api.post(query, role="admin")
    assert first == second
    assert first.get("data") is None
    errors: list[dict[str, object]] = first["errors"]
    return errors


def _too_deep(operation: str, depth: int) -> str:
    return (
        f"{operation} is nested {depth} levels deep, more than the maximum of "
        f"{MAX_DEPTH}: select fewer levels of nested fields, and fetch deeper "
        "records with a separate query."
    )


def _too_many_aliases(count: int) -> str:
    return (
        f"The document contains {count} aliased fields, more than the maximum of "
        f"{MAX_ALIASES}: request fewer aliased fields, or split them over several "
        "requests. The aliases in a fragment count once for each spread of the "
        "fragment."
    )


async def test_query_too_deep_rejected(api: Api) -> None:
    levels = MAX_DEPTH // 4 + 1

    errors = await _errors_twice(api, _nested_contracts(levels))

    assert len(errors) == 1
    assert errors[0]["message"] == _too_deep("Operation 'Nested'", 4 * levels)
    assert errors[0]["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}


async def test_depth_counts_through_fragments(api: Api) -> None:
    # A, B and D add four levels each and C adds three: 15 in all.
    query = """
    query { ...A }
    fragment A on Query { contracts { edges { node { client { ...B } } } } }
    fragment B on Client { contracts { edges { node { client { ...C } } } } }
    fragment C on Client { contracts { edges { node { ... on Contract { ...D } } } } }
    fragment D on Contract { client { contracts { edges { node { id } } } } }
    """

    errors = await _errors_twice(api, query)

    assert [error["message"] for error in errors] == [
        _too_deep("The anonymous operation", 15)
    ]


async def test_query_within_depth_accepted(api: Api) -> None:
    query = _nested_contracts(MAX_DEPTH // 4 - 1)

    first = await api.data(query)
    second = await api.data(query)

    assert first == second == {"contracts": {"edges": []}}


async def test_too_many_aliases_rejected(api: Api) -> None:
    count = MAX_ALIASES + 1
    aliases = " ".join(f"a{index}: viewer {{ roles }}" for index in range(count))

    errors = await _errors_twice(api, f"query Aliases {{ {aliases} }}")

    assert len(errors) == 1
    assert errors[0]["message"] == _too_many_aliases(count)
    assert errors[0]["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}


async def test_aliases_within_limit_accepted(api: Api) -> None:
    aliases = " ".join(f"a{index}: __typename" for index in range(MAX_ALIASES))

    data = await api.data(f"query Aliases {{ {aliases} }}")

    assert len(data) == MAX_ALIASES


async def test_fragment_aliases_count_per_spread(api: Api) -> None:
    # 8 aliases, spread 4 times.
    aliases = " ".join(f"a{index}: __typename" for index in range(8))
    query = f"""
    query Spread {{ ...Eight ... on Query {{ ...Eight }} viewer {{ roles }} ...Eight
                    ...Eight }}
    fragment Eight on Query {{ {aliases} }}
    """

    errors = await _errors_twice(api, query)

    assert [error["message"] for error in errors] == [_too_many_aliases(32)]


async def test_nested_fragment_aliases_multiply(api: Api) -> None:
    # The operation spreads Outer twice, Outer spreads Middle twice and Middle
    # spreads Inner twice: 2 × 2 × 2 × 4 aliases.
    query = """
    query Nested { ...Outer ...Outer }
    fragment Outer on Query { ...Middle ...Middle }
    fragment Middle on Query { ...Inner ...Inner }
    fragment Inner on Query { a: __typename b: __typename c: __typename d: __typename }
    """

    errors = await _errors_twice(api, query)

    assert [error["message"] for error in errors] == [_too_many_aliases(32)]


async def test_aliases_of_several_operations_add_up(api: Api) -> None:
    first = " ".join(f"a{index}: __typename" for index in range(20))
    second = " ".join(f"b{index}: __typename" for index in range(20))
    document = f"query First {{ {first} }} query Second {{ {second} }}"

    response = await api.client.post(
        "/graphql", json={"query": document, "operationName": "First"}
    )

    errors = response.json()["errors"]
    assert [error["message"] for error in errors] == [_too_many_aliases(40)]


async def test_fragment_bomb_rejected_quickly(api: Api) -> None:
    # Each of 60 fragments spreads the next one twice, so expanding every spread
    # would visit 2 ** 60 aliases. strawberry's limiters (0.341) did that, and took
    # 25 s for 22 fragments.
    count = 60
    fragments = " ".join(
        f"fragment F{index} on Query {{ ...F{index + 1} ...F{index + 1} }}"
        for index in range(count)
    )
    last = f"fragment F{count} on Query {{ a: __typename }}"
    query = f"query Bomb {{ ...F0 }} {fragments} {last}"

    started = time.monotonic()
    errors = await _errors_twice(api, query)
    elapsed = time.monotonic() - started

    assert [error["message"] for error in errors] == [_too_many_aliases(2**count)]
    assert elapsed < 5


async def test_too_many_tokens_rejected(api: Api) -> None:
    roles = " ".join(["roles"] * MAX_TOKENS)

    errors = await _errors_twice(api, f"query Tokens {{ viewer {{ {roles} }} }}")

    assert len(errors) == 1
    message = str(errors[0]["message"])
    assert f"more than {MAX_TOKENS} tokens" in message
    assert errors[0]["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}


async def test_unknown_field_rejected_twice(api: Api) -> None:
    errors = await _errors_twice(api, "query Unknown { viewer { salary } }")

    assert len(errors) == 1
    assert "salary" in str(errors[0]["message"])
    assert errors[0]["locations"] == [{"line": 1, "column": 26}]


async def test_cached_document_serves_each_caller(api: Api) -> None:
    admin = await api.data(VIEWER_ROLES, role="admin")
    sales = await api.data(VIEWER_ROLES, role="sales")

    assert admin == {"viewer": {"roles": ["admin"]}}
    assert sales == {"viewer": {"roles": ["sales"]}}


def _entry(size: int) -> _CachedDocument:
    return _CachedDocument(parse("{ viewer { roles } }"), (), size)


def test_document_cache_evicts_least_recently_used() -> None:
    cache = _DocumentCache(max_bytes=100)
    cache.put("a", _entry(40))
    cache.put("b", _entry(40))
    assert cache.get("a") is not None

    cache.put("c", _entry(40))

    assert cache.get("a") is not None
    assert cache.get("b") is None
    assert cache.get("c") is not None
    assert cache.size == 80


def test_document_cache_skips_entry_over_budget() -> None:
    cache = _DocumentCache(max_bytes=100)
    cache.put("a", _entry(40))

    cache.put("huge", _entry(101))

    assert cache.get("huge") is None
    assert cache.get("a") is not None
    assert cache.size == 40


@pytest.mark.parametrize("size", [0, 100])
def test_document_cache_keeps_errors(size: int) -> None:
    cache = _DocumentCache(max_bytes=100)
    error = GraphQLError("Cannot query field 'salary' on type 'Viewer'.")
    cache.put("q", _CachedDocument(parse("{ viewer { salary } }"), (error,), size))

    entry = cache.get("q")

    assert entry is not None
    assert entry.errors == (error,)
