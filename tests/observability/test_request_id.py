"""Request ids: taken from a valid X-Request-ID, returned, logged and audited."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import AsyncIterator, Iterator

import httpx
import orjson
import pytest
import pytest_asyncio

from contractgql.app import create_app
from contractgql.config import Settings
from contractgql.observability.logs import TEXT_FORMAT, JsonFormatter, RequestIdFilter
from contractgql.observability.request_id import current_request_id
from tests.audit.test_history import history
from tests.conftest import Api
from tests.graphql.helpers import UPDATE_CONTRACT, create_client, create_contract

GENERATED = re.compile(r"[0-9a-f]{16}")
VIEWER = "query Viewer { viewer { roles } }"
BROKEN = "query Broken { contracts(first: 1) { edges { node { unknownField } } } }"


class Lines(logging.Handler):
    """Format the records of the root logger as the server's handler would."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(level=logging.DEBUG)
        self.addFilter(RequestIdFilter())
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def json_lines() -> Iterator[Lines]:
    handler = Lines(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


async def test_valid_request_id_is_returned(api: Api) -> None:
    response = await api.client.post(
        "/graphql",
        json={"query": VIEWER},
        headers={
            "Authorization": f"Bearer {api.tenant.tokens['admin']}",
            "X-Request-ID": "lb-7f3a:2026.12.05_x",
        },
    )

    assert response.status_code == 200
    assert response.headers["x-request-id"] == "lb-7f3a:2026.12.05_x"


@pytest.mark.parametrize(
    "header",
    [
        "has space",
        "line\\nbreak",
        "x" * 65,
        "<script>",
        "caf\u00e9",
    ],
)
async def test_invalid_request_id_is_replaced(
    client: httpx.AsyncClient, header: str
) -> None:
    response = await client.get(
        "/health/live", headers={"X-Request-ID": header.encode()}
    )

    returned = response.headers["x-request-id"]
    assert returned != header
    assert GENERATED.fullmatch(returned)


async def test_missing_request_id_is_generated(client: httpx.AsyncClient) -> None:
    first = await client.get("/health/live")
    second = await client.get("/health/live")

    assert GENERATED.fullmatch(first.headers["x-request-id"])
    assert GENERATED.fullmatch(second.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_audit_event_stores_request_id(api: Api) -> None:
    client_id = await create_client(api)
    contract = await create_contract(api, client_id)
    response = await api.client.post(
        "/graphql",
        json={
            "query": UPDATE_CONTRACT,
            "variables": {"id": contract["id"], "input": {"name": "Renamed"}},
        },
        headers={
            "Authorization": f"Bearer {api.tenant.tokens['admin']}",
            "X-Request-ID": "audit-trace-0001",
        },
    )
    assert response.json()["data"]["updateContract"]["errors"] == []

    entries = (await history(api, "Contract", contract["id"]))["nodes"]

    assert entries[0]["action"] == "contract.update"
    assert entries[0]["requestId"] == "audit-trace-0001"


async def test_generated_id_matches_audit_event(api: Api) -> None:
    client_id = await create_client(api)
    contract = await create_contract(api, client_id)
    response = await api.client.post(
        "/graphql",
        json={
            "query": UPDATE_CONTRACT,
            "variables": {"id": contract["id"], "input": {"name": "Renamed"}},
        },
        headers={"Authorization": f"Bearer {api.tenant.tokens['admin']}"},
    )

    entries = (await history(api, "Contract", contract["id"]))["nodes"]

    assert entries[0]["requestId"] == response.headers["x-request-id"]


async def test_log_lines_carry_request_id(api: Api, json_lines: Lines) -> None:
    logger = logging.getLogger("contractgql.graphql.errors")
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        response = await api.client.post(
            "/graphql",
            json={"query": BROKEN},
            headers={
                "Authorization": f"Bearer {api.tenant.tokens['admin']}",
                "X-Request-ID": "log-trace-0001",
            },
        )
    finally:
        logger.setLevel(previous)
    outside = logging.getLogger("contractgql.tests")
    outside.warning("Logged outside a request")

    assert response.json()["errors"][0]["extensions"]["code"] == (
        "GRAPHQL_VALIDATION_FAILED"
    )
    entries = [orjson.loads(line) for line in json_lines.lines]
    during = [e for e in entries if e["logger"] == "contractgql.graphql.errors"]
    assert len(during) == 1
    assert during[0]["request_id"] == "log-trace-0001"
    assert during[0]["level"] == "DEBUG"
    assert "unknownField" in during[0]["message"]
    after = [e for e in entries if e["logger"] == "contractgql.tests"]
    assert after == [
        {
            "time": after[0]["time"],
            "level": "WARNING",
            "logger": "contractgql.tests",
            "message": "Logged outside a request",
            "process": after[0]["process"],
        }
    ]


def test_text_format_shows_request_id_only_in_requests() -> None:
    handler = Lines(logging.Formatter(TEXT_FORMAT))
    record = logging.LogRecord("contractgql.x", logging.INFO, "f", 1, "Hello", (), None)

    handler.handle(record)
    token = current_request_id.set("abc123")
    try:
        handler.handle(record)
    finally:
        current_request_id.reset(token)

    assert handler.lines[0].endswith(" INFO contractgql.x Hello")
    assert handler.lines[1].endswith(" INFO contractgql.x [abc123] Hello")


SPA_ORIGIN = "http://localhost:5173"


@pytest_asyncio.fixture
async def spa_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        dataclasses.replace(settings, cors_origins=(SPA_ORIGIN,)),
        manage_database=False,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_preflight_allows_request_id(spa_client: httpx.AsyncClient) -> None:
    response = await spa_client.options(
        "/graphql",
        headers={
            "Origin": SPA_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-request-id",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SPA_ORIGIN
    allowed = response.headers["access-control-allow-headers"].lower().split(", ")
    assert "x-request-id" in allowed


async def test_cors_exposes_request_id(spa_client: httpx.AsyncClient) -> None:
    response = await spa_client.post(
        "/graphql",
        json={"query": VIEWER},
        headers={"Origin": SPA_ORIGIN, "X-Request-ID": "spa-req-1"},
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "spa-req-1"
    exposed = response.headers["access-control-expose-headers"].split(", ")
    assert exposed == ["Retry-After", "Content-Disposition", "X-Request-ID"]
