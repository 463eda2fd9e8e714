"""Machine description and the printed report of a benchmark run."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from bench.common import database_url

# The acceptance target: GraphQL throughput over reference throughput at
# concurrency 1.
TARGET_RATIO = 0.2
PACKAGES = (
    "strawberry-graphql",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "tortoise-orm",
    "asyncpg",
    "aiohttp",
    "orjson",
)


@dataclass
class LevelResult:
    server: str
    concurrency: int
    load: dict[str, Any]
    peak_rss_mib: float
    peak_rss_since_start: bool
    server_cpu_s: float
    postgres_cpu_s: float
    # Busy CPU of the whole machine over the measured window, and the part of it
    # that neither the server, its PostgreSQL backends nor the load generator used.
    machine_busy_percent: float
    other_busy_percent: float

    @property
    def requests(self) -> int:
        return int(self.load["requests"])

    def per_request_ms(self, seconds: float) -> float:
        return 1000 * seconds / self.requests if self.requests else 0.0


def source_revision(repo_root: Path) -> str:
    """Return the commit of the checkout and whether src/ has uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=repo_root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changes = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=repo_root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{commit} with uncommitted changes in src/" if changes else commit


def machine_info(server_version: str, revision: str) -> dict[str, Any]:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory_kib = int(line.split()[1])
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": server_version,
        "packages": versions,
        "contractgql_revision": revision,
    }


async def server_version(server_url: str) -> str:
    connection = await asyncpg.connect(database_url(server_url, "postgres"))
    try:
        version: str = await connection.fetchval("SHOW server_version")
    finally:
        await connection.close()
    return version


def format_report(
    machine: dict[str, Any], counts: dict[str, Any], levels: list[LevelResult]
) -> str:
    lines = [
        f"Machine: {machine['nproc']} CPUs ({machine['cpu_model']}), "
        f"{machine['memory_gib']} GiB, Linux {machine['kernel']}, "
        f"Python {machine['python']}, PostgreSQL {machine['postgresql']}",
        "Packages: "
        + ", ".join(
            f"{name} {version}" for name, version in machine["packages"].items()
        ),
        f"contractgql revision: {machine['contractgql_revision']}",
        "",
        "| server | conc. | req/s | p50 ms | p99 ms | errors | peak RSS MiB "
        "| SQL/req | PG xact/req | server CPU ms/req | PG CPU ms/req "
        "| client CPU ms/req | machine busy % | other procs % |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for level in levels:
        load = level.load
        count = counts.get(level.server)
        sql = f"{count['per_request_mean']:.2f}" if count else "n/a"
        xacts = f"{count['transactions_per_request']:.2f}" if count else "n/a"
        lines.append(
            f"| {level.server} | {level.concurrency} | {load['requests_per_s']:.1f} "
            f"| {load['p50_ms']:.1f} | {load['p99_ms']:.1f} | {load['errors']} "
            f"| {level.peak_rss_mib:.0f}{'*' if level.peak_rss_since_start else ''} "
            f"| {sql} | {xacts} | {level.per_request_ms(level.server_cpu_s):.1f} "
            f"| {level.per_request_ms(level.postgres_cpu_s):.1f} "
            f"| {level.per_request_ms(load['client_cpu_s']):.1f} "
            f"| {level.machine_busy_percent:.0f} | {level.other_busy_percent:.0f} |"
        )
    if any(level.peak_rss_since_start for level in levels):
        lines.append("* peak since the server started: Linux refused to reset VmHWM")
    lines.append("")
    for level in levels:
        if level.load["errors"]:
            lines.append(
                f"Errors of {level.server} at concurrency {level.concurrency}: "
                f"{level.load['error_kinds']}"
            )
    by_key = {(level.server, level.concurrency): level for level in levels}
    for concurrency in sorted({level.concurrency for level in levels}):
        graphql = by_key.get(("graphql", concurrency))
        reference = by_key.get(("reference", concurrency))
        if not graphql or not reference or not reference.load["requests_per_s"]:
            continue
        ratio = graphql.load["requests_per_s"] / reference.load["requests_per_s"]
        line = (
            f"Ratio GraphQL/reference req/s at concurrency {concurrency}: {ratio:.2f}"
        )
        if concurrency == 1:
            verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
            line += f" (target >= {TARGET_RATIO}: {verdict})"
        lines.append(line)
    for name, count in counts.items():
        lines.append(
            f"SQL statements per request, {name}: mean {count['per_request_mean']:.2f} "
            f"(min {count['per_request_min']}, max {count['per_request_max']}, first "
            f"page {count['first_page']}) over {count['pages']} pages, PostgreSQL "
            f"transactions per request {count['transactions_per_request']:.2f}"
        )
        lines.append(
            f"  Statements of the request for page {count['sample_page']}, with "
            "PostgreSQL's planning + execution ms (EXPLAIN ANALYZE, fastest of 3):"
        )
        lines += [
            f"    {s['planning_ms']:5.2f} + {s['execution_ms']:6.2f}  {s['sql']}"
            for s in count["sample"]
        ]
    return "\n".join(lines)
