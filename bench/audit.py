"""Measure the audit recorder's lag under a steady load of mutations, and its speed.

    .venv/bin/python -m bench.audit [--rate 100] [--duration 60] [--backlog 20000]

The run creates its own PostgreSQL database and starts its own redis-server, the
API server (`contractgql serve`) and one `contractgql worker`, all on 127.0.0.1.
It logs in and creates the contracts that the load renames.

1. Steady load: update mutations over HTTP at --rate per second for --duration
   seconds. The lag of an event runs from the creation of its outbox row, in the
   mutation's transaction just before the commit, until the commit of its audit
   log entry (see `bench.audit_load.CommitListener`). The lag from the client's
   receipt of the response is given too.
2. Throughput: --backlog outbox events inserted in one statement, then one
   recorder job enqueued as the API enqueues it. Events per second run from the
   backlog's commit until the outbox is empty.
3. Check: `contractgql audit verify` must pass, the outbox must be empty, and the
   audit log must contain each successful mutation exactly once.

It prints a table with the load average and writes all figures as JSON under
bench/results/. Exit code 0 when every check passed and the steady load met the target
(`target_verdict`), 1 when a check failed, 2 when the target was missed or the
load could not send 95 % of 100 mutations/s, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

if __package__ in (None, ""):
    # Started as `python bench/audit.py`: make the `bench` package importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
import asyncpg  # type: ignore[import-untyped]
import redis.asyncio
from arq import create_pool
from arq.connections import RedisSettings

from bench.audit_load import (
    INSTALL_TRIGGER_SQL,
    REMOVE_TRIGGER_SQL,
    REQUEST_TIMEOUT_S,
    CommitListener,
    GraphQLClient,
    Mutation,
    mutation_name,
    run_steady_load,
)
from bench.audit_setup import (
    ORGANIZATION_NAME,
    BenchProcess,
    BenchProcesses,
    SetupError,
    check_database_name,
    create_database,
    drop_database,
    migrate_and_create_user,
    process_env,
    read_log,
    run_command,
    start_redis,
    start_server,
    start_worker,
)
from bench.common import DEFAULT_SERVER_URL, database_url
from bench.processes import (
    REPO_ROOT,
    machine_cpu_ticks,
    peak_rss_mib,
    postgres_backend_pids,
    process_cpu_s,
    reset_peak_rss,
)
from bench.report import machine_info, server_version, source_revision
from contractgql.audit.enqueue import RECORD_AUDIT_JOB

logger = logging.getLogger("bench.audit")

DEFAULT_DATABASE = "contractgql_bench_audit"
RESULTS_DIR = REPO_ROOT / "bench" / "results"
WORKER_QUEUE = "contractgql:queue"
# The requirement: lag under 1 s at 100 mutations per second.
TARGET_LAG_S = 1.0
TARGET_RATE = 100.0
# Seconds between samples of the outbox size, the worker's CPU and the load.
SAMPLE_INTERVAL_S = 1.0
# Seconds between checks whether the recorder has caught up.
POLL_INTERVAL_S = 0.02
# The worker sweeps every minute, so an event whose job was lost is recorded
# within this time anyway.
DEFAULT_DRAIN_TIMEOUT_S = 150.0
# arq logs a finished job as "  0.05s ← <job id>:record_audit ● <result>".
FINISHED_JOB = re.compile(r"([\d.]+)s ← \S*:?record_audit ● (\d+)")
# arq logs a started job as "  0.38s → <job id>:record_audit(1)", with the time
# since it was enqueued. The sweep's cron job, whose id starts with "cron:", is
# enqueued ahead of its time and left out.
STARTED_JOB = re.compile(r"([\d.]+)s → (?!cron:)\S*record_audit\(")


class CheckFailed(Exception):
    """A figure of the run contradicts what the benchmark requires."""


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def percentile(values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of `values`, which must not be empty."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(fraction * len(ordered) + 0.999999)))
    return ordered[rank - 1]


def distribution(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {
        "p50": percentile(values, 0.50),
        "p95": percentile(values, 0.95),
        "p99": percentile(values, 0.99),
        "max": max(values),
        "mean": sum(values) / len(values),
    }


async def _wait_until(
    condition: Any, timeout_s: float, interval_s: float = POLL_INTERVAL_S
) -> bool:
    """Await `condition()` until it is true or `timeout_s` has passed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await condition():
            return True
        await asyncio.sleep(interval_s)
    return bool(await condition())


class WorkerLog:
    """The recorder jobs that the worker logged since a given point of its log."""

    def __init__(self, worker: BenchProcess) -> None:
        self.path = worker.log_path
        self.offset = len(read_log(self.path))

    def jobs(self) -> dict[str, Any]:
        text = read_log(self.path)[self.offset :]
        finished = [
            (float(seconds), int(count))
            for seconds, count in FINISHED_JOB.findall(text)
        ]
        with_events = [entry for entry in finished if entry[1] > 0]
        return {
            "jobs": len(finished),
            "jobs_with_events": len(with_events),
            "events": sum(count for _, count in finished),
            "job_seconds": round(sum(seconds for seconds, _ in finished), 2),
            "longest_job_s": max((seconds for seconds, _ in finished), default=0.0),
            "queue_wait_s": distribution(
                [float(wait) for wait in STARTED_JOB.findall(text)]
            ),
        }


async def _outbox_size(connection: Any) -> int:
    size: int = await connection.fetchval("SELECT count(*) FROM audit_outbox")
    return size


async def _sample(
    connection: Any,
    queue: redis.asyncio.Redis,
    worker_pid: int,
    samples: list[dict[str, Any]],
) -> None:
    """Append one sample per second until cancelled."""
    while True:
        samples.append(
            {
                "time": time.time(),
                "outbox": await _outbox_size(connection),
                "queued_jobs": await queue.zcard(WORKER_QUEUE),
                "worker_cpu_s": process_cpu_s(worker_pid),
                "load": _load_average(),
            }
        )
        await asyncio.sleep(SAMPLE_INTERVAL_S)


class CpuUse:
    """CPU seconds of the benchmark's processes and of the machine since creation."""

    def __init__(self, pids: dict[str, int], backend_pids: list[int]) -> None:
        self.pids = pids
        self.started = time.monotonic()
        self.before = {name: process_cpu_s(pid) for name, pid in pids.items()}
        self.backends_before = {pid: process_cpu_s(pid) for pid in backend_pids}
        self.machine_before = machine_cpu_ticks()

    def used(self, backend_pids: list[int]) -> dict[str, float]:
        """Return CPU seconds per process, PostgreSQL's backends and the machine's
        busy share. Backends that ended before this call are not counted."""
        used = {
            name: round(process_cpu_s(pid) - self.before[name], 2)
            for name, pid in self.pids.items()
        }
        used["postgresql_backends"] = round(
            sum(
                process_cpu_s(pid) - self.backends_before.get(pid, 0.0)
                for pid in backend_pids
            ),
            2,
        )
        busy, total = machine_cpu_ticks()
        used["machine_busy_share"] = round(
            (busy - self.machine_before[0]) / max(1, total - self.machine_before[1]),
            3,
        )
        used["wall_s"] = round(time.monotonic() - self.started, 2)
        return used


@dataclass
class Rig:
    """The database and the processes that the phases measure."""

    url: str
    redis_url: str
    worker: BenchProcess
    pids: dict[str, int]


async def steady_phase(
    args: argparse.Namespace,
    client: GraphQLClient,
    contract_ids: list[str],
    rig: Rig,
) -> dict[str, Any]:
    """Run the steady load and return the mutation and lag figures."""
    url, worker = rig.url, rig.worker
    connection = await asyncpg.connect(url)
    queue = redis.asyncio.Redis.from_url(rig.redis_url)
    listener = CommitListener(url)
    samples: list[dict[str, Any]] = []
    try:
        await connection.execute(INSTALL_TRIGGER_SQL)
        listener.start()
        reset_peak_rss(worker.process.pid)
        worker_log = WorkerLog(worker)
        cpu = CpuUse(rig.pids, await postgres_backend_pids(url))
        load_before = _load_average()
        sampler = asyncio.create_task(
            _sample(connection, queue, worker.process.pid, samples)
        )
        logger.info("Steady load: %g mutations/s for %g s", args.rate, args.duration)
        try:
            mutations = await run_steady_load(
                client, contract_ids, args.rate, args.duration, args.max_in_flight
            )
            ok = sum(mutation.ok for mutation in mutations)
            load_end = time.time()

            async def caught_up() -> bool:
                return len(listener.arrivals) >= ok and (
                    await _outbox_size(connection) == 0
                )

            drained = await _wait_until(caught_up, args.drain_timeout)
        finally:
            sampler.cancel()
        drain_s = time.time() - load_end
        cpu_used = cpu.used(await postgres_backend_pids(url))
        rss = peak_rss_mib(worker.process.pid)
        queued_at_end = await queue.zcard(WORKER_QUEUE)
        rows = await connection.fetch(
            "SELECT outbox_id, created_at, changes FROM audit_log "
            "WHERE action = 'contract.update' ORDER BY outbox_id"
        )
        await connection.execute(REMOVE_TRIGGER_SQL)
    finally:
        listener.stop()
        await queue.aclose()
        await connection.close()
    figures = _steady_figures(mutations, rows, listener.arrivals)
    figures.update(
        {
            "rate_requested": args.rate,
            "duration_s": args.duration,
            "drained": drained,
            "drain_s": round(drain_s, 3),
            "cpu_s": cpu_used,
            "worker_peak_rss_mib": round(rss, 1),
            "worker_jobs": worker_log.jobs(),
            "max_outbox": max((sample["outbox"] for sample in samples), default=0),
            "max_queued_jobs": max(
                (sample["queued_jobs"] for sample in samples), default=0
            ),
            "queued_jobs_at_end": queued_at_end,
            "load_before": load_before,
            "load_after": _load_average(),
            "samples": samples,
        }
    )
    return figures


def _steady_figures(
    mutations: list[Mutation], rows: list[Any], arrivals: dict[int, float]
) -> dict[str, Any]:
    by_name = {mutation_name(mutation.index): mutation for mutation in mutations}
    lag_created: list[float] = []
    lag_response: list[float] = []
    entries_per_mutation: dict[int, int] = {}
    missing_arrival = 0
    for row in rows:
        changes = json.loads(row["changes"])
        names = [change["new"] for change in changes if change["field"] == "name"]
        mutation = by_name.get(names[0]) if names else None
        if mutation is None:
            continue
        entries_per_mutation[mutation.index] = (
            entries_per_mutation.get(mutation.index, 0) + 1
        )
        arrived = arrivals.get(row["outbox_id"])
        if arrived is None:
            missing_arrival += 1
            continue
        lag_created.append(arrived - row["created_at"].timestamp())
        lag_response.append(arrived - mutation.responded)
    ok = [mutation for mutation in mutations if mutation.ok]
    sent = [mutation.sent for mutation in mutations if mutation.sent]
    span = max(sent) - min(sent) if len(sent) > 1 else 0.0
    late = [mutation.sent - mutation.scheduled for mutation in mutations]
    return {
        "mutations": len(mutations),
        "mutations_ok": len(ok),
        "mutations_failed": len(mutations) - len(ok),
        "first_errors": [m.error for m in mutations if m.error][:5],
        "rate_sent": (len(sent) - 1) / span if span else 0.0,
        "sent_late_s": distribution(late),
        "response_s": distribution([m.responded - m.sent for m in ok]),
        "entries_found": sum(entries_per_mutation.values()),
        "mutations_without_entry": sum(
            1 for mutation in ok if mutation.index not in entries_per_mutation
        ),
        "mutations_with_several_entries": sum(
            1 for count in entries_per_mutation.values() if count > 1
        ),
        "entries_without_arrival": missing_arrival,
        "lag_from_event_s": distribution(lag_created),
        "lag_from_response_s": distribution(lag_response),
    }


async def throughput_phase(args: argparse.Namespace, rig: Rig) -> dict[str, Any]:
    """Record a backlog of outbox events as fast as the worker can."""
    url, worker = rig.url, rig.worker
    connection = await asyncpg.connect(url)
    try:
        organization_id, actor_id = await connection.fetchrow(
            "SELECT o.id, u.id FROM organizations o JOIN users u "
            "ON u.organization_id = o.id WHERE o.name = $1",
            ORGANIZATION_NAME,
        )
        before = await connection.fetchval("SELECT count(*) FROM audit_log")
        reset_peak_rss(worker.process.pid)
        worker_log = WorkerLog(worker)
        load_before = _load_average()
        logger.info("Throughput: inserting %d outbox events", args.backlog)
        # Shaped like the steady load's events: one changed name each.
        await connection.execute(
            "INSERT INTO audit_outbox (organization_id, actor_id, action, "
            "entity_type, entity_id, changes, request_id, created_at) "
            "SELECT $1, $2, 'contract.update', 'Contract', 1 + g % 100, "
            "jsonb_build_array(jsonb_build_object('field', 'name', "
            "'old', 'Bench backlog ' || (g - 1), 'new', 'Bench backlog ' || g)), "
            "substr(md5(g::text), 1, 16), clock_timestamp() "
            "FROM generate_series(1, $3) AS g",
            organization_id,
            actor_id,
            args.backlog,
        )
        started = time.time()
        cpu = CpuUse(rig.pids, await postgres_backend_pids(url))
        redis_pool = await create_pool(RedisSettings.from_dsn(rig.redis_url))
        try:
            await redis_pool.enqueue_job(
                RECORD_AUDIT_JOB, organization_id, _queue_name=WORKER_QUEUE
            )
        finally:
            await redis_pool.aclose()

        async def empty() -> bool:
            return await _outbox_size(connection) == 0

        emptied = await _wait_until(empty, args.backlog_timeout)
        elapsed = time.time() - started
        recorded = await connection.fetchval("SELECT count(*) FROM audit_log") - before
        cpu_used = cpu.used(await postgres_backend_pids(url))
    finally:
        await connection.close()
    return {
        "backlog": args.backlog,
        "emptied": emptied,
        "recorded": recorded,
        "seconds": round(elapsed, 3),
        "events_per_s": recorded / elapsed if elapsed else 0.0,
        "cpu_s": cpu_used,
        "worker_peak_rss_mib": round(peak_rss_mib(worker.process.pid), 1),
        "worker_jobs": worker_log.jobs(),
        "load_before": load_before,
        "load_after": _load_average(),
    }


async def _run(args: argparse.Namespace, work_dir: Path) -> dict[str, Any]:
    server_url = args.server_url
    url = database_url(server_url, args.database)
    revision = source_revision(REPO_ROOT)
    machine = machine_info(await server_version(server_url), revision)
    result: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "load_at_start": _load_average(),
        "source": str(args.source) if args.source else "src",
        "options": {
            key: value
            for key, value in vars(args).items()
            if key not in ("source", "results_dir")
        },
    }
    await create_database(server_url, args.database)
    try:
        with BenchProcesses(work_dir) as processes:
            redis_server, redis_url = start_redis(processes)
            env = process_env(work_dir / "data", url, redis_url, args.source)
            migrate_and_create_user(env)
            server, graphql_url = start_server(processes, env)
            worker = start_worker(processes, env)
            pids = {
                "server": server.process.pid,
                "worker": worker.process.pid,
                "redis": redis_server.process.pid,
                "benchmark": os.getpid(),
            }
            rig = Rig(url, redis_url, worker, pids)
            timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
            connector = aiohttp.TCPConnector(limit=args.max_in_flight)
            async with aiohttp.ClientSession(
                timeout=timeout, connector=connector
            ) as session:
                client = GraphQLClient(graphql_url, session)
                await client.login()
                contract_ids = await client.create_contracts(args.contracts)
                await _wait_for_empty_outbox(url, args.drain_timeout)
                if args.duration > 0:
                    result["steady"] = await steady_phase(
                        args, client, contract_ids, rig
                    )
            if args.backlog > 0:
                result["throughput"] = await throughput_phase(args, rig)
            result["verify"] = run_command(["audit", "verify"], env).strip()
            result["checks"] = await _final_checks(url)
    finally:
        if not args.keep_database:
            await drop_database(server_url, args.database)
    return result


async def _wait_for_empty_outbox(url: str, timeout_s: float) -> None:
    connection = await asyncpg.connect(url)
    try:

        async def empty() -> bool:
            return await _outbox_size(connection) == 0

        if not await _wait_until(empty, timeout_s, 0.1):
            raise CheckFailed(
                f"The set-up events were not recorded within {timeout_s:.0f} s."
            )
    finally:
        await connection.close()


async def _final_checks(url: str) -> dict[str, int]:
    connection = await asyncpg.connect(url)
    try:
        row = await connection.fetchrow(
            "SELECT (SELECT count(*) FROM audit_outbox) AS outbox, "
            "(SELECT count(*) FROM audit_log) AS entries, "
            "(SELECT count(DISTINCT outbox_id) FROM audit_log) AS outbox_ids, "
            "(SELECT coalesce(max(sequence), 0) FROM audit_log) AS last_sequence"
        )
    finally:
        await connection.close()
    return dict(row)


def check(result: dict[str, Any]) -> list[str]:
    """Return what the run's figures contradict; empty when every check passed."""
    problems = []
    checks = result["checks"]
    if checks["outbox"] != 0:
        problems.append(f"{checks['outbox']} events are still in the outbox")
    if not checks["entries"] == checks["outbox_ids"] == checks["last_sequence"]:
        problems.append(
            f"the audit log has {checks['entries']} entries, "
            f"{checks['outbox_ids']} outbox ids and last sequence "
            f"{checks['last_sequence']}"
        )
    steady = result.get("steady")
    if steady is not None:
        if steady["mutations_failed"]:
            problems.append(f"{steady['mutations_failed']} mutations failed")
        if not steady["drained"]:
            problems.append("the recorder did not catch up after the steady load")
        for key in (
            "mutations_without_entry",
            "mutations_with_several_entries",
            "entries_without_arrival",
        ):
            if steady[key]:
                problems.append(f"{key.replace('_', ' ')}: {steady[key]}")
    throughput = result.get("throughput")
    if throughput is not None and throughput["recorded"] != throughput["backlog"]:
        problems.append(
            f"the recorder appended {throughput['recorded']} of "
            f"{throughput['backlog']} backlog events"
        )
    return problems


def _ms(figures: dict[str, float] | None, key: str) -> str:
    return "-" if figures is None else f"{figures[key] * 1000:,.0f}"


def _format_cpu(cpu: dict[str, float]) -> str:
    return (
        f"CPU s in {cpu['wall_s']} s: server {cpu['server']}, worker "
        f"{cpu['worker']}, PostgreSQL backends {cpu['postgresql_backends']}, "
        f"redis {cpu['redis']}, benchmark {cpu['benchmark']}; machine busy "
        f"{cpu['machine_busy_share']:.0%}."
    )


def format_report(result: dict[str, Any]) -> str:
    machine = result["machine"]
    lines = [
        f"Machine: {machine['nproc']} CPUs ({machine['cpu_model']}), "
        f"PostgreSQL {machine['postgresql']}, commit "
        f"{machine['contractgql_revision']}, package from {result['source']}",
    ]
    steady = result.get("steady")
    if steady is not None:
        lines += [
            "",
            "Steady load",
            "| mutations/s requested / sent | OK / failed | response p50 / p99 ms "
            "| lag p50 / p95 / p99 / max ms | from response p50 / p99 ms "
            "| max outbox | max queued jobs | worker peak RSS MiB | load |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        lag = steady["lag_from_event_s"]
        lag_response = steady["lag_from_response_s"]
        response = steady["response_s"]
        lines.append(
            f"| {steady['rate_requested']:g} / {steady['rate_sent']:.1f} "
            f"| {steady['mutations_ok']:,} / {steady['mutations_failed']} "
            f"| {_ms(response, 'p50')} / {_ms(response, 'p99')} "
            f"| {_ms(lag, 'p50')} / {_ms(lag, 'p95')} / {_ms(lag, 'p99')} / "
            f"{_ms(lag, 'max')} "
            f"| {_ms(lag_response, 'p50')} / {_ms(lag_response, 'p99')} "
            f"| {steady['max_outbox']:,} | {steady['max_queued_jobs']:,} "
            f"| {steady['worker_peak_rss_mib']} "
            f"| {steady['load_before'][0]} → {steady['load_after'][0]} |"
        )
        lines.append(_format_cpu(steady["cpu_s"]))
        jobs = steady["worker_jobs"]
        lines.append(
            f"Recorder jobs: {jobs['jobs']:,}, {jobs['jobs_with_events']:,} of them "
            f"with events, {jobs['job_seconds']} s in jobs, longest "
            f"{jobs['longest_job_s']} s; wait in the queue p50 / max "
            f"{_ms(jobs['queue_wait_s'], 'p50')} / {_ms(jobs['queue_wait_s'], 'max')} "
            "ms."
        )
    throughput = result.get("throughput")
    if throughput is not None:
        lines += [
            "",
            "Throughput",
            "| backlog | recorded | seconds | events/s | longest job s "
            "| worker peak RSS MiB | load |",
            "|---:|---:|---:|---:|---:|---:|---|",
            f"| {throughput['backlog']:,} | {throughput['recorded']:,} "
            f"| {throughput['seconds']:.2f} | {throughput['events_per_s']:,.0f} "
            f"| {throughput['worker_jobs']['longest_job_s']:.2f} "
            f"| {throughput['worker_peak_rss_mib']} "
            f"| {throughput['load_before'][0]} → {throughput['load_after'][0]} |",
            _format_cpu(throughput["cpu_s"]),
        ]
    lines += ["", result["verify"]]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.audit",
        description="Measure the audit recorder's lag under a steady load of "
        "mutations and its throughput on a backlog.",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=TARGET_RATE,
        help="Update mutations per second of the steady load (default 100).",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=60.0,
        help="Seconds of steady load (default 60); 0 skips the steady load.",
    )
    parser.add_argument(
        "--contracts",
        type=int,
        default=100,
        help="Contracts that the load renames in turn (default 100).",
    )
    parser.add_argument(
        "--max-in-flight",
        type=int,
        default=200,
        help="Maximum requests in flight; a mutation due while all are in flight "
        "is sent late "
        "(default 200, which keeps 100 mutations/s going while responses take "
        "up to 2 s).",
    )
    parser.add_argument(
        "--backlog",
        type=int,
        default=20_000,
        help="Outbox events of the throughput run (default 20000); 0 skips it.",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=DEFAULT_DRAIN_TIMEOUT_S,
        help="Seconds to wait for the recorder to catch up after the steady load "
        "(default 150).",
    )
    parser.add_argument(
        "--backlog-timeout",
        type=float,
        default=600.0,
        help="Seconds the throughput run may take (default 600).",
    )
    parser.add_argument(
        "--server-url",
        default=DEFAULT_SERVER_URL,
        help=f"PostgreSQL server (default {DEFAULT_SERVER_URL}).",
    )
    parser.add_argument(
        "--database",
        default=DEFAULT_DATABASE,
        help="Database to drop and create; the name must contain 'bench' "
        f"(default {DEFAULT_DATABASE}).",
    )
    parser.add_argument(
        "--keep-database",
        action="store_true",
        help="Leave the database in place at the end.",
    )
    parser.add_argument(
        "--source",
        type=Path,
        help="Folder with another version of the contractgql package, for the "
        "server, the worker and the commands to import instead of src/.",
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=RESULTS_DIR,
        help="Folder for the JSON figures (default bench/results).",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.duration < 0 or args.backlog < 0:
        parser.error("--rate must be above 0, --duration and --backlog 0 or more")
    if args.contracts < 1 or args.max_in_flight < 1:
        parser.error("--contracts and --max-in-flight must be 1 or more")
    try:
        check_database_name(args.database)
    except SetupError as error:
        parser.error(str(error))
    if args.source and not (args.source / "contractgql" / "__init__.py").is_file():
        parser.error(f"--source {args.source} has no contractgql package")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    work_dir = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    try:
        result = asyncio.run(_run(args, work_dir))
    except KeyboardInterrupt:
        logger.error(
            "Interrupted, so the processes were stopped. The logs are in %s.",
            work_dir,
        )
        return 130
    except (SetupError, CheckFailed, OSError) as error:
        logger.error("Benchmark failed: %s. The logs are in %s.", error, work_dir)
        return 1
    print(format_report(result))
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.results_dir / f"audit-recorder-{stamp}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    print(f"Figures written to {path}")
    problems = check(result)
    if problems:
        logger.error(
            "Checks failed: %s. The logs are in %s.", "; ".join(problems), work_dir
        )
        return 1
    shutil.rmtree(work_dir, ignore_errors=True)
    steady = result.get("steady")
    if steady is None:
        return 0
    verdict, met = target_verdict(steady)
    print(verdict)
    return 0 if met else 2


def target_verdict(steady: dict[str, Any]) -> tuple[str, bool]:
    """Return a sentence on the lag target, and whether the run met it.

    The target is met when every event's lag was under TARGET_LAG_S while the
    load sent at least 95 % of TARGET_RATE mutations per second.
    """
    lag = steady["lag_from_event_s"]
    rate = steady["rate_sent"]
    if rate < 0.95 * TARGET_RATE:
        return (
            f"Target not tested: the load sent {rate:.1f} mutations/s, fewer than "
            f"the {TARGET_RATE:g} of the target.",
            False,
        )
    if lag["max"] >= TARGET_LAG_S:
        return (
            f"Target missed: the longest lag was {lag['max']:.3f} s at "
            f"{rate:.1f} mutations/s.",
            False,
        )
    return (
        f"Target met: every lag was under {TARGET_LAG_S:g} s (longest "
        f"{lag['max']:.3f} s) at {rate:.1f} mutations/s.",
        True,
    )


if __name__ == "__main__":
    sys.exit(main())
