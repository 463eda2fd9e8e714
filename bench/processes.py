"""Server subprocesses and what /proc and PostgreSQL tell about their resource use."""

from __future__ import annotations

import logging
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import httpx

from bench.common import free_loopback_port

logger = logging.getLogger("bench")

REPO_ROOT = Path(__file__).resolve().parents[1]
SERVER_START_TIMEOUT_S = 60.0


@dataclass
class Server:
    name: str
    url: str
    health_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    token: str | None = None


class ServerProcesses:
    """Start servers as subprocesses and stop every one of them on exit."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.servers: list[Server] = []

    def __enter__(self) -> ServerProcesses:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_all()

    def stop_all(self) -> None:
        for server in self.servers:
            _stop_process(server.process, server.name)
        self.servers.clear()

    def start(
        self, name: str, command: list[str], env: dict[str, str], health_path: str
    ) -> Server:
        port = free_loopback_port()
        log_path = self.work_dir / f"{name}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                [*command, "--port", str(port)],
                cwd=REPO_ROOT,
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        base = f"http://127.0.0.1:{port}"
        server = Server(name, f"{base}/graphql", base + health_path, process, log_path)
        self.servers.append(server)
        _wait_until_ready(server)
        logger.info("Started %s as pid %d on %s", name, process.pid, base)
        return server


def _wait_until_ready(server: Server) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.name} exited with code {server.process.returncode} during "
                f"start; its output is in {server.log_path}:\n{_tail(server.log_path)}"
            )
        try:
            if httpx.get(server.health_url, timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(
        f"{server.name} was not ready at {server.health_url} after "
        f"{SERVER_START_TIMEOUT_S:.0f} s; its output is in {server.log_path}:\n"
        f"{_tail(server.log_path)}"
    )


def _stop_process(process: subprocess.Popen[bytes], name: str) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        logger.warning(
            "%s (pid %d) did not stop on SIGTERM, killing it", name, process.pid
        )
        process.kill()
        process.wait(timeout=10)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as error:
        return f"(cannot read {path}: {error})"


def process_cpu_s(pid: int) -> float:
    """Return user + system CPU seconds of `pid`, or 0.0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # Fields after the parenthesised command name, where utime and stime are 14 and 15.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_ticks() -> tuple[int, int]:
    """Return (busy, total) CPU ticks of the whole machine since boot."""
    values = [
        int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    ]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return total - idle, total


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM of `pid` to its current RSS, or return False if Linux rejects it."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError as error:
        logger.warning("Cannot reset the peak RSS of pid %d: %s", pid, error)
        return False
    return True


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def postgres_backend_pids(url: str) -> list[int]:
    """Return the pids of the other client backends connected to the database."""
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()
    return [row["pid"] for row in rows]


class CpuSnapshot:
    """CPU seconds of the server, of PostgreSQL's backends and of the machine."""

    def __init__(self, server_pid: int, backend_pids: list[int]) -> None:
        self.monotonic_s = time.monotonic()
        self.server_s = process_cpu_s(server_pid)
        self.backends_s = {pid: process_cpu_s(pid) for pid in backend_pids}
        self.busy_ticks, self.total_ticks = machine_cpu_ticks()
