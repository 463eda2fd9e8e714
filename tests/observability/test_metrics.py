"""Prometheus metrics: access to /metrics, exact request and error counts, jobs."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from arq.worker import Retry
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from contractgql.app import create_app
from contractgql.config import Settings
from contractgql.observability import metrics as metrics_module
from contractgql.observability.metrics import JobMetrics
from tests.conftest import Tenant
from tests.jobs.conftest import free_port

TOKEN = "metrics-token-" + "m" * 32
VIEWER = "query Viewer { viewer { roles } }"
FORBIDDEN_MUTATION = """
mutation Rename { createTag(input: {name: "x"}) { record { id } } }
"""
NO_LOGIN = "query Anonymous { viewer { roles } }"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Return every sample of an exposition, keyed by name and sorted labels."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            samples[(sample.name, labels)] = sample.value
    return samples


def request_labels(
    route: str, operation_type: str, operation_name: str, status: int
) -> tuple[tuple[str, str], ...]:
    return tuple(
        sorted(
            {
                "route": route,
                "operation_type": operation_type,
                "operation_name": operation_name,
                "status": str(status),
            }.items()
        )
    )


@pytest_asyncio.fixture
async def metered(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a new app, so that its counters start at zero."""
    app = create_app(
        dataclasses.replace(settings, metrics_token=TOKEN), manage_database=False
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield http


async def scrape(http: httpx.AsyncClient) -> Samples:
    response = await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


async def graphql(
    http: httpx.AsyncClient, query: str, token: str | None
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await http.post("/graphql", json={"query": query}, headers=headers)
    body: dict[str, Any] = response.json()
    return body


async def test_requests_counted_by_operation_and_status(
    metered: httpx.AsyncClient, tenant: Tenant
) -> None:
    admin = tenant.tokens["admin"]
    sales = tenant.tokens["sales"]
    for _ in range(3):
        assert "errors" not in await graphql(metered, VIEWER, admin)
    denied = await graphql(metered, FORBIDDEN_MUTATION, sales)
    anonymous = await graphql(metered, NO_LOGIN, None)
    await graphql(metered, "{ viewer { roles }", admin)
    await metered.get("/health/live")
    await metered.get("/no/such/route")

    samples = await scrape(metered)

    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    requests = {
        labels: value
        for (name, labels), value in samples.items()
        if name == "contractgql_http_requests_total"
    }
    assert requests == {
        request_labels("/graphql", "query", "Viewer", 200): 3,
        request_labels("/graphql", "mutation", "Rename", 200): 1,
        request_labels("/graphql", "query", "Anonymous", 200): 1,
        # A document that does not parse has no operation.
        request_labels("/graphql", "", "", 200): 1,
        request_labels("/health/live", "", "", 200): 1,
        request_labels("", "", "", 404): 1,
    }
    counts = samples[
        (
            "contractgql_http_request_duration_seconds_count",
            request_labels("/graphql", "query", "Viewer", 200),
        )
    ]
    assert counts == 3
    viewer_labels = request_labels("/graphql", "query", "Viewer", 200)
    infinite_bucket = samples[
        (
            "contractgql_http_request_duration_seconds_bucket",
            tuple(sorted((*viewer_labels, ("le", "+Inf")))),
        )
    ]
    assert infinite_bucket == 3
    errors = {
        dict(labels)["code"]: value
        for (name, labels), value in samples.items()
        if name == "contractgql_graphql_errors_total"
    }
    assert errors == {
        "FORBIDDEN": 1,
        "UNAUTHENTICATED": 1,
        "GRAPHQL_VALIDATION_FAILED": 1,
    }
    # The process collector, for memory and CPU per process.
    assert any(name == "process_resident_memory_bytes" for name, _ in samples)


async def test_operation_names_are_bounded(
    metered: httpx.AsyncClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics_module, "MAX_OPERATION_NAMES", 2)
    admin = tenant.tokens["admin"]
    for name in ("First", "Second", "Third", "Fourth", "First"):
        await graphql(metered, f"query {name} {{ viewer {{ roles }} }}", admin)

    samples = await scrape(metered)

    names = {
        dict(labels)["operation_name"]: value
        for (name, labels), value in samples.items()
        if name == "contractgql_http_requests_total"
    }
    assert names == {"First": 2, "Second": 1, "other": 2}


async def test_metrics_off_without_token_or_networks(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")

    assert response.status_code == 404
    assert "CONTRACTGQL_METRICS_TOKEN" in response.text


async def test_metrics_rejects_wrong_token(metered: httpx.AsyncClient) -> None:
    missing = await metered.get("/metrics")
    wrong = await metered.get(
        "/metrics", headers={"Authorization": "Bearer " + "n" * 46}
    )

    assert missing.status_code == 403
    assert wrong.status_code == 403
    assert "contractgql_http_requests_total" not in wrong.text


@pytest.mark.parametrize(
    ("networks", "proxies", "status"),
    [
        (("127.0.0.0/8",), (), 200),
        (("10.0.0.0/8",), (), 403),
        # Requests through a reverse proxy on the allowed network need the token.
        (("127.0.0.0/8",), ("127.0.0.1/32",), 403),
    ],
)
async def test_metrics_network_allow_list(
    settings: Settings,
    networks: tuple[str, ...],
    proxies: tuple[str, ...],
    status: int,
) -> None:
    configured = dataclasses.replace(
        settings, metrics_networks=networks, trusted_proxies=proxies
    )
    app = create_app(configured, manage_database=False)
    # httpx's ASGI transport reports the client as 127.0.0.1.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.get("/metrics")

    assert response.status_code == status


def job_samples(metrics: JobMetrics) -> dict[tuple[str, str], float]:
    runs: dict[tuple[str, str], float] = {}
    for family in metrics.registry.collect():
        for sample in family.samples:
            if sample.name == "contractgql_job_runs_total":
                runs[(sample.labels["job"], sample.labels["outcome"])] = sample.value
    return runs


async def test_job_runs_counted_by_outcome() -> None:
    metrics = JobMetrics(CollectorRegistry())

    async def succeed(ctx: dict[str, Any], value: int) -> int:
        return value * 2

    async def retry(ctx: dict[str, Any]) -> None:
        raise Retry(defer=1)

    async def fail(ctx: dict[str, Any]) -> None:
        raise RuntimeError("database unavailable")

    async def hang(ctx: dict[str, Any]) -> None:
        await asyncio.sleep(10)

    assert await metrics.measured("double", succeed)({}, 21) == 42
    assert await metrics.measured("double", succeed)({}, 1) == 2
    with pytest.raises(Retry):
        await metrics.measured("flaky", retry)({})
    with pytest.raises(RuntimeError, match="database unavailable"):
        await metrics.measured("flaky", fail)({})
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(metrics.measured("slow", hang)({}), 0.01)

    assert job_samples(metrics) == {
        ("double", "success"): 2,
        ("flaky", "retry"): 1,
        ("flaky", "failure"): 1,
        ("slow", "cancelled"): 1,
    }


async def test_worker_metrics_served_over_http() -> None:
    metrics = JobMetrics(CollectorRegistry())

    async def succeed(ctx: dict[str, Any]) -> None:
        return None

    await metrics.measured("scan_all", succeed)({})
    port = free_port()
    server = metrics.serve("127.0.0.1", port)
    try:
        async with httpx.AsyncClient() as http:
            response = await http.get(f"http://127.0.0.1:{port}/metrics")
    finally:
        server.shutdown()

    samples = parse(response.text)
    key = (
        "contractgql_job_runs_total",
        (("job", "scan_all"), ("outcome", "success")),
    )
    assert samples[key] == 1
