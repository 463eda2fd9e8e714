"""Mutations while Redis is down: they succeed and their events wait in the outbox."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
import redis

from contractgql.app import create_app
from contractgql.audit.recorder import ChainEnd, record_audit, verify_chain
from contractgql.config import Settings
from contractgql.models import AuditLog, AuditOutbox
from contractgql.notifications.pubsub import configure_publishing
from tests.conftest import Api, Tenant
from tests.graphql.helpers import UPDATE_CONTRACT, create_client, create_contract
from tests.jobs.conftest import free_port

MUTATIONS = 50
# Seconds to wait for the test's redis-server to accept connections.
REDIS_START_TIMEOUT = 10.0

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="needs the redis-server program"
)


class RedisServer:
    """A redis-server of this test on a loopback port, without persistence."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(host="127.0.0.1", port=self.port)
        deadline = time.monotonic() + REDIS_START_TIMEOUT
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=REDIS_START_TIMEOUT)
            self.process = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer(free_port())
    try:
        yield server
    finally:
        server.stop()


async def test_mutations_succeed_while_redis_down(
    settings: Settings, tenant: Tenant, redis_server: RedisServer
) -> None:
    redis_server.start()
    redis_server.stop()
    with_redis = dataclasses.replace(settings, redis_url=redis_server.url)
    app = create_app(with_redis, manage_database=False)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            api = Api(http, tenant)
            client_id = await create_client(api)
            contract = await create_contract(api, client_id)
            for index in range(MUTATIONS - 2):
                data = await api.data(
                    UPDATE_CONTRACT,
                    {"id": contract["id"], "input": {"name": f"Name {index}"}},
                )
                assert data["updateContract"]["errors"] == []

            organization_id = tenant.organization.id
            waiting = await AuditOutbox.filter(organization_id=organization_id).count()
            assert waiting == MUTATIONS
            assert await AuditLog.filter(organization_id=organization_id).count() == 0

            redis_server.start()
            await api.data(
                UPDATE_CONTRACT, {"id": contract["id"], "input": {"name": "Final"}}
            )
            queue = redis.Redis(host="127.0.0.1", port=redis_server.port)
            try:
                queued = int(queue.zcard(with_redis.worker_queue))  # type: ignore[arg-type]
                assert queued >= 1
            finally:
                queue.close()
    finally:
        configure_publishing(settings)

    assert await record_audit(organization_id) == MUTATIONS + 1
    entries = await AuditLog.filter(organization_id=organization_id).order_by(
        "sequence"
    )
    assert [entry.sequence for entry in entries] == list(range(1, MUTATIONS + 2))
    outbox_ids = [entry.outbox_id for entry in entries]
    assert outbox_ids == sorted(set(outbox_ids))
    assert entries[-1].changes[0]["new"] == "Final"
    assert isinstance(await verify_chain(tenant.organization), ChainEnd)
