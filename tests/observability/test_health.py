"""Liveness and readiness over HTTP, with the database and a real Redis server."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from contractgql.app import create_app
from contractgql.config import Settings
from contractgql.notifications.pubsub import configure_publishing
from tests.jobs.conftest import free_port

REDIS_URL = os.environ.get("CONTRACTGQL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest_asyncio.fixture
async def app_with_redis(settings: Settings) -> AsyncIterator[Any]:
    """Yield a factory of apps on the test database with the given Redis URL."""

    def build(redis_url: str) -> Any:
        return create_app(
            dataclasses.replace(settings, redis_url=redis_url), manage_database=False
        )

    try:
        yield build
    finally:
        # create_app points the notification publisher at the app's Redis.
        configure_publishing(settings)


async def get(app: Any, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        return await http.get(path)


async def test_live_answers_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_without_redis_checks_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert list(body["checks"]) == ["database"]
    assert body["checks"]["database"]["status"] == "up"
    assert body["checks"]["database"]["duration_ms"] >= 0


async def test_ready_with_redis_up(app_with_redis: Any) -> None:
    response = await get(app_with_redis(REDIS_URL), "/health/ready")

    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["database"]["status"] == "up"
    assert checks["redis"]["status"] == "up"
    assert "error" not in checks["redis"]


async def test_ready_fails_on_closed_redis_port(
    app_with_redis: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listens on a port that was free a moment ago.
    app = app_with_redis(f"redis://127.0.0.1:{free_port()}/0")

    with caplog.at_level(logging.INFO, logger="contractgql.observability.health"):
        first = await get(app, "/health/ready")
        second = await get(app, "/health/ready")

    assert first.status_code == 503
    assert second.status_code == 503
    body = first.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["status"] == "up"
    assert body["checks"]["redis"]["status"] == "down"
    assert body["checks"]["redis"]["error"] == "ConnectionError"
    warnings = [r for r in caplog.records if "Readiness check redis" in r.message]
    # Only the change from up to down is logged, not every failed probe.
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "ConnectionError" in warnings[0].getMessage()
