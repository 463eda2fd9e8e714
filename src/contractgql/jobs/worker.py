"""The arq worker that `contractgql worker` runs: reminder scans from a Redis queue.

Every worker enqueues the scan as a cron job at each multiple of the scan interval
(UTC), and once when it starts. arq gives a cron job the same id on every worker, so
normally one of them runs it. Still, arq has been reported to run such a job more
than once across workers, and a job cut off by SIGTERM runs again. The start-up runs
are not deduplicated at all. The scan is idempotent through its unique keys, so
these extra runs create nothing twice.

arq reads a WorkerSettings class through its `__dict__`, so inherited attributes are
ignored, and `worker_settings` writes every setting into the class body. arq's
command line can load `contractgql.jobs.worker.WorkerSettings`, which is built from
the environment on first access.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
from datetime import UTC, datetime
from typing import Any

from arq import cron
from arq.connections import RedisSettings
from arq.worker import Retry, create_worker, func
from redis.asyncio.retry import Retry as RedisRetry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from contractgql import db
from contractgql.audit.enqueue import RECORD_AUDIT_JOB
from contractgql.audit.recorder import record_audit
from contractgql.config import Settings
from contractgql.documents.indexing import (
    EXTRACT_TEXT_JOB,
    extract_pending,
    extract_version,
)
from contractgql.importexport.jobs import IMPORT_JOB, IMPORT_TIMEOUT, run_job
from contractgql.importexport.jobs import MAX_ATTEMPTS as IMPORT_MAX_ATTEMPTS
from contractgql.jobs.policy import WorkerPolicy
from contractgql.jobs.scans import ScanError, scan_all
from contractgql.jobs.scheduler import retry_delay
from contractgql.observability.metrics import JobMetrics
from contractgql.security.policy import Policy

logger = logging.getLogger(__name__)

# Tries of one scan job, the first included. With back-offs of 1, 2 and 4 minutes
# they fit within the default interval of 15 minutes.
MAX_TRIES = 4
# Redis commands that fail for lack of a connection are retried with exponential
# back-off, 1, 2, 4 and then 8 s between tries, so that a Redis restart or failover
# does not stop the worker. Opening a connection gives up after about 60 s, and a
# command that loses its connection may retry that several times. After that the
# worker exits with an error, for the process supervisor to restart it.
REDIS_RETRIES = 10
REDIS_BACKOFF_BASE = 0.5
REDIS_BACKOFF_CAP = 8.0
# How long a finished job's result stays in Redis, in seconds.
KEEP_RESULT = 3600
# Passes of one audit recorder run before it hands over to a new job. A pass
# appends at most recorder.MAX_BATCHES batches.
MAX_RECORDER_PASSES = 100
# Seconds between the worker's polls of the queue. arq's default of 0.5 s would
# be up to half of the 1 s that an audit event may wait for its recorder job.
# An idle worker costs Redis one ZRANGEBYSCORE per poll.
POLL_DELAY = 0.1
# Seconds that one text extraction job, and one sweep of up to
# indexing.SWEEP_BATCH versions, may run before arq stops it.
TEXT_JOB_TIMEOUT = 300
TEXT_SWEEP_TIMEOUT = 1800


async def scan_job(ctx: dict[str, Any], now: str | None = None) -> dict[str, Any]:
    """Run `scan_all` as an arq job, retried with back-off when it fails.

    `now` is an ISO 8601 time to scan as of, for tests and catch-up runs. The
    cron job passes none, which means the current time.
    """
    settings: Settings = ctx["settings"]
    moment = datetime.fromisoformat(now) if now else datetime.now(UTC)
    started = asyncio.get_running_loop().time()
    try:
        report = await scan_all(moment, policy=_current_policy(ctx))
    except Exception as error:
        job_try = int(ctx.get("job_try", 1))
        if job_try >= MAX_TRIES:
            logger.error(
                "Scan job %s failed on its last try, %d of %d: %s",
                ctx.get("job_id"),
                job_try,
                MAX_TRIES,
                error,
            )
            raise
        delay = retry_delay(job_try, settings.scan_interval * 60.0)
        logger.error(
            "Scan job %s failed on try %d of %d, retrying in %.0f s: %s",
            ctx.get("job_id"),
            job_try,
            MAX_TRIES,
            delay,
            error,
            exc_info=not isinstance(error, ScanError),
        )
        raise Retry(defer=delay) from error
    logger.info(
        "Scan finished in %.2f s: %s",
        asyncio.get_running_loop().time() - started,
        report.summary(),
    )
    return dataclasses.asdict(report)


class AuditRecorderRuns:
    """The audit recorder runs of one worker process, at most one per organization.

    Recorder jobs can arrive while a run for their organization is in progress:
    the API enqueues one per window of requests, the sweep runs every minute, and
    a backlog can make a run last longer than a window. Such a job only requests
    one more pass of that run and returns. The pass starts after the request, so
    it reads every event that committed before the job was enqueued. Without
    this, the jobs queue on the chain's lock and on the database connections, and
    each reads an outbox that the job before it emptied.
    """

    def __init__(self) -> None:
        # Organization id -> whether a job requested another pass of its run.
        self._pass_requested: dict[int, bool] = {}

    def is_running(self, organization_id: int) -> bool:
        return organization_id in self._pass_requested

    async def record(self, ctx: dict[str, Any], organization_id: int) -> int:
        """Record the organization's outbox, or request a pass of the run in progress.

        Returns the number of entries this call appended: 0 when it only
        requested another pass. A run makes at most MAX_RECORDER_PASSES passes, and
        then enqueues a new job for the rest, so that a constant stream of
        requests does not hold one job past its timeout.
        """
        if self.is_running(organization_id):
            self._pass_requested[organization_id] = True
            return 0
        self._pass_requested[organization_id] = False
        appended = 0
        try:
            for _ in range(MAX_RECORDER_PASSES):
                appended += await record_audit(organization_id)
                if not self._pass_requested[organization_id]:
                    return appended
                self._pass_requested[organization_id] = False
            await _enqueue_recorder(ctx, organization_id)
            return appended
        finally:
            del self._pass_requested[organization_id]


async def _enqueue_recorder(ctx: dict[str, Any], organization_id: int) -> None:
    settings: Settings = ctx["settings"]
    try:
        await ctx["redis"].enqueue_job(
            RECORD_AUDIT_JOB, organization_id, _queue_name=settings.worker_queue
        )
    except Exception as error:  # noqa: BLE001 - the sweep records the events
        logger.warning(
            "Enqueueing the next audit recorder job for organization %s failed: "
            "%r. The events wait for the next sweep.",
            organization_id,
            error,
        )


async def record_audit_job(
    ctx: dict[str, Any], organization_id: int | None = None
) -> int:
    """Move outbox events into the audit log: one organization's, or all of them.

    The API enqueues it for each organization and window of
    `enqueue.RECORD_WINDOW` seconds with requests that wrote events, and the cron
    job sweeps all organizations for events whose job was never enqueued. arq
    retries a failed run, and the recorder's lock makes concurrent runs safe, also
    across workers. Within a worker, jobs of one organization share one run
    (`AuditRecorderRuns`).
    """
    if organization_id is None:
        appended = await record_audit(None)
    else:
        appended = await ctx["audit_runs"].record(ctx, organization_id)
    if appended:
        logger.info(
            "Recorded %d audit events of %s",
            appended,
            "all organizations"
            if organization_id is None
            else f"organization {organization_id}",
        )
    return appended


async def extract_text_job(ctx: dict[str, Any], version_id: int) -> str | None:
    """Extract the text of one document version, which the API enqueues."""
    status = await extract_version(ctx["settings"], version_id)
    return None if status is None else status.value


async def extract_pending_job(ctx: dict[str, Any]) -> int:
    """Extract the versions whose text is still pending, a batch per run."""
    done = await extract_pending(ctx["settings"])
    if done:
        logger.info("Text sweep extracted %d document versions", done)
    return done


async def import_job(ctx: dict[str, Any], job_id: int) -> str | None:
    """Run one import job, which the API or `contractgql import --enqueue` queued."""
    policies: WorkerPolicy = ctx["policies"]
    job = await run_job(ctx["settings"], policies.current(), job_id)
    return None if job is None else job.status.value


def _current_policy(ctx: dict[str, Any]) -> Policy | None:
    """Return the worker's policy, reloaded first when its files changed, or None
    outside a worker, which makes a scan load the policy itself."""
    policies: WorkerPolicy | None = ctx.get("policies")
    return None if policies is None else policies.current()


class LoggedBackoff(ExponentialBackoff):
    """Exponential back-off that logs each retry of a Redis connection."""

    def compute(self, failures: int) -> float:
        delay = float(super().compute(failures))
        logger.warning(
            "Redis cannot be reached, retry %d of %d in %.0f s",
            failures,
            REDIS_RETRIES,
            delay,
        )
        return delay


def redis_settings(url: str) -> RedisSettings:
    """Return arq's connection settings for `url`, with retries on lost connections."""
    parsed = RedisSettings.from_dsn(url)
    return dataclasses.replace(
        parsed,
        conn_retries=REDIS_RETRIES,
        retry_on_timeout=True,
        # OSError covers a refused connection while Redis restarts: redis-py 5.3
        # retries opening a connection only on the errors listed here.
        retry_on_error=[RedisConnectionError, RedisTimeoutError, OSError],
        retry=RedisRetry(
            LoggedBackoff(cap=REDIS_BACKOFF_CAP, base=REDIS_BACKOFF_BASE),
            REDIS_RETRIES,
        ),
    )


def cron_times(interval_minutes: int) -> tuple[set[int] | None, set[int]]:
    """Return arq cron's `hour` and `minute` sets for runs every `interval_minutes`.

    The interval divides an hour, or is a whole number of hours that divides a day,
    which config.load_settings checks.
    """
    if interval_minutes < 60:
        return None, set(range(0, 60, interval_minutes))
    return set(range(0, 24, interval_minutes // 60)), {0}


def worker_settings(settings: Settings, policies: WorkerPolicy | None = None) -> type:
    """Return an arq WorkerSettings class for `settings`, every setting in its body.

    `policies` is the policy that `run` loaded before arq started. Without it, the
    worker's start loads the policy from `settings.policy_dir`.
    """
    if settings.redis_url is None:
        raise ValueError("worker_settings needs settings with a Redis URL")
    timeout = settings.scan_timeout
    hours, minutes = cron_times(settings.scan_interval)
    connection = redis_settings(settings.redis_url)
    metrics = JobMetrics()
    # The job names of the metrics: cron jobs count under the name of the job
    # they enqueue, without the queue name that makes their arq name unique.
    scan = metrics.measured("scan_all", scan_job)
    record = metrics.measured(RECORD_AUDIT_JOB, record_audit_job)
    extract = metrics.measured(EXTRACT_TEXT_JOB, extract_text_job)
    sweep_texts = metrics.measured("extract_pending_texts", extract_pending_job)

    async def startup(ctx: dict[str, Any]) -> None:
        # Before the database opens, which a failure here would leave open.
        if settings.worker_metrics_port is not None:
            ctx["metrics_server"] = _serve_metrics(metrics, settings)
        await db.connect(settings)
        worker_policies = policies or WorkerPolicy(settings.policy_dir)
        ctx["policies"] = worker_policies
        ctx["hangup_handled"] = worker_policies.reload_on_hangup()
        ctx["audit_runs"] = AuditRecorderRuns()
        logger.info(
            "Worker started on queue %r: scans every %d minutes and at start",
            settings.worker_queue,
            settings.scan_interval,
        )

    async def shutdown(ctx: dict[str, Any]) -> None:
        if ctx.pop("hangup_handled", False):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        server = ctx.pop("metrics_server", None)
        if server is not None:
            server.shutdown()
        await db.disconnect()

    class WorkerSettings:
        functions = [
            func(
                scan,
                name="scan_all",
                timeout=timeout,
                max_tries=MAX_TRIES,
                keep_result=KEEP_RESULT,
            ),
            func(
                record,
                name=RECORD_AUDIT_JOB,
                max_tries=MAX_TRIES,
                keep_result=0,
            ),
            func(
                extract,
                name=EXTRACT_TEXT_JOB,
                max_tries=MAX_TRIES,
                timeout=TEXT_JOB_TIMEOUT,
                keep_result=KEEP_RESULT,
            ),
            # One try more than run_job allows, so that the last one marks the
            # job failed in the database instead of arq dropping it.
            func(
                import_job,
                name=IMPORT_JOB,
                max_tries=IMPORT_MAX_ATTEMPTS + 1,
                timeout=IMPORT_TIMEOUT,
                keep_result=KEEP_RESULT,
            ),
        ]
        # The queue name goes into the cron job's name because arq's job ids are
        # global to the Redis database: without it, two installations sharing one
        # database would drop each other's scans as duplicates.
        cron_jobs = [
            cron(
                scan,
                name=f"cron:{settings.worker_queue}:scan_all",
                hour=hours,
                minute=minutes,
                run_at_startup=True,
                timeout=timeout,
                max_tries=MAX_TRIES,
            ),
            cron(
                record,
                name=f"cron:{settings.worker_queue}:record_audit",
                minute=None,
                run_at_startup=True,
                max_tries=MAX_TRIES,
            ),
            cron(
                sweep_texts,
                name=f"cron:{settings.worker_queue}:extract_pending_texts",
                minute=None,
                run_at_startup=True,
                max_tries=MAX_TRIES,
                timeout=TEXT_SWEEP_TIMEOUT,
            ),
        ]
        queue_name = settings.worker_queue
        redis_settings = connection
        on_startup = startup
        on_shutdown = shutdown
        ctx = {"settings": settings, "job_metrics": metrics}
        job_timeout = timeout
        max_tries = MAX_TRIES
        keep_result = KEEP_RESULT
        health_check_interval = 60
        poll_delay = POLL_DELAY
        timezone = UTC

    return WorkerSettings


class MetricsPortError(Exception):
    """The worker's metrics server cannot listen on its host and port."""


def _serve_metrics(metrics: JobMetrics, settings: Settings) -> Any:
    host, port = settings.worker_metrics_host, settings.worker_metrics_port
    assert port is not None
    try:
        return metrics.serve(host, port)
    except OSError as error:
        # Raised as another type, so that run() does not report it as Redis being
        # unreachable.
        raise MetricsPortError(
            f"The worker cannot serve its metrics on {host}:{port}: "
            f"{error.strerror or error}. Set CONTRACTGQL_WORKER_METRICS_PORT to a "
            "free port, or stop the process that uses this one."
        ) from error


def run(settings: Settings) -> int:
    """Run a worker until SIGINT or SIGTERM; return the process exit status.

    SIGHUP reloads the policy. The signal is ignored until the worker has started,
    because its default action would end the process, and the policy loaded here
    is current then anyway. An invalid policy raises PolicyError before arq starts.
    """
    with contextlib.suppress(AttributeError, ValueError):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    # Loaded before arq starts and logs, so an invalid policy raises PolicyError,
    # which the command line prints as its only line, as `serve` does.
    policies = WorkerPolicy(settings.policy_dir)
    if settings.is_sqlite:
        asyncio.run(db.migrate(settings))
    try:
        _run_until_stopped(worker_settings(settings, policies))
    except MetricsPortError as error:
        logger.error("%s", error)
        return 1
    except (RedisConnectionError, RedisTimeoutError, OSError) as error:
        logger.error(
            "The worker stopped because Redis at %s cannot be reached: %s. Check "
            "CONTRACTGQL_REDIS_URL and that Redis runs.",
            _safe_url(settings.redis_url or ""),
            str(error).rstrip("."),
        )
        return 1
    return 0


def _run_until_stopped(settings_class: type) -> None:
    """Run an arq worker, and close the database when a stop cut off a job.

    arq cancels running jobs on SIGTERM and then raises that cancellation before
    its shutdown hook runs. The database would stay open, and on SQLite its
    thread would keep the process from exiting. The job runs again later.
    """
    worker = create_worker(settings_class)
    try:
        worker.run()
    except asyncio.CancelledError:
        logger.info("The worker stopped during a job, which runs again later")
        worker.loop.run_until_complete(db.disconnect())


def _safe_url(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rsplit('@', 1)[-1]}"


def __getattr__(name: str) -> Any:
    # `arq contractgql.jobs.worker.WorkerSettings` reads the class from here. It is
    # built on access, so importing this module reads no environment.
    if name == "WorkerSettings":
        from contractgql.config import load_settings

        return worker_settings(load_settings())
    raise AttributeError(name)
