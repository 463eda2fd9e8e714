"""Media types and status codes of /graphql under the GraphQL-over-HTTP rules."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tortoise import connections
from tortoise.backends.base.config_generator import expand_db_url

from contractgql.app import create_app
from contractgql.config import Settings
from contractgql.graphql.transport import (
    APPLICATION_JSON,
    GRAPHQL_RESPONSE_JSON,
    negotiate_media_type,
)
from tests.conftest import Api, Tenant

VIEWER = "{ viewer { roles } }"
LOGIN = 'mutation { login(email: "nobody@example.com", password: "x") { token } }'
# Prefers the newer media type and accepts the legacy one.
BOTH_TYPES = f"{GRAPHQL_RESPONSE_JSON}, {APPLICATION_JSON};q=0.9"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, APPLICATION_JSON),
        ("", APPLICATION_JSON),
        ("*/*", APPLICATION_JSON),
        ("application/*", APPLICATION_JSON),
        ("application/json", APPLICATION_JSON),
        ("Application/JSON; charset=utf-8", APPLICATION_JSON),
        (GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE_JSON),
        (BOTH_TYPES, GRAPHQL_RESPONSE_JSON),
        (f"{APPLICATION_JSON}, {GRAPHQL_RESPONSE_JSON}", GRAPHQL_RESPONSE_JSON),
        (f"{APPLICATION_JSON}, {GRAPHQL_RESPONSE_JSON};q=0.5", APPLICATION_JSON),
        (f"{GRAPHQL_RESPONSE_JSON};q=0, */*;q=0.1", APPLICATION_JSON),
        ("text/html,application/xhtml+xml,*/*;q=0.8", APPLICATION_JSON),
        ("text/plain", None),
        ("application/xml, text/html", None),
        ("application/json;q=0", None),
        ("application/json;q=abc", None),
    ],
)
def test_media_type_negotiation(accept: str | None, expected: str | None) -> None:
    assert negotiate_media_type(accept) == expected


async def _post(
    client: httpx.AsyncClient,
    body: dict[str, Any],
    accept: str,
    token: str | None = None,
) -> httpx.Response:
    headers = {"Accept": accept}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return await client.post("/graphql", json=body, headers=headers)


async def test_success_uses_requested_type(api: Api) -> None:
    token = api.tenant.tokens["finance"]

    response = await _post(api.client, {"query": VIEWER}, BOTH_TYPES, token)

    assert response.status_code == 200
    assert response.headers["content-type"] == GRAPHQL_RESPONSE_JSON
    assert response.json() == {"data": {"viewer": {"roles": ["finance"]}}}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"query": "{ viewer { roles "}, "GRAPHQL_VALIDATION_FAILED"),
        ({"query": "{ nope }"}, "GRAPHQL_VALIDATION_FAILED"),
        (
            {
                "query": "query ($id: ID!) { node(id: $id) { id } }",
                "variables": {"id": True},
            },
            "BAD_USER_INPUT",
        ),
    ],
)
async def test_request_error_is_400(api: Api, body: dict[str, Any], code: str) -> None:
    token = api.tenant.tokens["admin"]

    response = await _post(api.client, body, GRAPHQL_RESPONSE_JSON, token)

    assert response.status_code == 400
    assert response.headers["content-type"] == GRAPHQL_RESPONSE_JSON
    result = response.json()
    assert "data" not in result
    assert [error["extensions"]["code"] for error in result["errors"]] == [code]


@pytest.mark.parametrize(
    "body",
    [
        {"query": "{ viewer { roles "},
        {"query": "{ nope }"},
        {
            "query": "query ($id: ID!) { node(id: $id) { id } }",
            "variables": {"id": True},
        },
    ],
)
async def test_request_error_legacy_json_is_200(api: Api, body: dict[str, Any]) -> None:
    token = api.tenant.tokens["admin"]

    response = await _post(api.client, body, APPLICATION_JSON, token)

    assert response.status_code == 200
    assert response.headers["content-type"] == APPLICATION_JSON
    result = response.json()
    assert result["data"] is None
    assert len(result["errors"]) == 1


async def test_field_error_is_200(client: httpx.AsyncClient) -> None:
    response = await _post(client, {"query": VIEWER}, GRAPHQL_RESPONSE_JSON)

    assert response.status_code == 200
    assert response.headers["content-type"] == GRAPHQL_RESPONSE_JSON
    result = response.json()
    assert result["data"] is None
    [error] = result["errors"]
    assert error["path"] == ["viewer"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_anonymous_introspection_is_400(client: httpx.AsyncClient) -> None:
    body = {"query": '{ __type(name: "Contract") { name } }'}

    response = await _post(client, body, GRAPHQL_RESPONSE_JSON)

    assert response.status_code == 400
    result = response.json()
    assert "data" not in result
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("accept", [APPLICATION_JSON, GRAPHQL_RESPONSE_JSON])
async def test_mutation_over_get_is_405(client: httpx.AsyncClient, accept: str) -> None:
    response = await client.get(
        "/graphql", params={"query": LOGIN}, headers={"Accept": accept}
    )

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.headers["content-type"] == accept
    assert response.json() == {
        "errors": [
            {
                "message": "Mutations cannot be sent with GET: send them with POST.",
                "extensions": {"code": "METHOD_NOT_ALLOWED"},
            }
        ]
    }


async def test_mutation_over_get_not_run(api: Api) -> None:
    create = 'mutation { createTag(input: {name: "Sent with GET"}) { record { id } } }'

    response = await api.client.get(
        "/graphql",
        params={"query": create},
        headers={"Authorization": f"Bearer {api.tenant.tokens['admin']}"},
    )
    data = await api.data("{ tags(first: 10) { edges { node { name } } } }")

    assert response.status_code == 405
    assert data["tags"]["edges"] == []


async def test_query_over_get_allowed(api: Api) -> None:
    response = await api.client.get(
        "/graphql",
        params={"query": VIEWER},
        headers={
            "Accept": GRAPHQL_RESPONSE_JSON,
            "Authorization": f"Bearer {api.tenant.tokens['sales']}",
        },
    )

    assert response.status_code == 200
    assert response.json() == {"data": {"viewer": {"roles": ["sales"]}}}


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_other_methods_are_405(client: httpx.AsyncClient, method: str) -> None:
    response = await client.request(method, "/graphql", json={"query": VIEWER})

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "METHOD_NOT_ALLOWED"}


@pytest.mark.parametrize("accept", ["text/plain", "application/xml", "*/*;q=0"])
async def test_unacceptable_accept_is_406(
    client: httpx.AsyncClient, accept: str
) -> None:
    response = await _post(client, {"query": "{ __typename }"}, accept)

    assert response.status_code == 406
    assert response.headers["content-type"] == APPLICATION_JSON
    assert response.json() == {
        "errors": [
            {
                "message": "The Accept header allows no media type that this "
                "endpoint can send: accept application/graphql-response+json or "
                "application/json.",
                "extensions": {"code": "NOT_ACCEPTABLE"},
            }
        ]
    }


async def test_graphiql_served_to_browsers(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def test_missing_content_type_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", content=b'{"query": "{ __typename }"}')

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error == {
        "message": "Unsupported content type",
        "extensions": {"code": "BAD_REQUEST"},
    }


SPA_ORIGIN = "http://localhost:5173"


def _closed_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def unreachable_database(settings: Settings, tmp_path: Path) -> Iterator[None]:
    """Point the ORM of this test's context at a database that cannot be reached:
    a missing folder on SQLite, a closed loopback port on PostgreSQL."""
    if settings.is_sqlite:
        url = f"sqlite://{tmp_path / 'missing' / 'contractgql.sqlite3'}"
    else:
        url = f"postgres://postgres@127.0.0.1:{_closed_loopback_port()}/contractgql"
    config = expand_db_url(url)
    client_class = connections._discover_client_class(config)
    client = client_class(connection_name="default", **config["credentials"])
    storage = {**connections._copy_storage(), "default": client}
    token = connections._storage_var.set(storage)
    try:
        yield
    finally:
        connections._storage_var.reset(token)


@pytest.mark.parametrize("accept", [APPLICATION_JSON, GRAPHQL_RESPONSE_JSON])
async def test_database_down_is_503(
    settings: Settings,
    tenant: Tenant,
    unreachable_database: None,
    accept: str,
) -> None:
    app = create_app(
        dataclasses.replace(settings, cors_origins=(SPA_ORIGIN,)),
        manage_database=False,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post(
            "/graphql",
            json={"query": VIEWER},
            headers={
                "Accept": accept,
                "Authorization": f"Bearer {tenant.tokens['admin']}",
                "Origin": SPA_ORIGIN,
                "X-Request-ID": "outage-1",
            },
        )
    assert response.status_code == 503
    assert response.headers["content-type"] == accept
    assert response.headers["x-request-id"] == "outage-1"
    assert response.headers["access-control-allow-origin"] == SPA_ORIGIN
    assert response.json() == {
        "errors": [
            {
                "message": "The database cannot be reached. Retry later, and quote "
                "request id outage-1 to the operators if the error persists.",
                "extensions": {"code": "SERVICE_UNAVAILABLE"},
            }
        ]
    }


async def test_unexpected_error_is_500(
    client: httpx.AsyncClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing_authenticate(*args: object) -> None:
        raise RuntimeError("injected failure")

    monkeypatch.setattr("contractgql.app.authenticate", failing_authenticate)
    response = await client.post(
        "/graphql",
        json={"query": VIEWER},
        headers={
            "Authorization": f"Bearer {tenant.tokens['admin']}",
            "X-Request-ID": "failure-1",
        },
    )
    assert response.status_code == 500
    assert response.headers["content-type"] == APPLICATION_JSON
    assert response.headers["x-request-id"] == "failure-1"
    assert response.json() == {
        "errors": [
            {
                "message": "Internal server error: quote request id failure-1 to the "
                "operators.",
                "extensions": {"code": "INTERNAL_SERVER_ERROR"},
            }
        ]
    }
