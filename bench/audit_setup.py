"""The audit recorder benchmark's database, redis-server, API server and worker.

Every process listens on 127.0.0.1, on a port from 18600 to 18699, and
`BenchProcesses` stops each one it started when the run ends, fails or is
interrupted.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import httpx
import redis

from bench.common import database_url
from bench.processes import REPO_ROOT

logger = logging.getLogger("bench.audit")

# The loopback ports that the benchmark's own servers may use.
PORT_RANGE = range(18600, 18700)
REDIS_SERVER = "/usr/bin/redis-server"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
# Seconds that `contractgql migrate`, `create-user` and `audit verify` may take.
COMMAND_TIMEOUT_S = 300.0
CONTRACTGQL = [sys.executable, "-m", "contractgql"]

ORGANIZATION_NAME = "Bench Audit B.V."
USER_EMAIL = "bench.audit@example.com"
USER_NAME = "Bench Audit"
# The database exists only for the benchmark, on loopback.
USER_PASSWORD = "bench-audit-password-not-secret"
SECRET_KEY = "bench-audit-secret-key-" + "k" * 32


class SetupError(Exception):
    """A step of setting up the benchmark failed."""


def check_database_name(name: str) -> None:
    """Reject a database name that does not mark the database as the benchmark's."""
    if "bench" not in name:
        raise SetupError(
            f"The database name {name!r} does not contain 'bench'. The run drops "
            "and creates it, so name a database that belongs to the benchmark."
        )
    if not name.replace("_", "").isalnum():
        raise SetupError(
            f"The database name {name!r} is invalid: use letters, digits and '_'."
        )


async def create_database(server_url: str, name: str) -> None:
    """Drop the database `name` if it exists, and create it empty."""
    check_database_name(name)
    connection = await asyncpg.connect(database_url(server_url, "postgres"))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def drop_database(server_url: str, name: str) -> None:
    check_database_name(name)
    connection = await asyncpg.connect(database_url(server_url, "postgres"))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def process_env(
    data_dir: Path, database: str, redis_url: str, source: Path | None = None
) -> dict[str, str]:
    """Return the environment of the benchmark's contractgql processes.

    With `source`, they import the contractgql package from that folder.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CONTRACTGQL_")
    }
    env.update(
        {
            "CONTRACTGQL_DATA_DIR": str(data_dir),
            "CONTRACTGQL_DATABASE_URL": database,
            "CONTRACTGQL_REDIS_URL": redis_url,
            "CONTRACTGQL_SECRET_KEY": SECRET_KEY,
            "CONTRACTGQL_LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            # The default is found next to the package, which `source` moves.
            "CONTRACTGQL_POLICY_DIR": str(REPO_ROOT / "policies"),
        }
    )
    if source is not None:
        env["PYTHONPATH"] = str(source)
    return env


def run_command(arguments: list[str], env: dict[str, str]) -> str:
    """Run a contractgql command to its end and return its output.

    Raises SetupError when it exits with a status other than 0.
    """
    completed = subprocess.run(
        [*CONTRACTGQL, *arguments],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
    )
    if completed.returncode != 0:
        raise SetupError(
            f"contractgql {' '.join(arguments)} exited with status "
            f"{completed.returncode}:\n{completed.stdout}{completed.stderr}"
        )
    return completed.stdout + completed.stderr


def migrate_and_create_user(env: dict[str, str]) -> None:
    """Apply the migrations and create the organization and its admin user."""
    run_command(["migrate"], env)
    run_command(
        [
            "create-user",
            "--email",
            USER_EMAIL,
            "--name",
            USER_NAME,
            "--role",
            "admin",
            "--organization",
            ORGANIZATION_NAME,
        ],
        {**env, "CONTRACTGQL_PASSWORD": USER_PASSWORD},
    )


@dataclass
class BenchProcess:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    port: int | None = None


@dataclass
class BenchProcesses:
    """Start the benchmark's processes and stop every one of them on exit."""

    work_dir: Path
    started: list[BenchProcess] = field(default_factory=list)
    used_ports: set[int] = field(default_factory=set)

    def __enter__(self) -> BenchProcesses:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_all()

    def free_port(self) -> int:
        """Return a port of PORT_RANGE that accepted a bind on 127.0.0.1 just now."""
        for port in PORT_RANGE:
            if port in self.used_ports:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    continue
            self.used_ports.add(port)
            return port
        raise SetupError(
            f"No port from {PORT_RANGE.start} to {PORT_RANGE.stop - 1} is free on "
            "127.0.0.1: stop the processes that use them."
        )

    def start(
        self,
        name: str,
        command: list[str],
        env: dict[str, str] | None = None,
        port: int | None = None,
    ) -> BenchProcess:
        log_path = self.work_dir / f"{name}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        started = BenchProcess(name, process, log_path, port)
        self.started.append(started)
        logger.info("Started %s as pid %d", name, process.pid)
        return started

    def stop(self, started: BenchProcess) -> None:
        """Stop a process with SIGTERM, or SIGKILL when it is still alive after 10 s."""
        process = started.process
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                logger.warning(
                    "%s (pid %d) did not stop on SIGTERM, killing it",
                    started.name,
                    process.pid,
                )
                process.kill()
                process.wait(timeout=STOP_TIMEOUT_S)
        if started in self.started:
            self.started.remove(started)

    def stop_all(self) -> None:
        for started in reversed(list(self.started)):
            self.stop(started)


def start_redis(processes: BenchProcesses) -> tuple[BenchProcess, str]:
    """Start a redis-server without persistence and wait until it replies to PING."""
    if not Path(REDIS_SERVER).is_file():
        raise SetupError(
            f"{REDIS_SERVER} is missing: install the redis-server package."
        )
    port = processes.free_port()
    started = processes.start(
        "redis-server",
        [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        port=port,
    )
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2.0)
    try:
        _wait(started, lambda: bool(client.ping()), (redis.RedisError,))
    finally:
        client.close()
    return started, f"redis://127.0.0.1:{port}/0"


def start_server(
    processes: BenchProcesses, env: dict[str, str], name: str = "server"
) -> tuple[BenchProcess, str]:
    """Start `contractgql serve` and return it and its /graphql URL once ready."""
    port = processes.free_port()
    started = processes.start(
        name,
        [*CONTRACTGQL, "serve", "--host", "127.0.0.1", "--port", str(port)],
        {**env, "CONTRACTGQL_LOG_LEVEL": "WARNING"},
        port,
    )
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        return httpx.get(f"{base}/health/ready", timeout=2.0).status_code == 200

    _wait(started, ready, (httpx.TransportError,))
    return started, f"{base}/graphql"


def start_worker(
    processes: BenchProcesses, env: dict[str, str], name: str = "worker"
) -> BenchProcess:
    """Start `contractgql worker` and wait for its start-up line in the log."""
    started = processes.start(name, [*CONTRACTGQL, "worker"], env)

    def ready() -> bool:
        return "Worker started on queue" in read_log(started.log_path)

    _wait(started, ready, ())
    return started


def _wait(
    started: BenchProcess,
    ready: object,
    expected_errors: tuple[type[BaseException], ...],
) -> None:
    assert callable(ready)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if started.process.poll() is not None:
            raise SetupError(
                f"{started.name} exited with status {started.process.returncode} "
                f"during start. Its output is in {started.log_path}:\n"
                f"{tail(started.log_path)}"
            )
        try:
            if ready():
                return
        except expected_errors:
            pass
        time.sleep(0.1)
    raise SetupError(
        f"{started.name} was not ready after {START_TIMEOUT_S:.0f} s. Its output "
        f"is in {started.log_path}:\n{tail(started.log_path)}"
    )


def read_log(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def tail(path: Path, lines: int = 20) -> str:
    return "\n".join(read_log(path).splitlines()[-lines:])
