"""Real `contractgql worker` processes on a Redis server of the test's own.

The workers scan the scratch database as of the real current time, so the contracts
here are dated from the organization's real local date. Each organization gets the
fixed-offset timezone in which it is about noon now, so the local date cannot change
while a test runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from arq.connections import RedisSettings, create_pool
from arq.worker import Retry, get_kwargs

from contractgql.config import Settings
from contractgql.domain.dates import local_today
from contractgql.jobs import worker as worker_module
from contractgql.jobs.scans import scan_all
from contractgql.jobs.worker import scan_job, worker_settings
from contractgql.models import Contract, Notification, Reminder, Task
from tests.conftest import BACKEND
from tests.jobs.conftest import CONTRACTGQL, process_env
from tests.jobs.factory import World, make_contracts, make_type, make_world
from tests.jobs.processes import RedisServer, Worker, wait_for, wait_until

WORKFLOW = [{"title": "Contact the client", "assignee": "owner", "days_after": 2}]
OFFSETS = [{"count": 30, "unit": "days"}, {"count": 40, "unit": "days"}]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def worker_env(scratch_settings: Settings, redis_server: RedisServer) -> dict[str, str]:
    return process_env(
        scratch_settings,
        CONTRACTGQL_REDIS_URL=redis_server.url,
        CONTRACTGQL_WORKER_QUEUE=f"test:{uuid.uuid4().hex[:8]}",
        CONTRACTGQL_SCAN_TIMEOUT="60",
        # Scheduled scans only at midnight UTC: one at a quarter hour took the
        # reminders that a test's own scan was asserted to create.
        CONTRACTGQL_SCAN_INTERVAL="1440",
    )


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[Worker]]:
    """Collect the workers a test starts and kill any still running at its end."""
    started: list[Worker] = []
    yield started
    for worker in started:
        if worker.process.poll() is None:
            worker.kill()


def noon_timezone() -> str:
    """Return the Etc/GMT zone in which the local time is closest to noon now."""
    offset = 12 - datetime.now(UTC).hour
    offset = max(-11, min(12, offset))
    # POSIX-style names invert the sign: Etc/GMT-3 is three hours ahead of UTC.
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"


async def due_world(count: int) -> tuple[World, list[int], date]:
    """Create `count` contracts, each with a reminder due today and one 10 days late."""
    world = await make_world(noon_timezone())
    today = local_today(world.organization.timezone)
    contract_type = await make_type(world, workflow=WORKFLOW)
    ids = await make_contracts(
        world,
        count,
        contract_type_id=contract_type.id,
        start_date=today - timedelta(days=100),
        end_date=today + timedelta(days=30),
        reminder_offsets=OFFSETS,
    )
    return world, ids, today


async def assert_exactly_once(world: World, ids: list[int], today: date) -> None:
    """Assert two reminders, one task and three notifications per contract, no more."""
    org = world.organization.id
    end = today + timedelta(days=30)
    reminders = await Reminder.filter(organization_id=org).values_list(
        "contract_id", "kind", "anchor_date", "offset_count", "due_date", "late"
    )
    expected = []
    for contract_id in ids:
        expected.append((contract_id, "end", end, 30, today, False))
        expected.append((contract_id, "end", end, 40, today - timedelta(days=10), True))
    assert sorted((c, k.value, a, n, d, bool(x)) for c, k, a, n, d, x in reminders) == (
        sorted(expected)
    )

    # One workflow per term, started by its earliest reminder, the late one.
    tasks = await Task.filter(organization_id=org).values_list(
        "contract_id", "step", "assignee_id", "due_date", "reminder__offset_count"
    )
    assert sorted(tasks) == [
        (contract_id, 0, world.owner.id, today - timedelta(days=8), 40)
        for contract_id in sorted(ids)
    ]

    # The owner hears of both reminders and of the task.
    sources = await Notification.filter(organization_id=org).values_list(
        "user_id", "source"
    )
    assert len(sources) == 3 * len(ids)
    assert len(set(sources)) == 3 * len(ids)


async def test_three_workers_and_direct_scans_race(
    scratch: Settings, worker_env: dict[str, str], workers: list[Worker], tmp_path: Path
) -> None:
    world, ids, today = await due_world(1500)

    for index in range(3):
        workers.append(Worker.start(worker_env, tmp_path / f"worker-{index}.log"))
    wait_until(
        lambda: any("→ cron:" in worker.text() for worker in workers),
        60,
        "a worker to start its scan",
    )
    direct = await asyncio.gather(scan_all(), scan_all())
    # Each worker enqueues one start-up scan, and any worker may run any of them.
    wait_until(
        lambda: sum(worker.scans_finished() for worker in workers) >= 3,
        60,
        "the three start-up scans",
    )
    for worker in workers:
        assert worker.stop() == 0, worker.text()

    await assert_exactly_once(world, ids, today)
    finished = [
        line
        for worker in workers
        for line in worker.text().splitlines()
        if "Scan finished in" in line
    ]
    assert len(finished) == 3
    created_by_workers = sum(
        int(line.split(" reminders created")[0].rsplit(" ", 1)[-1]) for line in finished
    )
    # Five scans ran, most of them at once, and between them they report each of
    # the 3,000 reminders created exactly once.
    assert created_by_workers + sum(r.reminders_created for r in direct) == 3000


@contextlib.asynccontextmanager
async def reminders_locked(settings: Settings) -> AsyncIterator[None]:
    """Block inserts into the reminders table from other sessions, not reads."""
    if BACKEND == "postgres":
        assert settings.database_url is not None
        url = settings.database_url.replace("postgres://", "postgresql://", 1)
        connection = await asyncpg.connect(url)
        transaction = connection.transaction()
        await transaction.start()
        await connection.execute("LOCK TABLE reminders IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            await transaction.rollback()
            await connection.close()
        return
    path = settings.resolved_database_url.removeprefix("sqlite://")
    database = sqlite3.connect(path, isolation_level=None, timeout=10)
    database.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        database.execute("ROLLBACK")
        database.close()


async def test_worker_killed_mid_scan_then_restarted(
    scratch: Settings, worker_env: dict[str, str], workers: list[Worker], tmp_path: Path
) -> None:
    world, ids, today = await due_world(4000)
    org = world.organization.id
    total = 2 * len(ids)

    async def first_batch_written() -> bool:
        return await Reminder.filter(organization_id=org).exists()

    first = Worker.start(worker_env, tmp_path / "first.log")
    workers.append(first)
    await wait_for(first_batch_written, 60, "the first batch of reminders")
    async with reminders_locked(scratch):
        # The worker now waits to insert its next batch, in the middle of the scan.
        await asyncio.sleep(0.5)
        written = await Reminder.filter(organization_id=org).count()
        first.kill()
    assert 0 < written < total
    assert first.scans_finished() == 0

    second = Worker.start(worker_env, tmp_path / "second.log")
    workers.append(second)
    wait_until(lambda: second.scans_finished() >= 1, 60, "the restarted worker's scan")
    assert second.stop() == 0, second.text()

    await assert_exactly_once(world, ids, today)


async def test_worker_stopped_mid_scan_exits_then_scan_runs_again(
    scratch: Settings, worker_env: dict[str, str], workers: list[Worker], tmp_path: Path
) -> None:
    world, ids, today = await due_world(4000)
    org = world.organization.id

    async def first_batch_written() -> bool:
        return await Reminder.filter(organization_id=org).exists()

    first = Worker.start(worker_env, tmp_path / "first.log")
    workers.append(first)
    await wait_for(first_batch_written, 60, "the first batch of reminders")
    async with reminders_locked(scratch):
        # SIGTERM arrives while the scan waits to insert its next batch.
        await asyncio.sleep(0.5)
        first.process.send_signal(signal.SIGTERM)
        await asyncio.sleep(1)
    status = await asyncio.to_thread(first.process.wait, 30)

    assert status == 0, first.text()
    assert first.scans_finished() == 0
    second = Worker.start(worker_env, tmp_path / "second.log")
    workers.append(second)
    wait_until(lambda: second.scans_finished() >= 1, 60, "the restarted worker's scan")
    assert second.stop() == 0, second.text()
    await assert_exactly_once(world, ids, today)


async def test_worker_survives_redis_restart(
    scratch: Settings,
    worker_env: dict[str, str],
    workers: list[Worker],
    redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    world, ids, today = await due_world(20)
    worker = Worker.start(worker_env, tmp_path / "worker.log")
    workers.append(worker)
    wait_until(lambda: worker.scans_finished() >= 1, 60, "the start-up scan")

    redis_server.stop()
    await asyncio.sleep(1.5)
    redis_server.start()
    more_ids = await make_contracts_after(world, ids, today)

    pool = await create_pool(
        RedisSettings.from_dsn(redis_server.url),
        default_queue_name=worker_env["CONTRACTGQL_WORKER_QUEUE"],
    )
    try:
        job = await pool.enqueue_job("scan_all")
        assert job is not None
        result: dict[str, Any] = await job.result(timeout=60, poll_delay=0.1)
    finally:
        await pool.aclose()

    assert worker.process.poll() is None, worker.text()
    assert result["reminders_created"] == 2 * len(more_ids)
    assert result["failed_organizations"] == []
    assert worker.stop() == 0, worker.text()
    await assert_exactly_once(world, ids + more_ids, today)


async def make_contracts_after(world: World, ids: list[int], today: date) -> list[int]:
    """Add 5 more due contracts of the same type; return their ids."""
    contract_type_id = (
        await Contract.filter(id=ids[0]).values_list("contract_type_id", flat=True)
    )[0]
    return await make_contracts(
        world,
        5,
        contract_type_id=contract_type_id,
        start_date=today - timedelta(days=100),
        end_date=today + timedelta(days=30),
        reminder_offsets=OFFSETS,
    )


def test_worker_without_redis_names_setting(scratch_settings: Settings) -> None:
    result = subprocess.run(
        [*CONTRACTGQL, "worker"],
        env=process_env(scratch_settings),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert "CONTRACTGQL_REDIS_URL is not set" in result.stderr


def test_worker_settings_on_class_itself() -> None:
    settings = Settings(
        redis_url="redis://127.0.0.1:6399/3", scan_interval=15, worker_queue="q"
    )

    cls = worker_settings(settings)
    kwargs: dict[str, Any] = get_kwargs(cls)

    for name in (
        "functions",
        "cron_jobs",
        "queue_name",
        "redis_settings",
        "on_startup",
        "on_shutdown",
        "job_timeout",
        "max_tries",
        "keep_result",
        "timezone",
        "ctx",
    ):
        assert name in cls.__dict__
        assert name in kwargs
    cron_job, audit_sweep, text_sweep = kwargs["cron_jobs"]
    assert cron_job.name == "cron:q:scan_all"
    assert audit_sweep.name == "cron:q:record_audit"
    assert audit_sweep.minute is None
    assert audit_sweep.run_at_startup is True
    assert text_sweep.name == "cron:q:extract_pending_texts"
    assert text_sweep.minute is None
    assert text_sweep.run_at_startup is True
    assert cron_job.minute == {0, 15, 30, 45}
    assert cron_job.hour is None
    assert cron_job.run_at_startup is True
    assert cron_job.max_tries == 4
    assert cron_job.timeout_s == 600
    assert kwargs["queue_name"] == "q"
    assert kwargs["redis_settings"].database == 3
    assert kwargs["redis_settings"].port == 6399
    assert kwargs["redis_settings"].retry is not None


def test_hourly_interval_cron_hours() -> None:
    settings = Settings(redis_url="redis://127.0.0.1:6399/0", scan_interval=360)

    kwargs: dict[str, Any] = get_kwargs(worker_settings(settings))
    cron_job, _, _ = kwargs["cron_jobs"]

    assert cron_job.hour == {0, 6, 12, 18}
    assert cron_job.minute == {0}


def test_worker_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTRACTGQL_REDIS_URL", "redis://127.0.0.1:6399/2")
    monkeypatch.setenv("CONTRACTGQL_WORKER_QUEUE", "from-env")

    kwargs: dict[str, Any] = get_kwargs(worker_module.WorkerSettings)

    assert kwargs["queue_name"] == "from-env"
    assert kwargs["redis_settings"].database == 2


async def test_failed_scan_job_retries_with_backoff(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def failing_scan(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database unavailable")

    monkeypatch.setattr(worker_module, "scan_all", failing_scan)
    settings = Settings(scan_interval=15)
    delays = []
    for job_try in (1, 2, 3):
        with pytest.raises(Retry) as raised:
            await scan_job({"settings": settings, "policy": None, "job_try": job_try})
        delays.append(raised.value.defer_score)

    with pytest.raises(RuntimeError, match="database unavailable"):
        await scan_job({"settings": settings, "policy": None, "job_try": 4})

    assert delays == [60_000, 120_000, 240_000]
