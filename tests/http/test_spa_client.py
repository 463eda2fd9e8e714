"""A single-page application's view of the API: urql and graphql-ws under Node.js,
and the CORS rules that browsers apply to a front end on another origin."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from tests.http.conftest import SPA_ORIGIN, LiveServer, run_node

OTHER_ORIGIN = "http://evil.contractgql.test"
SPA_REQUEST_HEADERS = "authorization, content-type, apollo-require-preflight"


def test_spa_client_stack(live_server: LiveServer) -> None:
    prefix = f"SPA {uuid.uuid4().hex[:8]}"

    output = run_node(
        "spa-client.mjs",
        live_server.graphql_url,
        env={"ADMIN_TOKEN": live_server.tokens["admin"], "RUN_PREFIX": prefix},
    )
    seen = json.loads(output)

    assert seen["schema"] == {
        "queryType": "Query",
        "subscriptionFields": ["notificationAdded"],
        "contractHasVersion": True,
    }
    assert seen["pages"] == [
        {
            "totalCount": 5,
            "names": [f"{prefix} A", f"{prefix} B"],
            "hasNextPage": True,
            "endCursorMatchesLastEdge": True,
        },
        {
            "totalCount": 5,
            "names": [f"{prefix} C", f"{prefix} D"],
            "hasNextPage": True,
            "endCursorMatchesLastEdge": True,
        },
        {
            "totalCount": 5,
            "names": [f"{prefix} E"],
            "hasNextPage": False,
            "endCursorMatchesLastEdge": True,
        },
    ]
    assert seen["conflict"] == {
        "firstVersion": 1,
        "versionAfterEdit": 2,
        "staleData": None,
        "staleCode": "CONFLICT",
        "staleNetworkError": None,
    }
    assert seen["invalid"] == {
        "code": "GRAPHQL_VALIDATION_FAILED",
        "networkError": None,
    }
    assert seen["noticeErrors"] == []
    notification = seen["notification"]
    assert notification["kind"] == "contract_event"
    assert notification["title"] == f"Notice received: {prefix} B"
    assert notification["contractId"] == notification["expectedContractId"]


def _preflight(
    server: LiveServer, origin: str, path: str = "/graphql"
) -> httpx.Response:
    return httpx.options(
        f"{server.url}{path}",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": SPA_REQUEST_HEADERS,
        },
        timeout=30,
    )


def test_preflight_allows_spa_origin(live_server: LiveServer) -> None:
    response = _preflight(live_server, SPA_ORIGIN)

    assert response.status_code == 200
    headers = response.headers
    assert headers["access-control-allow-origin"] == SPA_ORIGIN
    assert set(headers["access-control-allow-methods"].split(", ")) >= {"GET", "POST"}
    allowed = {
        name.strip().lower()
        for name in headers["access-control-allow-headers"].split(",")
    }
    assert allowed >= {"authorization", "content-type", "apollo-require-preflight"}
    assert int(headers["access-control-max-age"]) > 0
    # The token travels in the Authorization header, never in a cookie, so the
    # API does not take part in credentialed requests.
    assert "access-control-allow-credentials" not in headers


def test_preflight_rejects_other_origin(live_server: LiveServer) -> None:
    response = _preflight(live_server, OTHER_ORIGIN)

    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


def test_cors_response_headers(live_server: LiveServer) -> None:
    response = httpx.post(
        live_server.graphql_url,
        json={"query": "{ viewer { roles } }"},
        headers={
            "Origin": SPA_ORIGIN,
            "Authorization": f"Bearer {live_server.tokens['sales']}",
        },
        timeout=30,
    )

    assert response.status_code == 200
    assert response.json() == {"data": {"viewer": {"roles": ["sales"]}}}
    assert response.headers["access-control-allow-origin"] == SPA_ORIGIN
    assert "origin" in response.headers["vary"].lower()
    exposed = {
        name.strip().lower()
        for name in response.headers["access-control-expose-headers"].split(",")
    }
    assert exposed == {"retry-after", "content-disposition", "x-request-id"}


def test_cors_on_other_origin(live_server: LiveServer) -> None:
    response = httpx.post(
        live_server.graphql_url,
        json={"query": "{ __typename }"},
        headers={"Origin": OTHER_ORIGIN},
        timeout=30,
    )

    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


def test_cors_on_http_errors(live_server: LiveServer) -> None:
    """A browser script can read the JSON of a 405 and a 406 too."""
    for method, accept in (("PUT", "application/json"), ("POST", "text/plain")):
        response = httpx.request(
            method,
            live_server.graphql_url,
            json={"query": "{ __typename }"},
            headers={"Origin": SPA_ORIGIN, "Accept": accept},
            timeout=30,
        )

        assert response.status_code in (405, 406)
        assert response.headers["access-control-allow-origin"] == SPA_ORIGIN
        assert response.json()["errors"][0]["extensions"]["code"] in (
            "METHOD_NOT_ALLOWED",
            "NOT_ACCEPTABLE",
        )


async def _open_websocket(server: LiveServer, origin: str) -> str:
    url = server.graphql_url.replace("http://", "ws://", 1)
    async with websockets.connect(
        url,
        subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
        origin=websockets.Origin(origin),
        open_timeout=10,
    ) as connection:
        token = server.tokens["sales"]
        await connection.send(
            json.dumps(
                {
                    "type": "connection_init",
                    "payload": {"authorization": f"Bearer {token}"},
                }
            )
        )
        reply = json.loads(await asyncio.wait_for(connection.recv(), 10))
        return str(reply["type"])


async def test_websocket_from_spa_origin(live_server: LiveServer) -> None:
    assert await _open_websocket(live_server, SPA_ORIGIN) == "connection_ack"


async def test_websocket_from_other_origin(live_server: LiveServer) -> None:
    with pytest.raises(InvalidStatus) as rejected:
        await _open_websocket(live_server, OTHER_ORIGIN)

    assert rejected.value.response.status_code == 403
