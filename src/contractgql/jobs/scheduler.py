"""Scans inside the API process, for installations without Redis and workers.

The API process started by `contractgql serve` runs `scan_all` once at start and then
at every multiple of the scan interval, counted from midnight UTC, which are the
times the workers' cron job uses too. A failed scan is logged and retried after a
back-off that doubles from one minute up to the interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from contractgql.audit.recorder import record_audit
from contractgql.config import Settings
from contractgql.documents.indexing import extract_pending
from contractgql.jobs.scans import ScanError, ScanReport, scan_all
from contractgql.security.policy import Policy

logger = logging.getLogger(__name__)

# Seconds between sweeps of the audit outbox.
AUDIT_SWEEP_INTERVAL = 60.0
# Seconds between sweeps for document versions whose text is not extracted.
TEXT_SWEEP_INTERVAL = 60.0
# Seconds before the first retry of a failed scan; each further failure doubles it,
# up to the scan interval.
RETRY_BASE = 60.0

Scan = Callable[[], Awaitable[ScanReport]]


def retry_delay(failures: int, interval: float, base: float = RETRY_BASE) -> float:
    """Return the seconds to wait after `failures` failed scans in a row."""
    return float(min(base * 2 ** (failures - 1), interval))


def seconds_until_next_run(interval: float, now: float) -> float:
    """Return the seconds from Unix time `now` to the next multiple of `interval`."""
    next_run = math.floor(now / interval + 1) * interval
    return next_run - now


async def run_scans(
    scan: Scan,
    interval: float,
    *,
    retry_base: float = RETRY_BASE,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Run `scan` now, then at every multiple of `interval` seconds until cancelled."""
    failures = 0
    while True:
        started = time.monotonic()
        try:
            report = await scan()
        except Exception as error:
            failures += 1
            delay = retry_delay(failures, interval, retry_base)
            summary = (
                f" ({error.report.summary()})" if isinstance(error, ScanError) else ""
            )
            logger.error(
                "Scan failed after %.2f s, attempt %d in a row, retrying in %.0f s: "
                "%s%s",
                time.monotonic() - started,
                failures,
                delay,
                error,
                summary,
                exc_info=not isinstance(error, ScanError),
            )
        else:
            failures = 0
            delay = seconds_until_next_run(interval, clock())
            logger.info(
                "Scan finished in %.2f s: %s",
                time.monotonic() - started,
                report.summary(),
            )
        await sleep(delay)


@asynccontextmanager
async def background_scans(
    settings: Settings, policy: Callable[[], Policy]
) -> AsyncIterator[None]:
    """Run the scans in this process while the block runs, when settings ask for it.

    They run when no Redis URL is set and the scheduler is on. `policy` returns the
    current policy, which a reload may replace.
    """
    if not settings.scheduler:
        logger.info(
            "The in-process scheduler is off (CONTRACTGQL_SCHEDULER=off), so this "
            "process runs no reminder scans"
        )
        yield
        return
    if settings.redis_url is not None:
        logger.info(
            "Reminder scans are left to `contractgql worker`, because "
            "CONTRACTGQL_REDIS_URL is set"
        )
        yield
        return

    logger.info(
        "Reminder scans run in this process every %d minutes, because "
        "CONTRACTGQL_REDIS_URL is not set. Run them in workers with "
        "`contractgql worker` and Redis, or set CONTRACTGQL_SCHEDULER=off.",
        settings.scan_interval,
    )

    async def scan() -> ScanReport:
        return await scan_all(policy=policy())

    task = asyncio.create_task(run_scans(scan, settings.scan_interval * 60.0))
    sweep = asyncio.create_task(run_audit_sweeps(AUDIT_SWEEP_INTERVAL))
    text_sweep = asyncio.create_task(run_text_sweeps(settings, TEXT_SWEEP_INTERVAL))
    try:
        yield
    finally:
        for running in (task, sweep, text_sweep):
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running


async def run_audit_sweeps(
    interval: float, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
) -> None:
    """Record every organization's waiting audit events every `interval` seconds.

    The API records a request's events when it has answered. The sweep records the
    ones that this missed, for example because the process stopped in between.
    """
    while True:
        try:
            appended = await record_audit()
        except Exception:
            logger.exception("Audit sweep failed; retrying in %.0f s", interval)
        else:
            if appended:
                logger.info("Audit sweep recorded %d events", appended)
        await sleep(interval)


async def run_text_sweeps(
    settings: Settings,
    interval: float,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Extract the text of pending document versions every `interval` seconds.

    The API extracts a new version's text once its response is sent. The sweep
    extracts the ones that this missed, and those uploaded before extraction
    existed.
    """
    while True:
        try:
            done = await extract_pending(settings)
        except Exception:
            logger.exception("Text sweep failed; retrying in %.0f s", interval)
        else:
            if done:
                logger.info("Text sweep extracted %d document versions", done)
        await sleep(interval)
