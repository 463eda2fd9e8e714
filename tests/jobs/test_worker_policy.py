"""Policy changes in a real `contractgql worker`, with a Redis server of its own."""

from __future__ import annotations

import dataclasses
import shutil
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from contractgql.config import DEFAULT_POLICY_DIR, Settings
from contractgql.importexport import jobs
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
from tests.jobs.conftest import process_env
from tests.jobs.processes import RedisServer, Worker, wait_until
from tests.jobs.test_import_worker import wait_for_status
from tests.jobs.test_text_worker import free_port_in_range

HEADER = "number,name,client,start_date,end_date,amount,payment_frequency\r\n"
MANAGEMENT_FINANCIAL = (
    "p, management, contract.financial, read\n"
    "p, management, contract.financial, write\n"
)
RELOADED = "Reloaded policy from {folder}: {count} protected fields"


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
    folder: Path
    organization: Organization
    manager: User


async def setup(scratch: Settings, redis_server: RedisServer, tmp_path: Path) -> Setup:
    """Return a queue, a policy folder of the test's own and a management user."""
    folder = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, folder)
    assert MANAGEMENT_FINANCIAL in (folder / "policy.csv").read_text()
    queue = f"test:{uuid.uuid4().hex[:8]}"
    settings = dataclasses.replace(
        scratch, redis_url=redis_server.url, worker_queue=queue, policy_dir=folder
    )
    env = process_env(
        scratch,
        CONTRACTGQL_REDIS_URL=redis_server.url,
        CONTRACTGQL_WORKER_QUEUE=queue,
        CONTRACTGQL_POLICY_DIR=str(folder),
    )
    organization = await Organization.create(name=f"Policy {uuid.uuid4().hex[:10]}")
    manager = await User.create(
        organization=organization,
        email=f"manager-{uuid.uuid4().hex[:10]}@example.com",
        name="Manager",
        roles=["management"],
    )
    return Setup(settings, env, folder, organization, manager)


async def _chunks(content: bytes) -> AsyncIterator[bytes]:
    yield content


async def queue_import(world: Setup, rows: str) -> ImportJob:
    """Enqueue a register as the manager, as the API does with its own policy."""
    path = await jobs.store_upload(
        world.settings,
        "register.csv",
        ImportFormat.REGISTER,
        _chunks((HEADER + rows).encode()),
    )
    await world.manager.fetch_related("organization")
    # The API keeps contract:write for management under every policy of these
    # tests, so it accepts the upload. The worker decides about the amounts.
    policy = Policy.load(DEFAULT_POLICY_DIR)
    job = await jobs.create_job(
        viewer_for(world.manager, policy),
        world.organization.id,
        "register.csv",
        path,
        ImportFormat.REGISTER,
        {},
    )
    await jobs.start_job(world.settings, lambda: policy, job)
    return job


def reloaded_line(folder: Path) -> str:
    count = len(Policy.load(DEFAULT_POLICY_DIR).protected_fields)
    return RELOADED.format(folder=folder, count=count)


def strip_management_financial(folder: Path) -> None:
    policy_csv = folder / "policy.csv"
    policy_csv.write_text(policy_csv.read_text().replace(MANAGEMENT_FINANCIAL, ""))


def wait_for_start(worker: Worker) -> None:
    wait_until(
        lambda: "Worker started on queue" in worker.text(),
        60,
        "the worker to start",
    )


async def amounts(organization: Organization) -> dict[str | None, int | None]:
    """Return the amount in minor units of each contract, by number."""
    contracts = await Contract.filter(organization_id=organization.id)
    return {contract.number: contract.amount_minor for contract in contracts}


async def test_worker_applies_changed_policy(
    scratch: Settings, redis_server: RedisServer, tmp_path: Path
) -> None:
    world = await setup(scratch, redis_server, tmp_path)
    worker = Worker.start(world.env, tmp_path / "worker.log")
    try:
        first = await queue_import(
            world, "P-1,First,Client A,2027-01-01,2027-12-31,100.00,monthly\r\n"
        )
        created = await wait_for_status(first.id, {ImportStatus.SUCCEEDED})

        strip_management_financial(world.folder)
        second = await queue_import(
            world,
            "P-1,First,Client A,2027-01-01,2027-12-31,999.00,monthly\r\n"
            "P-2,Second,Client A,2027-01-01,2027-12-31,250.00,monthly\r\n",
        )
        rejected = await wait_for_status(
            second.id, {ImportStatus.SUCCEEDED, ImportStatus.FAILED}
        )
        assert worker.stop() == 0, worker.text()
    finally:
        if worker.process.poll() is None:
            worker.kill()

    assert created.rows_created == 1
    assert rejected.status is ImportStatus.FAILED
    assert rejected.failure == (
        "You may not set amount: changing them needs the "
        "'contract.financial:write' permission. Leave these fields out of the "
        "input or ask a user whose role has it. To import the other columns, ignore "
        "the columns of amount: map each to '-', with --map \"HEADER=-\" on the "
        "command line, or with the field '-' in the mapping input of startImport."
    )
    assert rejected.rows_created == 0
    assert rejected.rows_updated == 0
    assert await amounts(world.organization) == {"P-1": 10000}
    log = worker.text()
    assert "The policy files in" in log
    assert log.count(reloaded_line(world.folder)) == 1


async def test_worker_reloads_on_sighup(
    scratch: Settings, redis_server: RedisServer, tmp_path: Path
) -> None:
    world = await setup(scratch, redis_server, tmp_path)
    worker = Worker.start(world.env, tmp_path / "worker.log")
    reloaded = reloaded_line(world.folder)
    try:
        wait_for_start(worker)
        worker.process.send_signal(signal.SIGHUP)
        wait_until(lambda: reloaded in worker.text(), 30, "the SIGHUP reload")
        assert worker.process.poll() is None, worker.text()

        (world.folder / "policy.csv").write_text(
            (world.folder / "policy.csv").read_text() + "p, auditor, contract, read\n"
        )
        worker.process.send_signal(signal.SIGHUP)
        wait_until(
            lambda: "keeping the old policy" in worker.text(),
            30,
            "the rejected reload",
        )
        # The first job after the rejected reload finds the same invalid files:
        # it keeps the old policy without reloading them.
        job = await queue_import(
            world, "H-1,Kept,Client A,2027-01-01,2027-12-31,75.00,monthly\r\n"
        )
        finished = await wait_for_status(job.id, {ImportStatus.SUCCEEDED})
        time.sleep(0.2)
        assert worker.process.poll() is None, worker.text()
        assert worker.stop() == 0, worker.text()
    finally:
        if worker.process.poll() is None:
            worker.kill()

    assert finished.rows_created == 1
    assert await amounts(world.organization) == {"H-1": 7500}
    log = worker.text()
    assert log.count(reloaded) == 1
    assert log.count("Policy reload from") == 1
    assert "unknown role 'auditor'" in log
    assert "The policy files in" not in log
