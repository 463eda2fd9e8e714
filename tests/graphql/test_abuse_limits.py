"""Limits against abusive requests: query cost, body size, introspection, suggestions,
and the transports that /graphql does not serve: batches, websockets other than
graphql-transport-ws, and subscriptions over HTTP.

The expected costs are worked out by hand in the comments, from the rules in
contractgql.graphql.limits: each field costs 1, a connection multiplies the cost of
its `edges` and `nodes` by its page size, and any other list multiplies the cost of
its selections by LIST_SIZE_ESTIMATE (10).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from bench.common import CONTRACTS_PAGE_QUERY
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from contractgql.app import create_app
from contractgql.config import ConfigError, Settings, load_settings
from graphql import (
    FieldNode,
    OperationDefinitionNode,
    get_introspection_query,
    parse,
    print_ast,
)
from tests.conftest import Api, QueryCounter, Tenant

MAX_COST = Settings().max_query_cost
MAX_BODY = Settings().max_body_bytes

# clients: 1 + clients.nodes (1 + 100 × contracts), where contracts is
# 1 + contracts.nodes (1 + 100 × notes) and notes is 1 + 10 × id.
THREE_LEVELS = """
query ThreeLevels {
  clients(first: 100) { nodes { contracts(first: 100) { nodes { notes { id } } } } }
}
"""
THREE_LEVELS_COST = 1 + 1 + 100 * (1 + 1 + 100 * (1 + 10 * 1))

THREE_LEVELS_VARIABLES = """
query ThreeLevels($clients: Int, $contracts: Int) {
  clients(first: $clients) {
    nodes { contracts(first: $contracts) { nodes { notes { id } } } }
  }
}
"""
THREE_LEVELS_DEFAULTS = """
query ThreeLevels($clients: Int = 100, $contracts: Int = 100) {
  clients(first: $clients) {
    nodes { contracts(first: $contracts) { nodes { notes { id } } } }
  }
}
"""
THREE_LEVELS_FRAGMENTS = """
query ThreeLevels { clients(first: 100) { ...ClientPage } }
fragment ClientPage on ClientConnection { nodes { ...ClientContracts } }
fragment ClientContracts on Client {
  contracts(first: 100) { ... on ContractConnection { nodes { ...ContractNotes } } }
}
fragment ContractNotes on Contract { notes { id } }
"""
THREE_LEVELS_INLINE = """
query ThreeLevels {
  ... on Query {
    clients(first: 100) {
      ... on ClientConnection {
        nodes { ... on Client { contracts(first: 100) { nodes { notes { id } } } } }
      }
    }
  }
}
"""

# Both aliases spread the same fragment, so the fragment counts twice:
# 2 × (1 + 1 + 60 × (1 + 1 + 60 × 1)).
TWO_ALIASES_OF_FRAGMENT = """
query Twice { a: clients(first: 60) { ...Page } b: clients(first: 60) { ...Page } }
fragment Page on ClientConnection {
  nodes { contracts(first: 60) { nodes { id } } }
}
"""
TWO_ALIASES_OF_FRAGMENT_COST = 2 * (1 + 1 + 60 * (1 + 1 + 60 * 1))

TOO_COMPLEX_FIX = (
    "request smaller pages with `first`, fewer nested lists or fewer fields, or "
    "split the query into several requests."
)
LOGIN_FIX = (
    "call the login mutation and send its token as 'Authorization: Bearer <token>'."
)
INTROSPECTION_MESSAGE = (
    "Introspection with __schema or __type is available to logged-in callers only: "
    + LOGIN_FIX
)


def _too_complex(cost: int, maximum: int = MAX_COST) -> str:
    return (
        f"The query's estimated cost is {cost}, more than the maximum of {maximum}: "
        + TOO_COMPLEX_FIX
    )


def _only_error(body: dict[str, Any]) -> dict[str, Any]:
    assert body.get("data") is None, body
    errors: list[dict[str, Any]] = body["errors"]
    assert len(errors) == 1, errors
    return errors[0]


@asynccontextmanager
async def _client_with(
    settings: Settings, **changes: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """Yield an HTTP client of an app whose settings differ by `changes`."""
    app = create_app(dataclasses.replace(settings, **changes), manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


# Query cost


async def test_three_level_nesting_rejected(
    api: Api, count_queries: QueryCounter
) -> None:
    error = _only_error(await api.post(THREE_LEVELS, role="admin"))

    assert THREE_LEVELS_COST == 110_202
    assert error["message"] == _too_complex(THREE_LEVELS_COST)
    assert error["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "cost": THREE_LEVELS_COST,
        "maxCost": MAX_COST,
    }
    # Rejected before execution: not one client, contract or note was read.
    read = [s for s in count_queries.statements if '"clients"' in s]
    assert read == []


async def test_small_pages_accepted(api: Api, count_queries: QueryCounter) -> None:
    variables = {"clients": 2, "contracts": 2}

    data = await api.data(THREE_LEVELS_VARIABLES, variables)

    assert data == {"clients": {"nodes": []}}
    assert [s for s in count_queries.statements if '"clients"' in s] != []


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (THREE_LEVELS_VARIABLES, {"clients": 100, "contracts": 100}),
        (THREE_LEVELS_DEFAULTS, {}),
        (THREE_LEVELS_FRAGMENTS, {}),
        (THREE_LEVELS_INLINE, {}),
    ],
    ids=["variables", "variable-defaults", "named-fragments", "inline-fragments"],
)
async def test_cost_counts_variables_and_fragments(
    api: Api, query: str, variables: dict[str, Any]
) -> None:
    error = _only_error(await api.post(query, variables, role="admin"))

    assert error["message"] == _too_complex(THREE_LEVELS_COST)
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"


async def test_fragment_counts_at_each_spread(
    settings: Settings, tenant: Tenant
) -> None:
    assert TWO_ALIASES_OF_FRAGMENT_COST == 7_444
    limit = TWO_ALIASES_OF_FRAGMENT_COST - 1

    async with _client_with(settings, max_query_cost=limit) as client:
        body = await Api(client, tenant).post(TWO_ALIASES_OF_FRAGMENT, role="admin")

    error = _only_error(body)
    assert error["message"] == _too_complex(TWO_ALIASES_OF_FRAGMENT_COST, limit)


async def test_omitted_first_counts_default_page(api: Api) -> None:
    # Without `first` a connection returns 20 nodes: 1 + 1 + 20 × (2 + 20 × 11).
    query = "query { clients { nodes { contracts { nodes { notes { id } } } } } }"

    data = await api.data(query)

    assert data == {"clients": {"nodes": []}}


async def test_first_over_page_size_gets_range_error(api: Api) -> None:
    # The estimate counts the largest page, so the resolver's clearer error shows.
    error = await api.error("query { contracts(first: 1000) { nodes { id } } }")

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith("first=1000 is out of range")


async def test_contracts_page_cost_at_limit(settings: Settings, tenant: Tenant) -> None:
    # The front end's page: contracts is 1 + pageInfo 3 + edges (1 + 100 × 48),
    # where each edge is a cursor and a node of 9 fields, client 3, owner 3 and
    # tags 1 + 10 × 3.
    cost = 1 + 3 + 1 + 100 * (1 + 1 + 9 + 3 + 3 + 31)
    variables = {"first": 100}

    async with _client_with(settings, max_query_cost=cost) as client:
        accepted = await Api(client, tenant).post(
            CONTRACTS_PAGE_QUERY, variables, role="finance"
        )
    async with _client_with(settings, max_query_cost=cost - 1) as client:
        rejected = await Api(client, tenant).post(
            CONTRACTS_PAGE_QUERY, variables, role="finance"
        )

    assert cost == 4_805
    assert cost <= MAX_COST
    assert "errors" not in accepted
    assert accepted["data"]["contracts"]["edges"] == []
    assert _only_error(rejected)["message"] == _too_complex(cost, cost - 1)


async def test_graphiql_introspection_accepted(api: Api) -> None:
    query = get_introspection_query(input_value_deprecation=True)

    data = await api.data(query)

    assert data["__schema"]["queryType"]["name"] == "Query"
    assert len(data["__schema"]["types"]) > 50


def _introspection_twice() -> tuple[str, str]:
    """Return GraphiQL's introspection query, and one that selects it twice."""
    document = parse(get_introspection_query(input_value_deprecation=True))
    operation, *fragments = document.definitions
    assert isinstance(operation, OperationDefinitionNode)
    schema_field = operation.selection_set.selections[0]
    assert isinstance(schema_field, FieldNode)
    assert schema_field.selection_set is not None
    schema_fragment = (
        f"fragment Schema on __Schema {print_ast(schema_field.selection_set)}"
    )
    definitions = " ".join([schema_fragment, *map(print_ast, fragments)])
    once = f"query Once {{ __schema {{ ...Schema }} }} {definitions}"
    twice = (
        f"query Twice {{ a: __schema {{ ...Schema }} b: __schema {{ ...Schema }} }} "
        f"{definitions}"
    )
    return once, twice


async def test_repeated_introspection_rejected(
    api: Api, settings: Settings, tenant: Tenant
) -> None:
    once, twice = _introspection_twice()
    async with _client_with(settings, max_query_cost=1) as client:
        single = _only_error(await Api(client, tenant).post(once, role="admin"))
    single_cost = single["extensions"]["cost"]

    error = _only_error(await api.post(twice, role="admin"))

    assert single_cost <= MAX_COST < 2 * single_cost
    assert error["message"] == _too_complex(2 * single_cost)


def test_cost_settings_read_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTRACTGQL_MAX_QUERY_COST", "500")
    monkeypatch.setenv("CONTRACTGQL_MAX_BODY_BYTES", "4096")

    settings = load_settings()

    assert settings.max_query_cost == 500
    assert settings.max_body_bytes == 4096
    assert Settings().max_query_cost == 10_000
    assert Settings().max_body_bytes == 1024 * 1024


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "CONTRACTGQL_MAX_QUERY_COST",
            "0",
            "CONTRACTGQL_MAX_QUERY_COST=0 is out of range: use a value of at least 1.",
        ),
        (
            "CONTRACTGQL_MAX_BODY_BYTES",
            "1000",
            "CONTRACTGQL_MAX_BODY_BYTES=1000 is out of range: use a value of at "
            "least 1024 bytes.",
        ),
        (
            "CONTRACTGQL_MAX_BODY_BYTES",
            "1MB",
            "CONTRACTGQL_MAX_BODY_BYTES='1MB' is not a whole number.",
        ),
    ],
)
def test_invalid_limit_setting_rejected(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigError) as raised:
        load_settings()

    assert str(raised.value) == message


# Request body size


def _padded_body(size: int) -> bytes:
    """Return a valid GraphQL request body of exactly `size` bytes."""
    body = b'{"query": "{ __typename }"}'
    return body[:-1] + b" " * (size - len(body)) + b"}"


def _assert_payload_too_large(response: httpx.Response, size: str) -> None:
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/json"
    assert response.headers["connection"] == "close"
    assert response.json() == {
        "errors": [
            {
                "message": f"The request body{size} is larger than the maximum of "
                f"{MAX_BODY} bytes: send a smaller request, such as a shorter "
                "query or fewer variable values.",
                "extensions": {"code": "PAYLOAD_TOO_LARGE"},
            }
        ]
    }


async def test_body_at_maximum_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        content=_padded_body(MAX_BODY),
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_declared_large_body_rejected(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        content=_padded_body(MAX_BODY + 1),
        headers={"content-type": "application/json"},
    )

    _assert_payload_too_large(response, f" of {MAX_BODY + 1} bytes")


async def test_chunked_large_body_rejected(client: httpx.AsyncClient) -> None:
    chunk = b" " * (64 * 1024)
    chunk_count = 64  # 4 MiB in all
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        sent += 1
        yield b'{"query": "{ __typename }"'
        for _ in range(chunk_count):
            sent += 1
            yield chunk
        yield b"}"

    response = await client.post(
        "/graphql",
        content=chunks(),
        headers={"content-type": "application/json"},
    )

    assert "content-length" not in response.request.headers
    _assert_payload_too_large(response, "")
    # Reading stopped at the 16th chunk, which took the body past 1 MiB.
    assert sent == 1 + MAX_BODY // len(chunk)


async def test_chunked_small_body_accepted(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": '
        yield b'"{ __typename }"}'

    response = await client.post(
        "/graphql",
        content=chunks(),
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_body_limit_setting_applies(settings: Settings) -> None:
    headers = {"content-type": "application/json"}
    async with _client_with(settings, max_body_bytes=2048) as client:
        accepted = await client.post(
            "/graphql", content=_padded_body(2048), headers=headers
        )
        rejected = await client.post(
            "/graphql", content=_padded_body(2049), headers=headers
        )

    assert accepted.status_code == 200
    assert rejected.status_code == 413
    assert rejected.json()["errors"][0]["message"].startswith(
        "The request body of 2049 bytes is larger than the maximum of 2048 bytes"
    )


# Introspection


@pytest.mark.parametrize(
    "query",
    [
        "query { __schema { queryType { name } } }",
        'query { __type(name: "Contract") { fields { name } } }',
        "query { ...Schema } fragment Schema on Query { __schema { types { name } } }",
        'query { ... on Query { __type(name: "Contract") { name } } }',
        "query { viewer { roles } __schema { queryType { name } } }",
    ],
    ids=["schema", "type", "named-fragment", "inline-fragment", "beside-data"],
)
async def test_anonymous_introspection_rejected(api: Api, query: str) -> None:
    error = _only_error(await api.post(query, role=None))

    assert error["message"] == INTROSPECTION_MESSAGE
    assert error["extensions"] == {"code": "UNAUTHENTICATED"}


async def test_invalid_token_introspection_rejected(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        json={"query": "query { __schema { queryType { name } } }"},
        headers={"Authorization": "Bearer not-a-token"},
    )

    error = _only_error(response.json())
    assert error["message"] == (
        "The bearer token is invalid: send the token that the login mutation "
        "returned, as 'Authorization: Bearer <token>'."
    )
    assert error["extensions"] == {"code": "UNAUTHENTICATED"}


async def test_anonymous_typename_accepted(api: Api) -> None:
    body = await api.post("query { __typename }", role=None)

    assert body == {"data": {"__typename": "Query"}}


async def test_other_operation_introspection_ignored(api: Api) -> None:
    document = """
    query Plain { __typename }
    query Schema { __schema { queryType { name } } }
    """
    response = await api.client.post(
        "/graphql", json={"query": document, "operationName": "Plain"}
    )

    assert response.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("role", ["admin", "sales", "integrator"])
async def test_logged_in_introspection_accepted(api: Api, role: str) -> None:
    query = 'query { __type(name: "Contract") { name } }'

    data = await api.data(query, role=role)

    assert data == {"__type": {"name": "Contract"}}


# Suggestions in validation errors


@pytest.mark.parametrize(
    ("query", "variables", "anonymous", "suggestion"),
    [
        (
            "query { viewer { rolez } }",
            {},
            "Cannot query field 'rolez' on type 'Viewer'.",
            " Did you mean 'roles'?",
        ),
        (
            "query { contracts(frist: 1) { totalCount } }",
            {},
            "Unknown argument 'frist' on field 'Query.contracts'.",
            " Did you mean 'first'?",
        ),
        (
            "query { contracts(filter: {statuses: [ACTIV]}) { totalCount } }",
            {},
            "Value 'ACTIV' does not exist in 'ContractStatus' enum.",
            " Did you mean the enum value 'ACTIVE'?",
        ),
        (
            "query ($s: [ContractStatus!]) "
            "{ contracts(filter: {statuses: $s}) { totalCount } }",
            {"s": ["ACTIV"]},
            "Variable '$s' has invalid value at [0]: Value 'ACTIV' does not exist in "
            "'ContractStatus' enum.",
            " Did you mean the enum value 'ACTIVE'?",
        ),
        (
            "query ($f: ContractFilter) { contracts(filter: $f) { totalCount } }",
            {"f": {"serch": "x"}},
            "Variable '$f' has invalid value: Expected value of type 'ContractFilter' "
            "not to include unknown field 'serch'. Found: {'serch': 'x'}.",
            " Did you mean 'search'?",
        ),
    ],
    ids=["field", "argument", "enum-literal", "enum-variable", "input-field"],
)
async def test_suggestions_only_for_logged_in(
    api: Api,
    query: str,
    variables: dict[str, Any],
    anonymous: str,
    suggestion: str,
) -> None:
    # The logged-in caller goes first, so that the anonymous caller gets the same
    # validation errors from the document cache.
    logged_in = _only_error(await api.post(query, variables, role="admin"))
    without_login = _only_error(await api.post(query, variables, role=None))

    assert suggestion in logged_in["message"]
    assert without_login["message"] == anonymous
    assert without_login["extensions"] == logged_in["extensions"]
    assert without_login["locations"] == logged_in["locations"]


async def test_type_suggestions_hidden_anonymously(api: Api) -> None:
    query = "query ($f: ContractFiltr) { contracts(filter: $f) { totalCount } }"

    logged_in = _only_error(await api.post(query, role="admin"))
    without_login = _only_error(await api.post(query, role=None))

    assert logged_in["message"].startswith(
        "Unknown type 'ContractFiltr'. Did you mean 'ContractFilter'"
    )
    assert without_login["message"] == "Unknown type 'ContractFiltr'."


async def test_fragment_suggestion_hidden_anonymously(api: Api) -> None:
    query = 'query { node(id: "x") { name } }'

    logged_in = _only_error(await api.post(query, role="admin"))
    without_login = _only_error(await api.post(query, role=None))

    assert " Did you mean to use an inline fragment on " in logged_in["message"]
    assert without_login["message"] == "Cannot query field 'name' on type 'Node'."


# Transports that /graphql does not serve


@pytest.mark.parametrize("subprotocols", [["graphql-ws"], []], ids=["legacy", "none"])
def test_other_websocket_rejected(app: Any, subprotocols: list[str]) -> None:
    test_client = TestClient(app)

    with (
        pytest.raises(WebSocketDisconnect) as raised,
        test_client.websocket_connect("/graphql", subprotocols=subprotocols),
    ):
        pass

    assert raised.value.code == 1000


def test_graphql_transport_ws_accepted(app: Any) -> None:
    test_client = TestClient(app)

    with test_client.websocket_connect(
        "/graphql", subprotocols=["graphql-transport-ws"]
    ) as websocket:
        protocol = websocket.accepted_subprotocol

    assert protocol == "graphql-transport-ws"


@pytest.mark.parametrize(
    ("subprotocol", "message", "expected"),
    [
        (
            "graphql-transport-ws",
            {"id": "1", "type": "subscribe", "payload": {"query": "{ __typename }"}},
            [
                {
                    "type": "websocket.accept",
                    "subprotocol": "graphql-transport-ws",
                    "headers": [],
                },
                {"type": "websocket.close", "code": 4401, "reason": "Unauthorized"},
            ],
        ),
        (
            "graphql-ws",
            {"id": "1", "type": "start", "payload": {"query": "{ __typename }"}},
            [{"type": "websocket.close", "code": 1000, "reason": ""}],
        ),
    ],
)
async def test_websocket_subscribe_before_init_closed(
    app: Any,
    subprotocol: str,
    message: dict[str, Any],
    expected: list[dict[str, Any]],
) -> None:
    """Drive the ASGI app directly, so that the operation arrives with the
    handshake, before any connection_init."""
    incoming: list[dict[str, Any]] = [
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": json.dumps(message)},
        {"type": "websocket.disconnect", "code": 1000},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(event: dict[str, Any]) -> None:
        sent.append(event)

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"sec-websocket-protocol", subprotocol.encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
        "subprotocols": [subprotocol],
    }
    await app(scope, receive, send)

    assert sent == expected


async def test_batched_request_rejected(client: httpx.AsyncClient) -> None:
    batch = [{"query": "{ __typename }"}, {"query": "{ __typename }"}]

    response = await client.post("/graphql", json=batch)

    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "message": "Batching is not enabled",
                "extensions": {"code": "BAD_REQUEST"},
            }
        ]
    }


async def test_subscription_over_http_rejected(
    api: Api, count_queries: QueryCounter
) -> None:
    query = "subscription { notificationAdded { id } }"

    error = _only_error(await api.post(query, role="admin"))

    assert error["message"] == (
        "Subscriptions are served over a websocket only: connect to /graphql with "
        "the graphql-transport-ws subprotocol and send the token in the "
        "connection_init payload."
    )
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert [s for s in count_queries.statements if '"notifications"' in s] == []


async def test_fragment_bomb_costed_quickly(api: Api) -> None:
    # Each of 150 fragments spreads the next one twice, so the query costs 2 ** 151.
    # The estimate must cost each fragment once instead of expanding every spread.
    count = 150
    fragments = " ".join(
        f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(count)
    )
    last = f"fragment F{count} on Query {{ viewer {{ roles }} }}"
    query = f"query Wide {{ ...F0 }} {fragments} {last}"

    started = time.monotonic()
    error = _only_error(await api.post(query, role="admin"))
    elapsed = time.monotonic() - started

    assert error["message"] == _too_complex(2**count * 2)
    assert elapsed < 5


def _fragment_chain(length: int) -> str:
    """Return a query that reaches `__typename` through `length` nested fragments."""
    fragments = " ".join(
        f"fragment F{index} on Query {{ ...F{index + 1} }}" for index in range(length)
    )
    last = f"fragment F{length} on Query {{ __typename }}"
    return f"query Chain {{ ...F0 }} {fragments} {last}"


async def test_long_fragment_chain_accepted(api: Api) -> None:
    # The maximum chain length that graphql-core 3.3 accepts. The limits recurse
    # through it without reaching Python's recursion limit.
    data = await api.data(_fragment_chain(198))

    assert data == {"__typename": "Query"}


async def test_too_long_fragment_chain_rejected(api: Api) -> None:
    # graphql-core 3.3 aborts validation when fragments nest more than 200 levels.
    error = _only_error(await api.post(_fragment_chain(300), role="admin"))

    assert error["message"] == "Validation aborted."
    assert error["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
