"""Measure how fast `contractgql import` writes a large CSV register, and its memory.

    .venv/bin/python -m bench.imports [--rows 10000,100000] [--clients 1000]
        [--postgres URL]

The run creates its own PostgreSQL database on the server of --postgres
(default postgres://postgres@127.0.0.1:5432/test), migrates it, and drops it at
the end. For each row count it writes a CSV register of that many contracts of
--clients clients (1,000 unless given), with European amounts and Dutch notice
periods. Each import creates its clients, so more clients measure that part. A
child process of its own imports each file, so that the peak memory of one
import (the process's maximum resident set size) is measured alone. Rows per second run
from the start of `import_file` to its commit, file reading and parsing
included. The import runs with the options of an import job: it keeps counts
instead of an outcome per row, and reports progress every 250 rows (to a
callback that only counts, where a job writes to Redis). The child checks that
every row was created.

It prints one line per row count and a verdict on the target of 20,000 rows
per second, which applies to the import of 100,000 rows, and exits 1 when a
check failed, 2 when the target was missed. Other row counts are printed for
comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg  # type: ignore[import-untyped]

TARGET_ROWS_PER_SECOND = 20_000
# The file size that the target applies to.
TARGET_ROWS = 100_000
DEFAULT_CLIENTS = 1000
HEADER = (
    "Contract number;Name;Client;Client CoC number;Start date;End date;Amount;"
    "Payment frequency;Auto renewal;Notice period\n"
)


def write_register(path: Path, rows: int, clients: int = DEFAULT_CLIENTS) -> None:
    """Write a semicolon register of `rows` contracts, streamed to disk."""
    with path.open("w", encoding="utf-8") as output:
        output.write(HEADER)
        for index in range(1, rows + 1):
            client = index % clients
            # Whole euros from 1 to 90,000 in Dutch notation, such as "€ 12.345,56".
            euros = f"{index % 90_000 + 1:,}".replace(",", ".")
            output.write(
                f"B-{index:07d};Contract {index};Client {client};{10_000_000 + client};"
                f"01-01-2027;31-12-2027;€ {euros},56;maandelijks;ja;3 mnd\n"
            )


async def child(path: Path, database_url: str, rows: int) -> dict[str, float]:
    """Import `path` into a new organization and return the figures."""
    from contractgql import db
    from contractgql.accounts import get_or_create_organization
    from contractgql.config import Settings
    from contractgql.importexport.importer import (
        ImportOptions,
        ImportProgress,
        import_file,
    )
    from contractgql.models import Contract

    settings = Settings(database_url=database_url, data_dir=path.parent)
    await db.connect(settings)
    try:
        organization = await get_or_create_organization(f"Bench {uuid.uuid4().hex}")
        updates = 0

        async def progress(current: ImportProgress) -> None:
            nonlocal updates
            updates += 1

        # The options and progress updates of an import job, without its Redis.
        options = ImportOptions(record_outcomes=False, max_kept_errors=1000)
        database = database_url.rsplit("/", 1)[1]
        backends_before = backend_cpu_seconds(database)
        python_before = time.process_time()
        started = time.perf_counter()
        report = await import_file(path, organization, options, progress=progress)
        seconds = time.perf_counter() - started
        python_cpu = time.process_time() - python_before
        backends_after = backend_cpu_seconds(database)
        created = await Contract.filter(organization_id=organization.id).count()
    finally:
        await db.disconnect()
    return {
        "rows": rows,
        "seconds": seconds,
        "rows_per_second": rows / seconds,
        "created": created,
        "rejected": report.count("rejected"),
        "progress_updates": updates,
        "python_cpu_seconds": python_cpu,
        "postgres_cpu_seconds": (
            # No backend found: the server runs on another host or in a container.
            None
            if not backends_after or backends_before is None
            else sum(
                cpu - backends_before.get(pid, 0.0)
                for pid, cpu in backends_after.items()
            )
        ),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def backend_cpu_seconds(database: str) -> dict[int, float] | None:
    """Return the CPU time of each PostgreSQL backend connected to `database`.

    Backends are the local processes whose title names the database, as
    PostgreSQL sets it ("postgres: USER DATABASE HOST(PORT) STATE"). Returns None
    where /proc is missing, and an empty dict when the server is on another host.
    """
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[int, float] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if not title.startswith("postgres:") or f" {database} " not in title:
                continue
            # Fields 14 and 15 of /proc/PID/stat are the user and system time, in
            # clock ticks; the process name before them may contain spaces.
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[int(entry.name)] = (int(stat[11]) + int(stat[12])) / ticks
    return found


def run_child(path: Path, database_url: str, rows: int) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-m", "bench.imports", "--child", str(path), str(rows)],
        env={**os.environ, "CONTRACTGQL_BENCH_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"The import child failed:\n{result.stderr[-4000:]}")
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


async def admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10000,100000")
    parser.add_argument("--clients", type=int, default=DEFAULT_CLIENTS)
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/test")
    parser.add_argument(
        "--child",
        nargs=2,
        metavar=("FILE", "ROWS"),
        help="Import FILE of ROWS rows and print the figures as JSON. The "
        "benchmark starts itself with it for each row count.",
    )
    args = parser.parse_args()
    if args.clients < 1:
        parser.error(f"--clients must be 1 or more, not {args.clients}")

    if args.child:
        url = os.environ["CONTRACTGQL_BENCH_DATABASE_URL"]
        figures = asyncio.run(child(Path(args.child[0]), url, int(args.child[1])))
        print(json.dumps(figures))
        return 0

    name = f"contractgql_bench_imports_{uuid.uuid4().hex[:8]}"
    database_url = args.postgres.rsplit("/", 1)[0] + "/" + name
    asyncio.run(admin(args.postgres, f'CREATE DATABASE "{name}"'))
    failed = False
    judged: float | None = None
    try:
        env = {**os.environ, "CONTRACTGQL_DATABASE_URL": database_url}
        migrated = subprocess.run(
            [sys.executable, "-m", "contractgql", "migrate"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if migrated.returncode != 0:
            print(migrated.stderr, file=sys.stderr)
            return 1
        print(f"load average before: {os.getloadavg()[0]:.2f} (1 min)")
        with tempfile.TemporaryDirectory() as directory:
            for rows in (int(part) for part in args.rows.split(",")):
                path = Path(directory) / f"register-{rows}.csv"
                write_register(path, rows, args.clients)
                figures = run_child(path, database_url, rows)
                ok = figures["created"] == rows and figures["rejected"] == 0
                failed = failed or not ok
                if rows == TARGET_ROWS:
                    judged = figures["rows_per_second"]
                postgres_cpu = figures["postgres_cpu_seconds"]
                check = "all created" if ok else "CHECK FAILED: " + json.dumps(figures)
                print(
                    f"{rows:>8} rows: {figures['seconds']:8.1f} s, "
                    f"{figures['rows_per_second']:8.0f} rows/s, peak RSS "
                    f"{figures['peak_rss_mib']:7.1f} MiB, CPU: Python "
                    f"{figures['python_cpu_seconds']:.1f} s, PostgreSQL "
                    + ("n/a" if postgres_cpu is None else f"{postgres_cpu:.1f} s")
                    + f", {check}"
                )
        print(f"load average after: {os.getloadavg()[0]:.2f} (1 min)")
    finally:
        asyncio.run(
            admin(args.postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        )

    if judged is None:
        print(f"target not judged: it applies to {TARGET_ROWS} rows")
        return 1 if failed else 0
    missed = judged < TARGET_ROWS_PER_SECOND
    verdict = "missed" if missed else "met"
    print(
        f"target {TARGET_ROWS_PER_SECOND} rows/s at {TARGET_ROWS} rows: {verdict} "
        f"({judged:.0f} rows/s)"
    )
    if failed:
        return 1
    return 2 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
