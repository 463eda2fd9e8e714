"""Import jobs in a real `contractgql worker`, with a Redis server of its own."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from contractgql.config import Settings
from contractgql.importexport import jobs
from contractgql.importexport import progress as board
from contractgql.models import (
    Contract,
    ImportFormat,
    ImportJob,
    ImportStatus,
    Organization,
    User,
)
from contractgql.security.policy import Policy
from contractgql.security.viewer import viewer_for
from tests.importexport.test_import_jobs import register
from tests.jobs.conftest import process_env
from tests.jobs.processes import RedisServer, Worker, wait_for
from tests.jobs.test_text_worker import free_port_in_range


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path, port=free_port_in_range())
    server.start()
    yield server
    server.stop()


@dataclasses.dataclass
class Setup:
    settings: Settings
    env: dict[str, str]
    organization: Organization
    admin: User


async def _chunks(content: bytes) -> AsyncIterator[bytes]:
    yield content


async def setup(scratch: Settings, redis_server: RedisServer) -> Setup:
    queue = f"test:{uuid.uuid4().hex[:8]}"
    settings = dataclasses.replace(
        scratch, redis_url=redis_server.url, worker_queue=queue
    )
    env = process_env(
        scratch, CONTRACTGQL_REDIS_URL=redis_server.url, CONTRACTGQL_WORKER_QUEUE=queue
    )
    organization = await Organization.create(name=f"Import {uuid.uuid4().hex[:10]}")
    admin = await User.create(
        organization=organization,
        email=f"admin-{uuid.uuid4().hex[:10]}@example.com",
        name="Admin",
        roles=["admin"],
    )
    return Setup(settings, env, organization, admin)


async def queue_import(world: Setup, content: bytes) -> ImportJob:
    """Store a register as an upload of the admin and enqueue its job."""
    path = await jobs.store_upload(
        world.settings, "register.csv", ImportFormat.REGISTER, _chunks(content)
    )
    await world.admin.fetch_related("organization")
    policy = Policy.load(world.settings.policy_dir)
    job = await jobs.create_job(
        viewer_for(world.admin, policy),
        world.organization.id,
        "register.csv",
        path,
        ImportFormat.REGISTER,
        {},
    )
    await jobs.start_job(world.settings, lambda: policy, job)
    return job


async def wait_for_status(
    job_id: int, statuses: set[ImportStatus], timeout: float = 120
) -> ImportJob:
    async def reached() -> bool:
        job = await ImportJob.get(id=job_id)
        return job.status in statuses

    await wait_for(reached, timeout, f"import job {job_id} to reach {statuses}")
    return await ImportJob.get(id=job_id)


async def wait_for_rows(settings: Settings, job_id: int, rows: int) -> None:
    """Wait until the worker published progress past `rows` rows."""

    async def passed() -> bool:
        current = await board.read(settings, job_id)
        return current is not None and current.rows_read >= rows

    await wait_for(passed, 120, f"import job {job_id} to read {rows} rows")


async def test_worker_runs_import_job(
    scratch: Settings, redis_server: RedisServer, tmp_path: Path
) -> None:
    world = await setup(scratch, redis_server)
    worker = Worker.start(world.env, tmp_path / "worker.log")
    try:
        job = await queue_import(world, register(30, bad_rows=(7,)))
        finished = await wait_for_status(job.id, {ImportStatus.SUCCEEDED})
        assert worker.stop() == 0, worker.text()
    finally:
        if worker.process.poll() is None:
            worker.kill()

    assert finished.rows_created == 29
    assert finished.rows_rejected == 1
    assert finished.total_rows == 30
    assert finished.attempts == 1
    assert [error["row"] for error in finished.errors] == [8]
    count = await Contract.filter(organization_id=world.organization.id).count()
    assert count == 29
    assert f"{jobs.IMPORT_JOB}({job.id})" in worker.text()
    assert not Path(finished.stored_path).exists()


async def test_worker_cancel_leaves_zero_rows(
    scratch: Settings, redis_server: RedisServer, tmp_path: Path
) -> None:
    world = await setup(scratch, redis_server)
    worker = Worker.start(world.env, tmp_path / "worker.log")
    try:
        # Row 2 of the file has an invalid amount.
        job = await queue_import(world, register(3000, bad_rows=(1,)))
        await wait_for_rows(world.settings, job.id, 250)
        running = await board.read(world.settings, job.id)

        await board.request_cancel(world.settings, job.id)

        finished = await wait_for_status(job.id, {ImportStatus.CANCELLED})
        assert worker.stop() == 0, worker.text()
    finally:
        if worker.process.poll() is None:
            worker.kill()

    assert running is not None
    assert running.rows_rejected == 1
    assert finished.cancel_requested is True
    assert finished.rows_created == 0
    assert finished.total_rows == 3000
    assert finished.rows_read >= 250
    # The rejected row stays counted after the cancel, as it was while running.
    assert finished.rows_rejected == 1
    count = await Contract.filter(organization_id=world.organization.id).count()
    assert count == 0


async def test_stopped_worker_import_runs_again(
    scratch: Settings, redis_server: RedisServer, tmp_path: Path
) -> None:
    world = await setup(scratch, redis_server)
    first = Worker.start(world.env, tmp_path / "first.log")
    try:
        job = await queue_import(world, register(2000))
        await wait_for_rows(world.settings, job.id, 250)
        # SIGTERM cuts the import off, as a deploy or a supervisor does.
        assert first.stop() == 0, first.text()
    finally:
        if first.process.poll() is None:
            first.kill()

    interrupted = await ImportJob.get(id=job.id)
    assert interrupted.status is ImportStatus.RUNNING
    assert interrupted.attempts == 1
    count = await Contract.filter(organization_id=world.organization.id).count()
    assert count == 0

    second = Worker.start(world.env, tmp_path / "second.log")
    try:
        finished = await wait_for_status(job.id, {ImportStatus.SUCCEEDED})
        assert second.stop() == 0, second.text()
    finally:
        if second.process.poll() is None:
            second.kill()

    assert finished.attempts == 2
    assert finished.rows_created == 2000
    count = await Contract.filter(organization_id=world.organization.id).count()
    assert count == 2000
