"""Start the recorder after a request that wrote audit events.

With Redis, the API enqueues an arq job per organization for the workers. Without
it, the API process records the events itself once the response is sent. A failure
here is logged and never fails the request: the events stay in the outbox, and the
periodic sweep of the workers or the in-process scheduler records them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import weakref

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

_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, ArqRedis]] = (
    weakref.WeakKeyDictionary()
)
_last_failure_log = 0.0
_failures_since_log = 0


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
    pool = await _pool(settings)
    await pool.enqueue_job(
        RECORD_AUDIT_JOB, organization_id, _queue_name=settings.worker_queue
    )


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
