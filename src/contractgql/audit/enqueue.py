"""Start the recorder after a request that wrote audit events.

With Redis, the API enqueues arq jobs for the workers: one per organization and time
window of RECORD_WINDOW seconds, deferred to the window's end. So however many
requests arrive, the workers get at most 10 jobs per second and organization.
Without Redis, the API process records the events itself once the response is sent.
A failure here is logged and never fails the request: the events stay in the outbox,
and the periodic sweep of the workers or the in-process scheduler records them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time
import weakref
from datetime import UTC, datetime

from arq import ArqRedis, create_pool
from arq.connections import RedisSettings

from contractgql.audit.recorder import record_audit
from contractgql.config import Settings

logger = logging.getLogger(__name__)

# Name of the worker function that records one organization's outbox.
RECORD_AUDIT_JOB = "record_audit"
# Seconds to wait for Redis when enqueueing, so a Redis outage delays no response.
ENQUEUE_TIMEOUT = 2.0
# Seconds between log lines while enqueueing keeps failing.
FAILURE_LOG_INTERVAL = 60.0
# Width in seconds of the time windows that share one recorder job. The job of a
# window runs after the window ends, so it reads every event that committed before
# a request of the window enqueued it. This adds up to this much to the lag.
RECORD_WINDOW = 0.1

_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, ArqRedis]] = (
    weakref.WeakKeyDictionary()
)
_last_failure_log = 0.0
_failures_since_log = 0
# (Redis URL, queue, organization id) -> the last window whose job this process
# enqueued, so that later requests of the window skip Redis.
_enqueued_windows: dict[tuple[str, str, int], int] = {}
# The clock of the windows, replaceable in tests.
_clock = time.time


async def start_recording(settings: Settings, organization_ids: set[int]) -> None:
    """Enqueue a recorder job for each organization, or record them in process."""
    for organization_id in sorted(organization_ids):
        if settings.redis_url is None:
            try:
                await record_audit(organization_id)
            except Exception:
                logger.exception(
                    "Recording the audit events of organization %s failed; the "
                    "next sweep retries",
                    organization_id,
                )
            continue
        try:
            await asyncio.wait_for(_enqueue(settings, organization_id), ENQUEUE_TIMEOUT)
        except Exception as error:  # noqa: BLE001 - the sweep records them later
            _forget_pool(settings)
            _log_failure(organization_id, error)


async def _enqueue(settings: Settings, organization_id: int) -> None:
    """Enqueue the recorder job of the current window, unless it is enqueued.

    arq rejects a second job with the same id while the first is queued or
    running, and the id names the window. The job cannot start before the window
    ends, so a request whose job was rejected committed before the job reads.
    NOTE: this holds while the workers' clocks are not ahead of the API's. A
    worker whose clock is ahead starts the job early, and an event of the
    window's last moments may then wait for the next request or the sweep.
    """
    window = math.floor(_clock() / RECORD_WINDOW)
    key = (settings.redis_url or "", settings.worker_queue, organization_id)
    if _enqueued_windows.get(key) == window:
        return
    pool = await _pool(settings)
    await pool.enqueue_job(
        RECORD_AUDIT_JOB,
        organization_id,
        _job_id=f"{RECORD_AUDIT_JOB}:{settings.worker_queue}:{organization_id}:"
        f"{window}",
        _defer_until=datetime.fromtimestamp((window + 1) * RECORD_WINDOW, UTC),
        _queue_name=settings.worker_queue,
    )
    _enqueued_windows[key] = window


async def _pool(settings: Settings) -> ArqRedis:
    assert settings.redis_url is not None
    pools = _pools.setdefault(asyncio.get_running_loop(), {})
    pool = pools.get(settings.redis_url)
    if pool is None:
        connection = dataclasses.replace(
            RedisSettings.from_dsn(settings.redis_url),
            conn_retries=0,
            conn_timeout=int(ENQUEUE_TIMEOUT),
        )
        pool = await create_pool(connection)
        pools[settings.redis_url] = pool
    return pool


def _forget_pool(settings: Settings) -> None:
    pools = _pools.get(asyncio.get_running_loop(), {})
    pool = pools.pop(settings.redis_url or "", None)
    if pool is not None:
        task = asyncio.get_running_loop().create_task(pool.aclose())
        task.add_done_callback(lambda done: done.exception())


def _log_failure(organization_id: int, error: BaseException) -> None:
    global _last_failure_log, _failures_since_log
    _failures_since_log += 1
    now = time.monotonic()
    if now - _last_failure_log < FAILURE_LOG_INTERVAL:
        return
    logger.warning(
        "Enqueueing the audit recorder for organization %s failed (%d failures "
        "since the last message): %r. The events stay in the outbox until the "
        "next sweep.",
        organization_id,
        _failures_since_log,
        error,
    )
    _last_failure_log = now
    _failures_since_log = 0


async def worker_pool(settings: Settings) -> ArqRedis:
    """Return this event loop's connection pool to the workers' Redis."""
    return await _pool(settings)


def forget_worker_pool(settings: Settings) -> None:
    """Close the pool after a failure, so the next call connects again."""
    _forget_pool(settings)
