"""Liveness and readiness endpoints for load balancers and process supervisors.

`/health/live` returns 200 while the process serves requests at all.
`/health/ready` checks each dependency the API needs: the database always, and
Redis when CONTRACTGQL_REDIS_URL is set. It returns 200 when every check passed
and 503 when one failed, with a JSON body that names each check:

    {"status": "unavailable",
     "checks": {"database": {"status": "up", "duration_ms": 0.8},
                "redis": {"status": "down", "duration_ms": 0.4,
                          "error": "ConnectionError"}}}

The body names only the type of an error, because readiness is often reachable
without a login. The log gets the full error once each time a check goes down,
and a line when it is up again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import redis.asyncio
from starlette.requests import Request
from starlette.responses import JSONResponse
from tortoise import connections

from contractgql.config import Settings

logger = logging.getLogger(__name__)

# Seconds that one check may take before it counts as failed. Load balancers
# usually give the whole request a few seconds.
CHECK_TIMEOUT = 2.0


class ReadinessChecks:
    """The readiness checks of one API process, and whether each passed last."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._down: set[str] = set()

    async def run(self) -> tuple[bool, dict[str, dict[str, object]]]:
        """Run every check; return whether all passed and each one's result."""
        checks: dict[str, Callable[[], Awaitable[None]]] = {"database": _check_database}
        if self.settings.redis_url is not None:
            url = self.settings.redis_url
            checks["redis"] = lambda: _check_redis(url)
        names = list(checks)
        results = await asyncio.gather(*(self._run_one(n, checks[n]) for n in names))
        report = dict(zip(names, results, strict=True))
        return all(result["status"] == "up" for result in results), report

    async def _run_one(
        self, name: str, check: Callable[[], Awaitable[None]]
    ) -> dict[str, object]:
        started = time.perf_counter()
        error: BaseException | None = None
        try:
            await asyncio.wait_for(check(), CHECK_TIMEOUT)
        except Exception as caught:  # noqa: BLE001 - any failure means not ready
            error = caught
        result: dict[str, object] = {
            "status": "up" if error is None else "down",
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        }
        if error is None:
            if name in self._down:
                self._down.discard(name)
                logger.info("Readiness check %s is up again", name)
            return result
        result["error"] = type(error).__name__
        if name not in self._down:
            self._down.add(name)
            logger.warning(
                "Readiness check %s failed: %s: %s. /health/ready returns 503 "
                "until it passes.",
                name,
                type(error).__name__,
                # The format ends the error with its own period, so a message such
                # as "Connection refused." loses its final one.
                str(error).rstrip("."),
            )
        return result


async def _check_database() -> None:
    await connections.get("default").execute_query("SELECT 1")


async def _check_redis(url: str) -> None:
    client = redis.asyncio.Redis.from_url(
        url,
        socket_connect_timeout=CHECK_TIMEOUT,
        socket_timeout=CHECK_TIMEOUT,
        retry_on_timeout=False,
    )
    try:
        await client.ping()
    finally:
        await client.aclose()


async def live(request: Request) -> JSONResponse:
    """`GET /health/live`."""
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> JSONResponse:
    """`GET /health/ready`."""
    checks: ReadinessChecks = request.app.state.readiness
    passed, report = await checks.run()
    body = {"status": "ok" if passed else "unavailable", "checks": report}
    return JSONResponse(body, 200 if passed else 503)
