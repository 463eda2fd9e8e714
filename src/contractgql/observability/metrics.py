"""Prometheus metrics of the API and the workers.

Each process keeps its own metrics in a registry of its own, and Prometheus scrapes
every process: an API process at its `/metrics` route, a worker at the port that
CONTRACTGQL_WORKER_METRICS_PORT sets. Prometheus labels each series with the
instance it scraped, so `sum by (...)` adds up the processes. prometheus_client's
multiprocess mode is not used, because it only adds up processes that share one
host and one folder, and the API and workers usually run on several hosts.

Operation names come from the clients, so each process labels at most
MAX_OPERATION_NAMES distinct names and counts later ones as `other`.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import re
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import prometheus_client
from arq.typing import WorkerCoroutine
from arq.worker import Retry
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from contractgql.config import Settings

logger = logging.getLogger(__name__)

# The `_created` series of every counter double the output, and nothing in this
# project reads them.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]

MAX_OPERATION_NAMES = 100
OTHER_OPERATION = "other"
_OPERATION_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")
# Latency buckets in seconds, from a cached page (a few ms) to a large export.
REQUEST_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0, 1800.0)


@dataclass
class RequestObservation:
    """The route, operations and error codes of one HTTP request, counted at its end."""

    # The route's path template, such as /documents/{version_id}, or "" when no
    # route matched.
    route: str = ""
    # (operation type, operation name) of each GraphQL operation executed.
    operations: list[tuple[str, str]] = field(default_factory=list)
    # extensions.code of each GraphQL error in the response.
    error_codes: list[str] = field(default_factory=list)


# Set by the request middleware for each HTTP request, None elsewhere.
current_observation: ContextVar[RequestObservation | None] = ContextVar(
    "contractgql_request_observation", default=None
)


class HttpMetrics:
    """Request counts, latencies and GraphQL error counts of one API process."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        if registry is None:
            registry = CollectorRegistry()
            prometheus_client.ProcessCollector(registry=registry)
            prometheus_client.PlatformCollector(registry=registry)
            prometheus_client.GCCollector(registry=registry)
        self.registry = registry
        labels = ("route", "operation_type", "operation_name", "status")
        self.requests = Counter(
            "contractgql_http_requests",
            "HTTP requests handled, by route, GraphQL operation and status code.",
            labels,
            registry=registry,
        )
        self.duration = Histogram(
            "contractgql_http_request_duration_seconds",
            "Time from receiving an HTTP request until its response was sent, in "
            "seconds, by route, GraphQL operation and status code.",
            labels,
            buckets=REQUEST_BUCKETS,
            registry=registry,
        )
        self.errors = Counter(
            "contractgql_graphql_errors",
            "GraphQL errors in responses, by extensions.code.",
            ("code",),
            registry=registry,
        )
        self._operation_names: set[str] = set()
        self._names_lock = threading.Lock()

    def observe(
        self, observation: RequestObservation, status: int, seconds: float
    ) -> None:
        """Count one finished request."""
        operation_type, operation_name = self._operation_labels(observation)
        labels = (observation.route, operation_type, operation_name, str(status))
        self.requests.labels(*labels).inc()
        self.duration.labels(*labels).observe(seconds)
        for code in observation.error_codes:
            self.errors.labels(code).inc()

    def _operation_labels(self, observation: RequestObservation) -> tuple[str, str]:
        if not observation.operations:
            return "", ""
        if len(observation.operations) > 1:
            return "batch", ""
        operation_type, name = observation.operations[0]
        return operation_type, self._bounded_name(name)

    def _bounded_name(self, name: str) -> str:
        if not name:
            return ""
        if not _OPERATION_NAME.fullmatch(name):
            return OTHER_OPERATION
        with self._names_lock:
            if name in self._operation_names:
                return name
            if len(self._operation_names) >= MAX_OPERATION_NAMES:
                return OTHER_OPERATION
            self._operation_names.add(name)
        return name


def exposition(registry: CollectorRegistry) -> Response:
    """Return the registry's metrics in the Prometheus text format."""
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def metrics_access_allowed(request: Request, settings: Settings) -> bool:
    """Return whether the caller may read /metrics.

    A request carrying `Authorization: Bearer <CONTRACTGQL_METRICS_TOKEN>` may.
    So may one whose direct peer address is in CONTRACTGQL_METRICS_NETWORKS,
    unless that peer is a trusted reverse proxy: a proxy forwards everyone's
    requests, so those need the token.
    """
    token = settings.metrics_token
    if token is not None:
        scheme, _, credentials = (
            request.headers.get("authorization", "").strip().partition(" ")
        )
        if scheme.lower() == "bearer" and secrets.compare_digest(
            credentials.strip().encode(), token.encode()
        ):
            return True
    if not settings.metrics_networks or request.client is None:
        return False
    try:
        peer = ipaddress.ip_address(request.client.host)
    except ValueError:
        return False
    if _in_networks(peer, settings.trusted_proxies):
        return False
    return _in_networks(peer, settings.metrics_networks)


def _in_networks(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: tuple[str, ...]
) -> bool:
    return any(address in ipaddress.ip_network(network) for network in networks)


async def metrics_endpoint(request: Request) -> Response:
    """`GET /metrics`: this process's metrics, for the callers that may read them."""
    settings: Settings = request.app.state.services.settings
    if not settings.metrics_token and not settings.metrics_networks:
        return PlainTextResponse(
            "Metrics are off: set CONTRACTGQL_METRICS_TOKEN or "
            "CONTRACTGQL_METRICS_NETWORKS to serve them.\n",
            404,
        )
    if not metrics_access_allowed(request, settings):
        return PlainTextResponse(
            "Reading metrics needs 'Authorization: Bearer <CONTRACTGQL_METRICS_TOKEN>' "
            "or a client address in CONTRACTGQL_METRICS_NETWORKS.\n",
            403,
        )
    metrics: HttpMetrics = request.app.state.http_metrics
    return exposition(metrics.registry)


class JobMetrics:
    """Runs of the worker's jobs, by job name and outcome.

    The outcomes are:

    - `success`: the job returned.
    - `retry`: the job raised arq's Retry, so arq runs it again later.
    - `failure`: the job raised any other exception.
    - `cancelled`: arq stopped the job at its timeout or at shutdown.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        if registry is None:
            registry = CollectorRegistry()
            prometheus_client.ProcessCollector(registry=registry)
            prometheus_client.PlatformCollector(registry=registry)
            prometheus_client.GCCollector(registry=registry)
        self.registry = registry
        self.runs = Counter(
            "contractgql_job_runs",
            "Job runs in this worker, by job name and outcome.",
            ("job", "outcome"),
            registry=registry,
        )
        self.duration = Histogram(
            "contractgql_job_duration_seconds",
            "Duration of job runs in this worker, in seconds, by job name and outcome.",
            ("job", "outcome"),
            buckets=JOB_BUCKETS,
            registry=registry,
        )

    def measured(
        self, job: str, function: Callable[..., Awaitable[Any]]
    ) -> WorkerCoroutine:
        """Wrap an arq job function so that each run is counted under `job`."""

        @functools.wraps(function)
        async def run(ctx: dict[Any, Any], *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            outcome = "failure"
            try:
                result = await function(ctx, *args, **kwargs)
            except Retry:
                outcome = "retry"
                raise
            except asyncio.CancelledError:
                outcome = "cancelled"
                raise
            else:
                outcome = "success"
                return result
            finally:
                self.runs.labels(job, outcome).inc()
                self.duration.labels(job, outcome).observe(
                    time.perf_counter() - started
                )

        return run

    def serve(self, host: str, port: int) -> Any:
        """Serve the metrics over HTTP on a thread; return the server to shut down."""
        server, _thread = prometheus_client.start_http_server(
            port, addr=host, registry=self.registry
        )
        logger.info("Worker metrics are served on http://%s:%d/metrics", host, port)
        return server
