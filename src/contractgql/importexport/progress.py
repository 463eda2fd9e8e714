"""Live progress and cancel requests of running import jobs.

An import writes in one database transaction, and on SQLite that transaction
locks the database file, so neither its progress nor a cancel request can go
through the job's row while it runs. They go through this board instead: the
memory of the process that runs the import, and with CONTRACTGQL_REDIS_URL set
also Redis keys that the API processes and the workers share.
"""

from __future__ import annotations

import logging

from contractgql.audit.enqueue import forget_worker_pool, worker_pool
from contractgql.config import Settings
from contractgql.importexport.importer import ImportProgress

logger = logging.getLogger(__name__)

# Seconds that Redis keeps the progress and the cancel request of a job.
KEY_TTL = 24 * 3600

_progress: dict[int, ImportProgress] = {}
_cancelled: set[int] = set()


def _key(settings: Settings, job_id: int, kind: str) -> str:
    return f"{settings.redis_key_prefix}import:{settings.worker_queue}:{job_id}:{kind}"


async def publish(settings: Settings, job_id: int, progress: ImportProgress) -> None:
    """Store the progress of a running job for readers in every process."""
    _progress[job_id] = progress
    if settings.redis_url is None:
        return
    values = (
        f"{progress.total_rows},{progress.rows_read},"
        f"{progress.rows_written},{progress.rows_rejected}"
    )
    try:
        redis = await worker_pool(settings)
        await redis.set(_key(settings, job_id, "progress"), values, ex=KEY_TTL)
    except Exception as error:  # noqa: BLE001 - progress is informative only
        forget_worker_pool(settings)
        logger.warning("Publishing progress of import job %d failed: %r", job_id, error)


async def read(settings: Settings, job_id: int) -> ImportProgress | None:
    """Return the last published progress of a job, or None when there is none."""
    if job_id in _progress:
        return _progress[job_id]
    if settings.redis_url is None:
        return None
    try:
        redis = await worker_pool(settings)
        raw = await redis.get(_key(settings, job_id, "progress"))
    except Exception as error:  # noqa: BLE001 - the job row still has its status
        forget_worker_pool(settings)
        logger.warning("Reading progress of import job %d failed: %r", job_id, error)
        return None
    if raw is None:
        return None
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    total, read_rows, written, rejected = (int(part) for part in text.split(","))
    return ImportProgress(total, read_rows, written, rejected)


async def request_cancel(settings: Settings, job_id: int) -> None:
    """Record a cancel request where the process running the job will see it.

    Raises the Redis error when Redis is configured but cannot take the request,
    because a worker would otherwise never see it.
    """
    _cancelled.add(job_id)
    if settings.redis_url is None:
        return
    try:
        redis = await worker_pool(settings)
        await redis.set(_key(settings, job_id, "cancel"), "1", ex=KEY_TTL)
    except Exception:
        forget_worker_pool(settings)
        raise


async def cancel_requested(settings: Settings, job_id: int) -> bool:
    if job_id in _cancelled:
        return True
    if settings.redis_url is None:
        return False
    redis = await worker_pool(settings)
    return bool(await redis.exists(_key(settings, job_id, "cancel")))


def forget(job_id: int) -> None:
    """Drop the local entries of a finished job. Redis keys expire by themselves."""
    _progress.pop(job_id, None)
    _cancelled.discard(job_id)


def request_cancel_here(job_id: int) -> None:
    """Record a cancel request for a job that this process runs, such as on Ctrl-C."""
    _cancelled.add(job_id)
