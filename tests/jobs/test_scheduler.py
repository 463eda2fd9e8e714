"""The in-process scheduler of `contractgql serve`, and the scan settings."""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
from pathlib import Path

import pytest

from contractgql.config import ConfigError, Settings, load_settings
from contractgql.jobs.scans import ScanError, ScanReport
from contractgql.jobs.scheduler import retry_delay, run_scans, seconds_until_next_run
from tests.jobs.conftest import CONTRACTGQL, free_port, process_env, read_log
from tests.jobs.processes import wait_until


def test_retry_delay_doubles_up_to_interval() -> None:
    delays = [retry_delay(failures, 900) for failures in range(1, 7)]

    assert delays == [60, 120, 240, 480, 900, 900]


@pytest.mark.parametrize(
    ("now", "expected"),
    [(1000.0, 800.0), (900.0, 900.0), (1799.5, 0.5), (0.0, 900.0)],
)
def test_next_run_on_interval_multiples(now: float, expected: float) -> None:
    assert seconds_until_next_run(900, now) == expected


async def test_failed_scans_logged_and_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outcomes: list[Exception | ScanReport] = [
        RuntimeError("database unavailable"),
        ScanError(ScanReport(organizations=2, failed_organizations=[7])),
        ScanReport(organizations=2, contracts=5, reminders_created=3, late=1),
    ]
    delays: list[float] = []

    async def scan() -> ScanReport:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def sleep(delay: float) -> None:
        delays.append(delay)
        if not outcomes:
            raise asyncio.CancelledError

    with (
        caplog.at_level(logging.INFO, logger="contractgql.jobs.scheduler"),
        pytest.raises(asyncio.CancelledError),
    ):
        await run_scans(scan, 900, clock=lambda: 1000.0, sleep=sleep)

    assert delays == [60, 120, 800]
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 3
    assert "attempt 1 in a row, retrying in 60 s: database unavailable" in messages[0]
    assert "attempt 2 in a row, retrying in 120 s" in messages[1]
    assert "failed organizations: 7" in messages[1]
    assert messages[2].startswith("Scan finished in ")
    assert messages[2].endswith(
        "2 organizations, 5 contracts, 3 reminders created (1 late), 0 cancelled, "
        "0 restored, 0 tasks and 0 notifications created"
    )


def _serve(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    output = log.open("ab")
    return subprocess.Popen(
        [*CONTRACTGQL, "serve", "--port", str(free_port())],
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
    )


def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
        raise


def test_serve_scans_without_redis(scratch_settings: Settings, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    process = _serve(process_env(scratch_settings), log)
    try:
        wait_until(lambda: "Scan finished in" in read_log(log), 60, "a scan")
    finally:
        returncode = _stop(process)

    text = read_log(log)
    # uvicorn ends by raising the signal it stopped on again.
    assert returncode == -signal.SIGTERM, text
    assert "Application shutdown complete" in text
    assert text.count("Reminder scans run in this process every 15 minutes") == 1
    assert text.count("Scan finished in") == 1


def test_serve_scheduler_off(scratch_settings: Settings, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    env = process_env(scratch_settings, CONTRACTGQL_SCHEDULER="off")
    process = _serve(env, log)
    try:
        wait_until(
            lambda: "Application startup complete" in read_log(log), 60, "start-up"
        )
    finally:
        returncode = _stop(process)

    text = read_log(log)
    # uvicorn ends by raising the signal it stopped on again.
    assert returncode == -signal.SIGTERM, text
    assert "Application shutdown complete" in text
    assert "The in-process scheduler is off" in text
    assert "Scan finished" not in text
    assert "Reminder scans run in this process" not in text


def test_scan_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "CONTRACTGQL_SCHEDULER",
        "CONTRACTGQL_SCAN_INTERVAL",
        "CONTRACTGQL_SCAN_TIMEOUT",
        "CONTRACTGQL_WORKER_QUEUE",
    ):
        monkeypatch.delenv(name, raising=False)

    settings = load_settings()

    assert settings.scheduler is True
    assert settings.scan_interval == 15
    assert settings.scan_timeout == 600
    assert settings.worker_queue == "contractgql:queue"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CONTRACTGQL_SCAN_INTERVAL", "7", "CONTRACTGQL_SCAN_INTERVAL=7 is not"),
        ("CONTRACTGQL_SCAN_INTERVAL", "90", "CONTRACTGQL_SCAN_INTERVAL=90 is not"),
        ("CONTRACTGQL_SCAN_TIMEOUT", "5", "CONTRACTGQL_SCAN_TIMEOUT=5 is out of range"),
        ("CONTRACTGQL_SCHEDULER", "sometimes", "CONTRACTGQL_SCHEDULER='sometimes'"),
    ],
)
def test_invalid_scan_settings(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ConfigError, match=message):
        load_settings()


@pytest.mark.parametrize(("value", "expected"), [("off", False), ("ON", True)])
def test_scheduler_switch(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: bool
) -> None:
    monkeypatch.setenv("CONTRACTGQL_SCHEDULER", value)

    assert load_settings().scheduler is expected
