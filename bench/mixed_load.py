"""Load the API with a mix of reads and writes, then check that no write was lost.

    .venv/bin/python -m bench.mixed_load [--clients 32] [--duration 60] [--apis 2]

The run seeds its own PostgreSQL database with the 10,000 contracts of the
contracts page benchmark (`bench.seed`). It runs a first reminder scan and
records its audit events. Then it starts its own redis-server, --apis
`contractgql serve` processes and one `contractgql worker`, all on 127.0.0.1.
--clients clients then send the mix of `bench.mixed_traffic.OPERATIONS` for
--duration seconds, each request to the next API process in turn.

Afterwards it waits until the worker has recorded every audit event, and checks
that every acknowledged rename left its name and version, that every
acknowledged note exists, that the audit log holds each acknowledged write once
under its request id, and that `contractgql audit verify` passes.

It prints throughput, p50 and p99 latency and errors per operation, and writes
all figures as JSON under bench/results/. Exit code 0 when no request failed and
no write was lost, 1 otherwise, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import logging
import os
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

if __package__ in (None, ""):
    # Started as `python bench/mixed_load.py`: make the `bench` package importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
import asyncpg  # type: ignore[import-untyped]

from bench.audit_setup import (
    BenchProcesses,
    SetupError,
    process_env,
    run_command,
    start_redis,
    start_server,
    start_worker,
)
from bench.common import (
    CONTRACT_COUNT,
    DEFAULT_SERVER_URL,
    ORGANIZATION_NAME,
    database_url,
)
from bench.load import percentile_ms
from bench.mixed_traffic import (
    OPERATIONS,
    KnownContract,
    Ledger,
    Traffic,
    run_clients,
)
from bench.processes import REPO_ROOT
from bench.report import machine_info, server_version, source_revision
from bench.seed import SeedError, seed

logger = logging.getLogger("bench.mixed_load")

DEFAULT_DATABASE = "contractgql_bench_load"
RESULTS_DIR = REPO_ROOT / "bench" / "results"
ADMIN_EMAIL = "bench.load.admin@example.com"
# The database exists only for the benchmark, on loopback.
ADMIN_PASSWORD = "bench-load-password-not-secret"
# Contracts that each client renames in turn, so that no two clients write the
# same contract and every expectedVersion is known.
CONTRACTS_PER_CLIENT = 20
# Seconds to wait for the worker to record every audit event after the load.
DRAIN_TIMEOUT_S = 150.0
MAX_ERROR_KINDS = 5
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { token }
}
"""


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


async def login(url: str) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url,
            json={
                "query": LOGIN,
                "variables": {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
            },
        ) as response,
    ):
        body = await response.json(content_type=None)
    if response.status != 200 or body.get("errors"):
        raise SetupError(f"Login failed with HTTP {response.status}: {body!r}")
    token: str = body["data"]["login"]["token"]
    return token


async def owned_contracts(
    url: str, clients: int
) -> tuple[int, list[list[int]], Ledger]:
    """Return the organization, each client's contracts and their current state."""
    connection = await asyncpg.connect(url)
    try:
        organization_id = await connection.fetchval(
            "SELECT id FROM organizations WHERE name = $1", ORGANIZATION_NAME
        )
        rows = await connection.fetch(
            "SELECT id, name, version FROM contracts WHERE organization_id = $1 "
            "AND archived_at IS NULL ORDER BY id LIMIT $2",
            organization_id,
            clients * CONTRACTS_PER_CLIENT,
        )
    finally:
        await connection.close()
    if len(rows) < clients * CONTRACTS_PER_CLIENT:
        raise SetupError(f"Only {len(rows)} contracts to rename: seed again.")
    ledger = Ledger()
    for row in rows:
        ledger.contracts[row["id"]] = KnownContract(row["name"], row["version"])
    pks = [row["id"] for row in rows]
    return organization_id, [pks[index::clients] for index in range(clients)], ledger


async def wait_for_audit(url: str, organization_id: int) -> float:
    """Wait until the organization's audit outbox is empty; return the seconds."""
    started = time.monotonic()
    connection = await asyncpg.connect(url)
    try:
        while True:
            waiting = await connection.fetchval(
                "SELECT count(*) FROM audit_outbox WHERE organization_id = $1",
                organization_id,
            )
            if waiting == 0:
                return time.monotonic() - started
            if time.monotonic() - started > DRAIN_TIMEOUT_S:
                raise SetupError(
                    f"{waiting} audit events were still waiting after "
                    f"{DRAIN_TIMEOUT_S:.0f} s: see the worker's log."
                )
            await asyncio.sleep(0.2)
    finally:
        await connection.close()


async def lost_writes(url: str, organization_id: int, ledger: Ledger) -> list[str]:
    """Return a line for each acknowledged write missing from the database or log."""
    problems: list[str] = []
    renamed = {
        pk: known
        for pk, known in ledger.contracts.items()
        if known.renamed and pk not in ledger.unknown_contracts
    }
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT id, name, version FROM contracts WHERE id = ANY($1::bigint[])",
            list(renamed),
        )
        stored = {row["id"]: (row["name"], row["version"]) for row in rows}
        for pk, known in renamed.items():
            if stored.get(pk) != (known.name, known.version):
                problems.append(
                    f"contract {pk} is {stored.get(pk)}, not the acknowledged "
                    f"{(known.name, known.version)}"
                )
        rows = await connection.fetch(
            "SELECT id, body FROM notes WHERE id = ANY($1::bigint[])",
            list(ledger.notes),
        )
        notes = {row["id"]: row["body"] for row in rows}
        problems += [
            f"note {pk} is missing or changed"
            for pk, body in ledger.notes.items()
            if notes.get(pk) != body
        ]
        rows = await connection.fetch(
            "SELECT request_id, action, count(*) AS entries FROM audit_log "
            "WHERE organization_id = $1 AND request_id = ANY($2::text[]) "
            "GROUP BY request_id, action",
            organization_id,
            list(ledger.audited),
        )
    finally:
        await connection.close()
    audited = {(row["request_id"], row["action"]): row["entries"] for row in rows}
    for request_id, action in ledger.audited.items():
        entries = audited.get((request_id, action), 0)
        if entries != 1:
            problems.append(f"{action} of request {request_id} is audited {entries}x")
    return problems


def operation_figures(traffic: Traffic, elapsed: float) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    every: list[float] = []
    errors = 0
    for operation in OPERATIONS:
        stats = traffic.stats[operation.name]
        latencies = sorted(stats.latencies_s)
        every += latencies
        errors += sum(stats.errors.values())
        figures[operation.name] = _figures(latencies, stats.errors, elapsed)
    every.sort()
    figures["all"] = _figures(every, {"": errors} if errors else {}, elapsed)
    return figures


def _figures(
    latencies: list[float], errors: dict[str, int], elapsed: float
) -> dict[str, Any]:
    kinds = sorted(errors.items(), key=lambda item: -item[1])[:MAX_ERROR_KINDS]
    return {
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile_ms(latencies, 0.50), 1),
        "p99_ms": round(percentile_ms(latencies, 0.99), 1),
        "max_ms": round(latencies[-1] * 1000, 1) if latencies else 0.0,
        "errors": sum(errors.values()),
        "error_kinds": {kind: count for kind, count in kinds if kind},
    }


async def _run(args: argparse.Namespace, work_dir: Path) -> dict[str, Any]:
    url = database_url(args.server_url, args.database)
    result: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(
            await server_version(args.server_url), source_revision(REPO_ROOT)
        ),
        "load_at_start": [round(value, 2) for value in os.getloadavg()],
        "options": {k: v for k, v in vars(args).items() if k != "results_dir"},
    }
    await seed(args.server_url, args.database)
    with BenchProcesses(work_dir) as processes:
        _, redis_url = start_redis(processes)
        env = process_env(work_dir / "data", url, redis_url)
        run_command(
            [
                "create-user",
                "--email",
                ADMIN_EMAIL,
                "--name",
                "Bench Load Admin",
                "--role",
                "admin",
                "--organization",
                ORGANIZATION_NAME,
            ],
            {**env, "CONTRACTGQL_PASSWORD": ADMIN_PASSWORD},
        )
        # A first scan of the seeded contracts renews and expires thousands of
        # them, which is not the steady state that the load should meet.
        scan_started = time.monotonic()
        run_command(["scan"], env)
        run_command(["audit", "record"], env)
        result["setup_scan_s"] = round(time.monotonic() - scan_started, 1)
        urls = [
            start_server(processes, env, f"api-{index + 1}")[1]
            for index in range(args.apis)
        ]
        start_worker(processes, env)
        token = await login(urls[0])
        organization_id, owned, ledger = await owned_contracts(url, args.clients)

        started = time.monotonic()
        traffic = Traffic(
            urls, token, CONTRACT_COUNT, started + args.duration, args.max_requests
        )
        traffic.ledger = ledger
        await run_clients(traffic, owned)
        elapsed = time.monotonic() - started

        result["operations"] = operation_figures(traffic, elapsed)
        result["elapsed_s"] = round(elapsed, 2)
        result["load_at_end"] = [round(value, 2) for value in os.getloadavg()]
        result["audit_drain_s"] = round(await wait_for_audit(url, organization_id), 2)
        problems = await lost_writes(url, organization_id, ledger)
        verified = run_command(
            ["audit", "verify", "--organization", ORGANIZATION_NAME],
            {**env, "CONTRACTGQL_LOG_LEVEL": "WARNING"},
        )
    result["writes"] = {
        "acknowledged": len(ledger.audited),
        "renames": sum(1 for a in ledger.audited.values() if a == "contract.update"),
        "notes": len(ledger.notes),
        "outcome_unknown": len(ledger.unknown_contracts),
        "lost": len(problems),
        "lost_examples": problems[:10],
    }
    result["audit_verify"] = verified.strip().splitlines()[-1:]
    return result


def format_report(result: dict[str, Any]) -> str:
    lines = [
        f"Mixed load: {result['options']['clients']} clients, "
        f"{result['options']['apis']} API processes, {result['elapsed_s']} s, "
        f"load average {result['load_at_start']} at start and "
        f"{result['load_at_end']} at end",
        "",
        f"{'operation':<18}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'errors':>8}",
    ]
    for name, figures in result["operations"].items():
        lines.append(
            f"{name:<18}{figures['requests']:>10}{figures['requests_per_s']:>9}"
            f"{figures['p50_ms']:>9}{figures['p99_ms']:>9}{figures['errors']:>8}"
        )
        for kind, count in figures["error_kinds"].items():
            lines.append(f"    {count} x {kind}")
    writes = result["writes"]
    lines += [
        "",
        f"Acknowledged writes: {writes['acknowledged']} ({writes['renames']} "
        f"renames, {writes['notes']} notes); lost: {writes['lost']}; outcome "
        f"unknown: {writes['outcome_unknown']}",
        f"Audit events recorded {result['audit_drain_s']} s after the load ended; "
        f"audit verify: {' '.join(result['audit_verify'])}",
    ]
    lines += [f"    {problem}" for problem in writes["lost_examples"]]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.mixed_load",
        description="Send a mix of reads and writes to API processes on loopback, "
        "then check that every acknowledged write is stored and audited.",
    )
    parser.add_argument(
        "--clients", type=int, default=32, help="Concurrent clients (default 32)."
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=60.0,
        help="Seconds of load (default 60).",
    )
    parser.add_argument(
        "--apis", type=int, default=2, help="API processes to start (default 2)."
    )
    parser.add_argument(
        "--max-requests",
        type=int,
        default=1_000_000,
        help="Stop after this many requests even if time is left.",
    )
    parser.add_argument(
        "--server-url",
        default=DEFAULT_SERVER_URL,
        help=f"PostgreSQL server on loopback (default {DEFAULT_SERVER_URL}).",
    )
    parser.add_argument(
        "--database",
        default=DEFAULT_DATABASE,
        help=f"Database that the run drops and creates (default {DEFAULT_DATABASE}).",
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
    if args.clients < 1 or args.apis < 1 or args.max_requests < 1:
        parser.error("--clients, --apis and --max-requests must be 1 or more")
    if not 0 < args.duration <= 3600:
        parser.error("--duration must be above 0 and at most 3600 seconds")
    host = urlsplit(args.server_url).hostname or ""
    if host != "localhost" and not _is_loopback(host):
        parser.error(f"--server-url {args.server_url!r} is not on loopback")

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    work_dir = Path(tempfile.mkdtemp(prefix="bench-mixed-load-"))
    try:
        result = asyncio.run(_run(args, work_dir))
    except KeyboardInterrupt:
        logger.error("Interrupted; the logs are in %s.", work_dir)
        return 130
    except (SetupError, SeedError, OSError) as error:
        logger.error("Benchmark failed: %s. The logs are in %s.", error, work_dir)
        return 1

    print(format_report(result))
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.results_dir / f"mixed-load-{stamp}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    print(f"Figures written to {path}; process logs in {work_dir}")
    failed = result["operations"]["all"]["errors"] or result["writes"]["lost"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
