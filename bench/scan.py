"""Time the reminder scans against one SQL statement that selects the due reminders.

    .venv/bin/python -m bench.scan [--contracts 100000,1000000] [--profile] [--phases]

For each size the run seeds a fresh database (`bench.scan_seed`) and times the
hand-written statement of `bench.scan_sql`. Then it runs four scans, each in a
process of its own (`bench.scan_worker`):

- first: on an empty reminders table, it creates the reminders, tasks and
  notifications that are due, and records each contract's next scan date;
- repeat: at the same moment, it must change nothing and skips every settled
  contract;
- full: at the same moment with `full`, it plans every contract again and must
  change nothing either;
- next day: a day later, the daily scan of a running installation, it must create
  exactly the reminders that the statement selects for that day and not for the
  day before.

It checks that the statement selects exactly the reminders that the first scan
created, prints the figures with the machine's load average, and writes them as
JSON under bench/results/. While the server's autovacuum is off, the run analyzes
the tables that the scans write as autovacuum would (see `AutoAnalyze`). The
database is dropped at the end unless --keep-database is given.

Exit code 0 when every check passed, 1 when a check failed, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Started as `python bench/scan.py`: make the `bench` package importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg  # type: ignore[import-untyped]

from bench.common import DEFAULT_SERVER_URL, database_url
from bench.processes import REPO_ROOT
from bench.report import machine_info, server_version, source_revision
from bench.scan_seed import SCAN_DATE, SCAN_MOMENT, seed
from bench.scan_sql import DUE_REMINDERS_SQL, STORED_REMINDERS_SQL, difference_sql
from bench.seed import SeedError

logger = logging.getLogger("bench.scan")

DEFAULT_DATABASE = "contractgql_bench_scan"
DEFAULT_SIZES = "100000,1000000"
RESULTS_DIR = REPO_ROOT / "bench" / "results"
# The acceptance target: scan wall time over the statement's.
TARGET_RATIO = 2.0
# A scan process that runs longer than this is killed and the run fails.
SCAN_TIMEOUT_S = 3 * 3600
# PostgreSQL 15 publishes a backend's statistics when it exits or goes idle, so the
# transaction count is read until it stops changing.
STATS_SETTLE_S = 0.5
STATS_TIMEOUT_S = 10.0


NEXT_DAY = timedelta(days=1)
# Label, moment after SCAN_MOMENT and whether the scan is full, in running order.
SCANS = (
    ("first", timedelta(0), False),
    ("repeat", timedelta(0), False),
    ("full", timedelta(0), True),
    ("next day", NEXT_DAY, False),
)


class CheckFailed(Exception):
    """A figure of the run contradicts what the benchmark requires."""


def _load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


async def _time_statement(url: str, organization_id: int, runs: int) -> dict[str, Any]:
    """Time the statement with the server's JIT setting and with JIT off.

    Each setting gets `runs` runs that fetch all rows to the client. PostgreSQL's
    JIT compiles this statement because its row estimate is too high, and the
    compilation can take longer than the execution, so the faster of the two
    medians is the reference.
    """
    connection = await asyncpg.connect(url)
    timings: dict[str, list[float]] = {}
    rows = 0
    try:
        for setting in ("server default", "off"):
            if setting == "off":
                await connection.execute("SET jit = off")
            seconds = timings[f"jit {setting}"] = []
            for _ in range(runs):
                started = time.perf_counter()
                records = await connection.fetch(
                    DUE_REMINDERS_SQL, organization_id, SCAN_DATE
                )
                seconds.append(time.perf_counter() - started)
                rows = len(records)
                del records
        plan = await connection.fetchval(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + DUE_REMINDERS_SQL,
            organization_id,
            SCAN_DATE,
        )
        execution_ms = json.loads(plan)[0]["Execution Time"]
    finally:
        await connection.close()
    medians = {
        setting: statistics.median(values) for setting, values in timings.items()
    }
    return {
        "runs_s": timings,
        "medians_s": medians,
        "median_s": min(medians.values()),
        "rows": rows,
        "explain_execution_ms_jit_off": execution_ms,
    }


async def _transaction_count(server_url: str, database: str) -> int:
    """Return the database's committed and rolled back transactions, once settled."""
    query = (
        "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1"
    )
    connection = await asyncpg.connect(database_url(server_url, "postgres"))
    try:
        deadline = time.monotonic() + STATS_TIMEOUT_S
        value: int = await connection.fetchval(query, database)
        while time.monotonic() < deadline:
            await asyncio.sleep(STATS_SETTLE_S)
            await connection.execute("SELECT pg_stat_clear_snapshot()")
            latest: int = await connection.fetchval(query, database)
            if latest == value:
                break
            value = latest
        return value
    finally:
        await connection.close()


async def _reminder_scans(url: str) -> dict[str, int]:
    """Return how often PostgreSQL has scanned the reminders table, and how."""
    connection = await asyncpg.connect(url)
    try:
        row = await connection.fetchrow(
            "SELECT seq_scan, seq_tup_read, idx_scan FROM pg_stat_user_tables "
            "WHERE relname = 'reminders'"
        )
    finally:
        await connection.close()
    return {
        "sequential_scans": row["seq_scan"],
        "rows_read_sequentially": row["seq_tup_read"],
        "index_scans": row["idx_scan"],
    }


class AutoAnalyze:
    """Vacuum and analyze the tables a scan writes when autovacuum would, if the
    server has it off.

    Production servers run autovacuum. Its ANALYZE keeps the planner's row
    estimates current and makes backends re-plan their cached statements, the
    foreign key checks included, and its VACUUM removes the index entries of
    updated rows. Without them, a first scan's foreign key checks read the whole
    reminders table, and later scans read a million dead entries of the partial
    index contracts_unscanned that the first scan's updates left behind. So while
    `SHOW autovacuum` is off, this checks every autovacuum_naptime each table
    that scans write, and applies autovacuum's rules: VACUUM (ANALYZE) once more
    than autovacuum_vacuum_threshold + autovacuum_vacuum_scale_factor × its rows
    are dead, else ANALYZE once more than autovacuum_analyze_threshold +
    autovacuum_analyze_scale_factor × its rows have changed.
    """

    TABLES = ("contracts", "reminders", "tasks", "notifications")

    def __init__(self, url: str, enabled: bool) -> None:
        self.url = url
        self.enabled = enabled
        self.analyzed: list[dict[str, Any]] = []
        self.naptime_s = 60.0
        self.threshold = 50
        self.scale_factor = 0.1
        self.vacuum_threshold = 50
        self.vacuum_scale_factor = 0.2

    async def start(self) -> None:
        """Read autovacuum's settings, and do nothing from then on if it is on."""
        connection = await asyncpg.connect(self.url)
        try:
            if await connection.fetchval("SHOW autovacuum") == "on":
                self.enabled = False
                return
            self.naptime_s = float(
                await connection.fetchval(
                    "SELECT setting FROM pg_settings WHERE name = 'autovacuum_naptime'"
                )
            )
            self.threshold = int(
                await connection.fetchval("SHOW autovacuum_analyze_threshold")
            )
            self.scale_factor = float(
                await connection.fetchval("SHOW autovacuum_analyze_scale_factor")
            )
            self.vacuum_threshold = int(
                await connection.fetchval("SHOW autovacuum_vacuum_threshold")
            )
            self.vacuum_scale_factor = float(
                await connection.fetchval("SHOW autovacuum_vacuum_scale_factor")
            )
        finally:
            await connection.close()

    async def check(self, label: str) -> None:
        """Analyze each table whose changed rows passed autovacuum's threshold."""
        if not self.enabled:
            return
        connection = await asyncpg.connect(self.url)
        try:
            for table in self.TABLES:
                changed, dead, rows = await connection.fetchrow(
                    "SELECT s.n_mod_since_analyze, s.n_dead_tup, c.reltuples FROM "
                    "pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
                    "WHERE s.relname = $1",
                    table,
                )
                rows = max(rows, 0)
                if dead > self.vacuum_threshold + self.vacuum_scale_factor * rows:
                    command = f"VACUUM (ANALYZE) {table}"
                elif changed > self.threshold + self.scale_factor * rows:
                    command = f"ANALYZE {table}"
                else:
                    continue
                started = time.perf_counter()
                await connection.execute(command)
                self.analyzed.append(
                    {
                        "during": label,
                        "command": command,
                        "changed_rows": changed,
                        "dead_rows": dead,
                        "seconds": time.perf_counter() - started,
                    }
                )
        finally:
            await connection.close()

    async def run_until(self, done: asyncio.Event, label: str) -> None:
        if not self.enabled:
            return
        while not done.is_set():
            try:
                await asyncio.wait_for(done.wait(), timeout=self.naptime_s)
            except TimeoutError:
                await self.check(label)


async def _scan_process(
    url: str,
    label: str,
    args: argparse.Namespace,
    auto_analyze: AutoAnalyze,
    *,
    moment: datetime = SCAN_MOMENT,
    full: bool = False,
) -> dict[str, Any]:
    """Run bench.scan_worker in a new process and return its figures."""
    with tempfile.TemporaryDirectory(prefix="contractgql-bench-scan-") as data_dir:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("CONTRACTGQL_")
        }
        env.update(
            CONTRACTGQL_DATABASE_URL=url,
            CONTRACTGQL_DATA_DIR=data_dir,
            CONTRACTGQL_SECRET_KEY="scan-bench-" + "k" * 40,
            # The default is found next to the package, which --source moves.
            CONTRACTGQL_POLICY_DIR=str(REPO_ROOT / "policies"),
            PYTHONPATH=os.pathsep.join(
                [*([str(args.source)] if args.source else []), str(REPO_ROOT)]
            ),
        )
        command = ["-m", "bench.scan_worker", "--now", moment.isoformat()]
        if full:
            command.append("--full")
        if args.profile:
            name = label.replace(" ", "-")
            command += ["--profile", str(args.results_dir / f"scan-{name}.prof")]
        if args.phases:
            command.append("--phases")
        load_before = _load_average()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *command,
            cwd=REPO_ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        done = asyncio.Event()
        analyzing = asyncio.create_task(auto_analyze.run_until(done, label))
        try:
            stdout, stderr = await asyncio.wait_for(
                process.communicate(), timeout=SCAN_TIMEOUT_S
            )
        except BaseException:
            if process.returncode is None:
                process.kill()
                await process.wait()
            raise
        finally:
            done.set()
            await analyzing
    errors = stderr.decode(errors="replace")
    if process.returncode != 0:
        raise CheckFailed(
            f"The {label} scan exited with {process.returncode}:\n{errors[-3000:]}"
        )
    if errors.strip():
        logger.warning("The %s scan logged:\n%s", label, errors[-3000:])
    result: dict[str, Any] = json.loads(stdout.decode().strip().splitlines()[-1])
    result["load_average_before"] = load_before
    result["load_average_after"] = _load_average()
    return result


async def _verify_reminders(
    url: str, organization_id: int, statement_rows: int, created: int
) -> dict[str, int]:
    """Check that the statement selects exactly the reminders the scan stored."""
    connection = await asyncpg.connect(url)
    try:
        stored = await connection.fetchval(
            "SELECT count(*) FROM reminders WHERE organization_id = $1",
            organization_id,
        )
        arguments = (organization_id, SCAN_DATE)
        only_statement = await connection.fetchval(
            difference_sql(DUE_REMINDERS_SQL, STORED_REMINDERS_SQL), *arguments
        )
        only_stored = await connection.fetchval(
            difference_sql(STORED_REMINDERS_SQL, DUE_REMINDERS_SQL), *arguments
        )
        counts: dict[str, int] = {}
        for table in ("reminders", "tasks", "notifications"):
            counts[table] = await connection.fetchval(
                f"SELECT count(*) FROM {table} WHERE organization_id = $1",
                organization_id,
            )
    finally:
        await connection.close()
    problems = []
    if created != stored:
        problems.append(
            f"the scan reported {created} reminders, the table has {stored}"
        )
    if statement_rows != created:
        problems.append(
            f"the statement selected {statement_rows} rows, the scan created {created}"
        )
    if only_statement or only_stored:
        problems.append(
            f"{only_statement} rows are only in the statement's result and "
            f"{only_stored} only in the reminders table"
        )
    if problems:
        raise CheckFailed("The statement and the scan disagree: " + "; ".join(problems))
    return counts


def _check_unchanged(label: str, report: dict[str, Any]) -> None:
    changed = {
        name: report[name]
        for name in (
            "reminders_created",
            "cancelled",
            "restored",
            "tasks_created",
            "notifications_created",
        )
        if report[name]
    }
    if changed:
        raise CheckFailed(f"The {label} scan changed rows: {changed}")


async def _verify_next_day(url: str, organization_id: int, created: int) -> int:
    """Check that the next day's scan created what the statement adds that day.

    Return the number of reminders that the statement selects on the next day and
    not on the scan date.
    """
    next_day = SCAN_DATE + NEXT_DAY
    day_two = DUE_REMINDERS_SQL
    day_one = DUE_REMINDERS_SQL.replace("$2", "$3")
    connection = await asyncpg.connect(url)
    try:
        added = await connection.fetchval(
            difference_sql(day_two, day_one), organization_id, next_day, SCAN_DATE
        )
        missing = await connection.fetchval(
            difference_sql(DUE_REMINDERS_SQL, STORED_REMINDERS_SQL),
            organization_id,
            next_day,
        )
    finally:
        await connection.close()
    if added != created or missing:
        raise CheckFailed(
            f"The next day's scan created {created} reminders, the statement adds "
            f"{added} that day, and {missing} rows of the statement are not stored"
        )
    return int(added)


async def run_size(args: argparse.Namespace, contracts: int) -> dict[str, Any]:
    """Seed `contracts` contracts, time the statement and both scans, and check."""
    server_url, database = args.server_url, args.database
    url = database_url(server_url, database)
    result: dict[str, Any] = {"contracts": contracts}

    logger.info("Seeding %d contracts into %s", contracts, database)
    result["load_average_before_seed"] = _load_average()
    summary = await seed(server_url, database, contracts)
    result["seed"] = asdict(summary)
    logger.info("Seeded in %.1f s: %s", summary.seconds["total"], summary.seconds)

    logger.info("Timing the SQL statement, %d runs", args.statement_runs)
    result["load_average_before_statement"] = _load_average()
    statement = await _time_statement(url, summary.organization_id, args.statement_runs)
    result["statement"] = statement
    logger.info(
        "Statement: %d rows, median %.2f s", statement["rows"], statement["median_s"]
    )

    auto_analyze = AutoAnalyze(url, enabled=args.auto_analyze)
    await auto_analyze.start()
    result["auto_analyze"] = auto_analyze.enabled
    for label, after, full in SCANS:
        if label != "first":
            # Scans run CONTRACTGQL_SCAN_INTERVAL (15) minutes apart, long enough
            # for autovacuum to analyze what the first one wrote.
            await auto_analyze.check(f"before the {label} scan")
        logger.info("Running the %s scan", label)
        before = await _transaction_count(server_url, database)
        scans_before = await _reminder_scans(url)
        scan = await _scan_process(
            url,
            f"{label}-{contracts}",
            args,
            auto_analyze,
            moment=SCAN_MOMENT + after,
            full=full,
        )
        scan["transactions"] = await _transaction_count(server_url, database) - before
        # Read after the transaction count has settled, so the scan's backend has
        # published its table statistics too.
        scans_after = await _reminder_scans(url)
        scan["reminder_table_scans"] = {
            name: scans_after[name] - scans_before[name] for name in scans_after
        }
        result[f"{label.replace(' ', '_')}_scan"] = scan
        logger.info(
            "%s scan: %.1f s, peak RSS %.0f MiB, %d statements, reminders table "
            "scans %s: %s",
            label.capitalize(),
            scan["wall_s"],
            scan["peak_rss_mib"],
            scan["statements_total"],
            scan["reminder_table_scans"],
            scan["report"],
        )
        if label == "first":
            result["stored"] = await _verify_reminders(
                url,
                summary.organization_id,
                statement["rows"],
                scan["report"]["reminders_created"],
            )
        elif label == "next day":
            result["next_day_added"] = await _verify_next_day(
                url, summary.organization_id, scan["report"]["reminders_created"]
            )
        else:
            _check_unchanged(label, scan["report"])
    result["analyzed"] = auto_analyze.analyzed
    return result


SCAN_KEYS = tuple(f"{label.replace(' ', '_')}_scan" for label, _, _ in SCANS)


def format_table(results: list[dict[str, Any]]) -> str:
    """Return the figures of every size as Markdown tables."""
    lines = [
        "| contracts | seed s | statement s, JIT off (server default) | rows | "
        "first scan s (ratio) | repeat s (ratio) | full s (ratio) | "
        "next day s (ratio) | next day reminders | load average |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for result in results:
        statement = result["statement"]["median_s"]
        medians = result["statement"]["medians_s"]
        statement_text = (
            f"{medians['jit off']:.2f} ({medians['jit server default']:.2f})"
        )
        scans = [result[key] for key in SCAN_KEYS]
        loads = [
            result["load_average_before_seed"][0],
            scans[0]["load_average_before"][0],
            *(scan["load_average_after"][0] for scan in scans),
        ]
        timings = " | ".join(
            f"{scan['wall_s']:.2f} ({scan['wall_s'] / statement:.2f})" for scan in scans
        )
        lines.append(
            f"| {result['contracts']:,} | {result['seed']['seconds']['total']:.1f} "
            f"| {statement_text} | {result['statement']['rows']:,} | {timings} "
            f"| {scans[3]['report']['reminders_created']:,} "
            f"| {' → '.join(f'{load:.2f}' for load in loads)} |"
        )
    lines += [
        "",
        "| contracts | scan | contracts planned | peak RSS MiB | RSS before MiB "
        "| SQL statements | CPU s |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        for (label, _, _), key in zip(SCANS, SCAN_KEYS, strict=True):
            scan = result[key]
            lines.append(
                f"| {result['contracts']:,} | {label} "
                f"| {scan['report']['contracts']:,} | {scan['peak_rss_mib']:.0f} "
                f"| {scan['rss_before_scan_mib']:.0f} "
                f"| {scan['statements_total']:,} | {scan['cpu_s']:.1f} |"
            )
    return "\n".join(lines)


def format_phases(result: dict[str, Any]) -> str:
    lines = []
    for (label, _, _), key in zip(SCANS, SCAN_KEYS, strict=True):
        phases = result[key].get("phases")
        if not phases:
            continue
        lines.append(f"Phases of the {label} scan ({result['contracts']:,} contracts):")
        for name, figures in sorted(
            phases.items(), key=lambda item: item[1]["seconds"], reverse=True
        ):
            seconds, calls = figures["seconds"], figures["calls"]
            lines.append(f"  {name:<28} {seconds:8.2f} s  {calls:>9,} calls")
    return "\n".join(lines)


async def _drop_database(server_url: str, database: str) -> None:
    connection = await asyncpg.connect(database_url(server_url, "postgres"))
    try:
        await connection.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    finally:
        await connection.close()


def _parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--contracts {text!r} is invalid: give whole numbers separated by commas"
        ) from None
    if not sizes or any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(
            f"--contracts {text!r} is invalid: give at least one number of 1 or more"
        )
    return sizes


def _report(
    machine: dict[str, Any],
    started: datetime,
    results: list[dict[str, Any]],
    args: argparse.Namespace,
) -> None:
    """Print the figures and write them as JSON to the results folder."""
    source = f", package from {args.source}" if args.source else ""
    print(
        f"Machine: {machine['nproc']} CPUs ({machine['cpu_model']}), "
        f"{machine['memory_gib']} GiB, Linux {machine['kernel']}, Python "
        f"{machine['python']}, PostgreSQL {machine['postgresql']}, source "
        f"{machine['contractgql_revision']}{source}, started "
        f"{started:%Y-%m-%d %H:%M} UTC"
    )
    print(f"Scan date {SCAN_DATE.isoformat()}, target ratio {TARGET_RATIO:g}")
    print(format_table(results))
    print("Each ratio divides a scan's wall time by the faster statement median.")
    for result in results:
        phases = format_phases(result)
        if phases:
            print(phases)

    path = args.results_dir / f"reminder-scan-{started:%Y%m%dT%H%M%S}.json"
    document = {
        "machine": machine,
        "source": str(args.source) if args.source else "src",
        "results": results,
    }
    path.write_text(json.dumps(document, indent=2, default=str))
    print(f"Figures written to {path}")


async def _main(args: argparse.Namespace) -> int:
    """Run every size, then report the sizes that finished, even after a failure."""
    args.results_dir.mkdir(parents=True, exist_ok=True)
    machine = machine_info(
        await server_version(args.server_url), source_revision(REPO_ROOT)
    )
    started = datetime.now(UTC)
    results: list[dict[str, Any]] = []
    try:
        for contracts in args.contracts:
            results.append(await run_size(args, contracts))
    finally:
        if not args.keep_database:
            await _drop_database(args.server_url, args.database)
        if results:
            _report(machine, started, results, args)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Time a full reminder scan against one SQL statement that "
        "selects the same due reminders."
    )
    parser.add_argument(
        "--contracts",
        type=_parse_sizes,
        default=_parse_sizes(DEFAULT_SIZES),
        help="numbers of contracts to run, separated by commas "
        f"(default {DEFAULT_SIZES})",
    )
    parser.add_argument(
        "--statement-runs",
        type=int,
        default=3,
        help="times the SQL statement runs; the median counts (default 3)",
    )
    parser.add_argument(
        "--server-url",
        default=DEFAULT_SERVER_URL,
        help=f"PostgreSQL server (default {DEFAULT_SERVER_URL})",
    )
    parser.add_argument(
        "--database",
        default=DEFAULT_DATABASE,
        help=f"database to drop and create; its name must contain 'bench' "
        f"(default {DEFAULT_DATABASE})",
    )
    parser.add_argument(
        "--keep-database",
        action="store_true",
        help="leave the database of the last size in place",
    )
    parser.add_argument(
        "--no-auto-analyze",
        dest="auto_analyze",
        action="store_false",
        help="while the server's autovacuum is off, do not analyze the tables "
        "that the scans write as autovacuum would",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="write cProfile statistics of each scan to the results folder",
    )
    parser.add_argument(
        "--phases",
        action="store_true",
        help="time the scan's phases and print them",
    )
    parser.add_argument(
        "--source",
        type=Path,
        help="folder that contains another version of the contractgql package, "
        "for the scan processes to import instead of src/ (the seeding still "
        "uses src/)",
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=RESULTS_DIR,
        help="folder for the JSON figures and profiles (default bench/results)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.statement_runs < 1:
        parser.error("--statement-runs must be 1 or more")
    if args.source and not (args.source / "contractgql" / "__init__.py").is_file():
        parser.error(f"--source {args.source} has no contractgql package")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    logging.getLogger("tortoise").setLevel(logging.WARNING)
    try:
        return asyncio.run(_main(args))
    except (CheckFailed, SeedError) as error:
        logger.error("%s", error)
        return 1
    except KeyboardInterrupt:
        logger.error("Interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
