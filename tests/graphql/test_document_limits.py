"""Limits on a request's document, and the cache of parsed and validated documents.

Each document is sent twice, because the second request is served from the cache
of parsed and validated documents and must be rejected the same way.
"""

from __future__ import annotations

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


async def test_query_too_deep_rejected(api: Api) -> None:
    errors = await _errors_twice(api, _nested_contracts(MAX_DEPTH // 4 + 1))

    assert len(errors) == 1
    message = str(errors[0]["message"])
    assert message == f"'Nested' exceeds maximum operation depth of {MAX_DEPTH}"
    assert errors[0]["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}


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
    assert errors[0]["message"] == f"{count} aliases found. Allowed: {MAX_ALIASES}"
    assert errors[0]["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}


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
