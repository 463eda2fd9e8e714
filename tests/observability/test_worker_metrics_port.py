"""`contractgql worker` with its metrics port taken by another process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.jobs.processes import RedisServer


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


def test_taken_metrics_port_named(redis_server: RedisServer, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("CONTRACTGQL_")
        }
        env.update(
            CONTRACTGQL_DATA_DIR=str(tmp_path / "data"),
            CONTRACTGQL_SECRET_KEY="metrics-port-test-" + "k" * 32,
            CONTRACTGQL_REDIS_URL=redis_server.url,
            CONTRACTGQL_WORKER_METRICS_PORT=str(port),
        )
        result = subprocess.run(
            [sys.executable, "-m", "contractgql", "worker"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert (
        f"The worker cannot serve its metrics on 127.0.0.1:{port}: Address already "
        "in use. Set CONTRACTGQL_WORKER_METRICS_PORT to a free port, or stop the "
        "process that uses this one."
    ) in result.stderr
    assert "Redis" not in result.stderr
