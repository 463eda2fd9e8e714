"""Processes for the worker tests: a Redis server of their own and `contractgql worker`.

Every wait here is bounded by a timeout, and every process started is stopped by the
fixture or test that started it.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.jobs.conftest import CONTRACTGQL, free_port, read_log


@dataclass
class RedisServer:
    """A redis-server on a free loopback port, keeping nothing on disk."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        executable = shutil.which("redis-server")
        assert executable is not None, "redis-server is not on PATH"
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [
                executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_until(self._accepts, 10, "redis-server to accept connections")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def _accepts(self) -> bool:
        import socket

        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) == 0


@dataclass
class Worker:
    """A `contractgql worker` process whose output goes to a log file."""

    log: Path
    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls, env: dict[str, str], log: Path) -> Worker:
        output = log.open("ab")
        process = subprocess.Popen(
            [*CONTRACTGQL, "worker"], env=env, stdout=output, stderr=subprocess.STDOUT
        )
        return cls(log, process)

    def text(self) -> str:
        return read_log(self.log)

    def scans_finished(self) -> int:
        return self.text().count("Scan finished in")

    def stop(self) -> int:
        """Stop the worker with SIGTERM, as a process supervisor does."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


def wait_until(check: Callable[[], bool], timeout: float, description: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"Timed out after {timeout} s waiting for {description}"
            )
        time.sleep(0.02)


async def wait_for(
    check: Callable[[], Awaitable[bool]], timeout: float, description: str
) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"Timed out after {timeout} s waiting for {description}"
            )
        await asyncio.sleep(0.01)
