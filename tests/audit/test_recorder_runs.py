"""Recorder jobs: one per organization and window, and one run per worker.

The tests with Redis use the server at CONTRACTGQL_TEST_REDIS_URL (default
127.0.0.1:6379, database 0) with a queue name of their own, and delete that
queue's keys at the end.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from arq import ArqRedis, create_pool
from arq.connections import RedisSettings

from contractgql.audit import enqueue
from contractgql.audit.enqueue import RECORD_AUDIT_JOB, RECORD_WINDOW, start_recording
from contractgql.audit.recorder import record_audit
from contractgql.config import Settings
from contractgql.jobs import worker as worker_module
from contractgql.jobs.worker import AuditRecorderRuns, record_audit_job
from contractgql.models import AuditOutbox
from tests.audit.test_recorder import assert_complete_chain, make_events
from tests.jobs.conftest import CONTRACTGQL, process_env, read_log
from tests.jobs.processes import wait_for, wait_until

REDIS_URL = os.environ.get("CONTRACTGQL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# Seconds the worker may take to start, and to record a burst of events.
WORKER_TIMEOUT = 60


def new_event(organization_id: int, entity_id: int) -> AuditOutbox:
    return AuditOutbox(
        organization_id=organization_id,
        actor_id=None,
        action="contract.update",
        entity_type="Contract",
        entity_id=entity_id,
        changes=[{"field": "name", "old": "a", "new": f"b{entity_id}"}],
        request_id=f"request-{entity_id}",
        created_at=datetime.now(UTC),
    )


@pytest_asyncio.fixture
async def queue() -> AsyncIterator[tuple[str, ArqRedis]]:
    """Yield a queue name of this test and a pool on the test Redis server."""
    name = f"test-audit:{uuid.uuid4().hex[:10]}"
    pool = await create_pool(RedisSettings.from_dsn(REDIS_URL))
    try:
        yield name, pool
    finally:
        keys = [key async for key in pool.scan_iter(match=f"*{name}*", count=1000)]
        job_ids = await pool.zrange(name, 0, -1)
        keys += [b"arq:job:" + job_id for job_id in job_ids]
        if keys:
            await pool.delete(*keys)
        await pool.aclose()


async def test_requests_in_window_share_job(
    scratch: Settings,
    monkeypatch: pytest.MonkeyPatch,
    queue: tuple[str, ArqRedis],
) -> None:
    queue_name, pool = queue
    settings = dataclasses.replace(
        scratch, redis_url=REDIS_URL, worker_queue=queue_name
    )
    window = 20_000_000_000
    now = window * RECORD_WINDOW + RECORD_WINDOW / 4
    monkeypatch.setattr(enqueue, "_clock", lambda: now)

    for _ in range(5):
        await start_recording(settings, {1, 2})
    # Another API process has its own memory of the windows: Redis rejects the
    # job id that this one already enqueued.
    monkeypatch.setattr(enqueue, "_enqueued_windows", {})
    await start_recording(settings, {1})

    queued = sorted(
        await pool.queued_jobs(queue_name=queue_name), key=lambda job: job.args
    )
    assert [job.args for job in queued] == [(1,), (2,)]
    assert {job.function for job in queued} == {RECORD_AUDIT_JOB}
    first_score = await pool.zscore(queue_name, queued[0].job_id)
    assert first_score == round((window + 1) * RECORD_WINDOW * 1000)

    now += RECORD_WINDOW
    await start_recording(settings, {1})

    assert await pool.zcard(queue_name) == 3


async def test_concurrent_jobs_share_one_run(
    scratch: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    organization = await make_events(30)
    passes: list[int | None] = []

    async def slow_record(organization_id: int | None = None, **kwargs: Any) -> int:
        passes.append(organization_id)
        await asyncio.sleep(0.05)
        return await record_audit(organization_id, **kwargs)

    monkeypatch.setattr(worker_module, "record_audit", slow_record)
    ctx: dict[str, Any] = {"audit_runs": AuditRecorderRuns(), "settings": scratch}

    results = await asyncio.gather(
        *(record_audit_job(ctx, organization.id) for _ in range(10))
    )

    assert results == [30] + [0] * 9
    assert passes == [organization.id, organization.id]
    assert not ctx["audit_runs"].is_running(organization.id)
    await assert_complete_chain(organization, 30)


async def test_job_during_pass_gets_another_pass(
    scratch: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    organization = await make_events(5)
    ctx: dict[str, Any] = {"audit_runs": AuditRecorderRuns(), "settings": scratch}
    late_jobs: list[asyncio.Task[int]] = []

    async def record_then_commit(
        organization_id: int | None = None, **kwargs: Any
    ) -> int:
        appended = await record_audit(organization_id, **kwargs)
        if not late_jobs:
            # An event that commits after this pass read the outbox, and its job.
            await new_event(organization.id, 6).save()
            job = asyncio.create_task(record_audit_job(ctx, organization.id))
            late_jobs.append(job)
            await asyncio.sleep(0)
            assert job.done(), "the late job waited for the run"
        return appended

    monkeypatch.setattr(worker_module, "record_audit", record_then_commit)

    first = await record_audit_job(ctx, organization.id)

    assert first == 6
    assert await late_jobs[0] == 0
    await assert_complete_chain(organization, 6)


async def test_failed_pass_ends_run(
    scratch: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    organization = await make_events(3)
    ctx: dict[str, Any] = {"audit_runs": AuditRecorderRuns(), "settings": scratch}

    async def broken_record(organization_id: int | None = None, **kwargs: Any) -> int:
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(worker_module, "record_audit", broken_record)
    with pytest.raises(ConnectionError):
        await record_audit_job(ctx, organization.id)
    assert not ctx["audit_runs"].is_running(organization.id)

    monkeypatch.setattr(worker_module, "record_audit", record_audit)
    assert await record_audit_job(ctx, organization.id) == 3
    await assert_complete_chain(organization, 3)


async def test_busy_run_hands_over_to_new_job(
    scratch: Settings,
    monkeypatch: pytest.MonkeyPatch,
    queue: tuple[str, ArqRedis],
) -> None:
    queue_name, pool = queue
    monkeypatch.setattr(worker_module, "MAX_RECORDER_PASSES", 3)
    organization = await make_events(2)
    settings = dataclasses.replace(
        scratch, redis_url=REDIS_URL, worker_queue=queue_name
    )
    ctx: dict[str, Any] = {
        "audit_runs": AuditRecorderRuns(),
        "settings": settings,
        "redis": pool,
    }
    passes = 0

    async def always_requested(
        organization_id: int | None = None, **kwargs: Any
    ) -> int:
        nonlocal passes
        passes += 1
        # Every pass gets a request for another one, as under constant load.
        assert await record_audit_job(ctx, organization.id) == 0
        return await record_audit(organization_id, **kwargs)

    monkeypatch.setattr(worker_module, "record_audit", always_requested)

    assert await record_audit_job(ctx, organization.id) == 2

    assert passes == 3
    assert not ctx["audit_runs"].is_running(organization.id)
    queued = await pool.queued_jobs(queue_name=queue_name)
    assert len(queued) == 1
    assert queued[0].function == RECORD_AUDIT_JOB
    assert queued[0].args == (organization.id,)
    await assert_complete_chain(organization, 2)


async def test_worker_records_burst_of_jobs(
    scratch: Settings, queue: tuple[str, ArqRedis], tmp_path: Path
) -> None:
    queue_name, pool = queue
    settings = dataclasses.replace(
        scratch, redis_url=REDIS_URL, worker_queue=queue_name
    )
    env = process_env(
        scratch, CONTRACTGQL_REDIS_URL=REDIS_URL, CONTRACTGQL_WORKER_QUEUE=queue_name
    )
    log = tmp_path / "worker.log"
    organization = await make_events(0)
    with log.open("ab") as output:
        worker = subprocess.Popen(
            [*CONTRACTGQL, "worker"], env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_until(
            lambda: "Worker started on queue" in read_log(log),
            WORKER_TIMEOUT,
            "the worker to start",
        )
        rounds, per_round = 20, 10
        for index in range(rounds):
            # Each round is one request's events and its job, as the API sends them.
            await AuditOutbox.bulk_create(
                [
                    new_event(organization.id, index * per_round + offset + 1)
                    for offset in range(per_round)
                ]
            )
            await start_recording(settings, {organization.id})

        async def recorded() -> bool:
            waiting = await AuditOutbox.filter(organization_id=organization.id).count()
            return waiting == 0 and await pool.zcard(queue_name) == 0

        await wait_for(recorded, WORKER_TIMEOUT, "the worker to record the events")
    finally:
        worker.terminate()
        worker.wait(timeout=WORKER_TIMEOUT)
    await assert_complete_chain(organization, rounds * per_round)
    assert "Traceback" not in read_log(log)
