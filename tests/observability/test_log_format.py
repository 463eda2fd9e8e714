"""CONTRACTGQL_LOG_FORMAT on a real `contractgql serve` process."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import orjson
import pytest

from tests.jobs.conftest import CONTRACTGQL, free_port, read_log

START_TIMEOUT = 60.0


def server_env(tmp_path: Path, **changes: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CONTRACTGQL_")
    }
    env.update(
        CONTRACTGQL_DATA_DIR=str(tmp_path / "data"),
        CONTRACTGQL_SECRET_KEY="log-format-test-secret-" + "s" * 32,
        CONTRACTGQL_SCHEDULER="off",
        PYTHONUNBUFFERED="1",
    )
    env.update(changes)
    return env


def wait_until_live(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, read_log(log)
        try:
            if httpx.get(f"{url}/health/live", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"The server did not start within {START_TIMEOUT} s")


@pytest.mark.e2e
def test_json_log_lines_carry_request_id(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    env = server_env(tmp_path, CONTRACTGQL_LOG_FORMAT="json")
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*CONTRACTGQL, "serve", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_live(url, process, log)
        response = httpx.get(
            f"{url}/health/ready", headers={"X-Request-ID": "json-e2e-0001"}
        )
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)

    assert response.status_code == 200
    assert response.headers["x-request-id"] == "json-e2e-0001"
    lines = read_log(log).splitlines()
    entries = [orjson.loads(line) for line in lines]
    access = [
        entry
        for entry in entries
        if entry["logger"] == "uvicorn.access" and "/health/ready" in entry["message"]
    ]
    assert len(access) == 1
    assert access[0]["request_id"] == "json-e2e-0001"
    assert access[0]["level"] == "INFO"
    assert access[0]["process"] == process.pid
    started = [e for e in entries if e["message"].startswith("contractgql is serving")]
    assert len(started) == 1
    assert "request_id" not in started[0]


def test_unknown_log_format_is_rejected(tmp_path: Path) -> None:
    result = subprocess.run(
        [*CONTRACTGQL, "migrate"],
        env=server_env(tmp_path, CONTRACTGQL_LOG_FORMAT="xml"),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert "CONTRACTGQL_LOG_FORMAT='xml' is not supported: use text or json." in (
        result.stderr
    )
