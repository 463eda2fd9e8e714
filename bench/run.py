"""Run the contracts page benchmark: seed, serve, load, report.

    .venv/bin/python -m bench [--duration 20] [--concurrency 1,16] [--skip-seed]

The run seeds a fresh database (10,000 contracts) and counts the SQL statements
per request in-process. It starts the GraphQL server and the reference endpoint as
two uvicorn subprocesses on loopback ports and checks that both return the same
document for every page. Then the load generator (`bench.load`, a third process)
loads each server at every concurrency level. The figures are printed as a table
and written as JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

if __package__ in (None, ""):
    # Started as `python bench/run.py`: make the `bench` package importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bench.common import (
    BENCH_USER_EMAIL,
    BENCH_USER_PASSWORD,
    CONTRACTS_PAGE_QUERY,
    DEFAULT_DATABASE,
    DEFAULT_SERVER_URL,
    PAGE_SIZE,
    database_url,
)
from bench.cpu_profile import (
    ProfileError,
    ProfileSummary,
    format_summary,
    record,
    summarize,
)
from bench.load import TOKEN_VARIABLE
from bench.processes import (
    REPO_ROOT,
    CpuSnapshot,
    Server,
    ServerProcesses,
    peak_rss_mib,
    postgres_backend_pids,
    reset_peak_rss,
)
from bench.querycount import count_graphql, count_reference
from bench.report import (
    LevelResult,
    format_report,
    machine_info,
    server_version,
    source_revision,
)
from bench.seed import SeedError, check_seeded, seed

logger = logging.getLogger("bench")

RESULTS_DIR = REPO_ROOT / "bench" / "results"
# Time the load generator gets on top of --duration, for its warm-up walk over all
# pages and for requests still in flight at the deadline.
LOAD_GRACE_S = 120.0
PROFILE_MARGIN_S = 2.0
# Bounds the page comparison in case a server never reports hasNextPage = false.
MAX_COMPARED_PAGES = 1_000


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def login(server: Server) -> str:
    mutation = (
        "mutation Login($email: String!, $password: String!) "
        "{ login(email: $email, password: $password) { token } }"
    )
    variables = {"email": BENCH_USER_EMAIL, "password": BENCH_USER_PASSWORD}
    response = httpx.post(
        server.url, json={"query": mutation, "variables": variables}, timeout=30.0
    )
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(
            f"Login as {BENCH_USER_EMAIL} failed: HTTP {response.status_code}, "
            f"{str(body)[:300]}. Run without --skip-seed to seed the user again."
        )
    token: str = body["data"]["login"]["token"]
    return token


def compare_pages(graphql: Server, reference: Server) -> str | None:
    """Walk all pages on both servers and return the first difference, or None."""
    after = None
    for page in range(1, MAX_COMPARED_PAGES + 1):
        body = {
            "query": CONTRACTS_PAGE_QUERY,
            "variables": {"first": PAGE_SIZE, "after": after},
        }
        documents = []
        for server in (graphql, reference):
            headers = (
                {"authorization": f"Bearer {server.token}"} if server.token else {}
            )
            response = httpx.post(server.url, json=body, headers=headers, timeout=30.0)
            documents.append(response.json())
        if documents[0] != documents[1]:
            return (
                f"page {page} differs: graphql {json.dumps(documents[0])[:300]} ... "
                f"reference {json.dumps(documents[1])[:300]} ..."
            )
        if not documents[0].get("data"):
            return f"page {page} failed on both: {json.dumps(documents[0])[:300]}"
        page_info = documents[0]["data"]["contracts"]["pageInfo"]
        if not page_info["hasNextPage"]:
            break
        after = page_info["endCursor"]
    return None


@contextmanager
def _load_generator(
    server: Server, concurrency: int, duration_s: float, max_requests: int
) -> Iterator[subprocess.Popen[bytes]]:
    """Start `bench.load` against `server` and yield it once its warm-up is done.

    A watchdog kills it if it runs past the duration plus LOAD_GRACE_S, and it is
    killed on the way out if it is still running.
    """
    command = [
        sys.executable,
        "-m",
        "bench.load",
        "--url",
        server.url,
        "--concurrency",
        str(concurrency),
        "--duration",
        str(duration_s),
        "--max-requests",
        str(max_requests),
        "--report-start",
    ]
    env = dict(os.environ)
    if server.token:
        env[TOKEN_VARIABLE] = server.token
    load = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
    )
    watchdog = threading.Timer(duration_s + LOAD_GRACE_S, load.kill)
    watchdog.start()
    try:
        assert load.stdout is not None
        if load.stdout.readline().strip() != b"START":
            load.wait()
            raise RuntimeError(
                f"Load generator against {server.name} failed before measuring "
                f"(exit code {load.returncode}). Its messages are above."
            )
        yield load
    finally:
        watchdog.cancel()
        if load.poll() is None:
            load.kill()
            load.wait()


def run_level(
    server: Server, concurrency: int, args: argparse.Namespace, url: str
) -> LevelResult:
    """Run the load generator against `server` once and measure the server side."""
    pid = server.process.pid
    reset = reset_peak_rss(pid)
    with _load_generator(server, concurrency, args.duration, args.max_requests) as load:
        assert load.stdout is not None
        before = CpuSnapshot(pid, asyncio.run(postgres_backend_pids(url)))
        result_line = load.stdout.readline()
        after = CpuSnapshot(pid, asyncio.run(postgres_backend_pids(url)))
        load.wait()

    if load.returncode != 0 or not result_line:
        raise RuntimeError(
            f"Load generator against {server.name} exited with code "
            f"{load.returncode} and no result."
        )

    load_result = json.loads(result_line)
    server_cpu_s = after.server_s - before.server_s
    # A backend that the pool opened during the run counts in full.
    postgres_cpu_s = sum(
        seconds - before.backends_s.get(backend, 0.0)
        for backend, seconds in after.backends_s.items()
    )
    ticks_per_s = os.sysconf("SC_CLK_TCK")
    busy_s = (after.busy_ticks - before.busy_ticks) / ticks_per_s
    capacity_s = (after.total_ticks - before.total_ticks) / ticks_per_s
    accounted_s = server_cpu_s + postgres_cpu_s + load_result["client_cpu_s"]

    return LevelResult(
        server=server.name,
        concurrency=concurrency,
        load=load_result,
        peak_rss_mib=peak_rss_mib(pid),
        peak_rss_since_start=not reset,
        server_cpu_s=server_cpu_s,
        postgres_cpu_s=postgres_cpu_s,
        machine_busy_percent=100 * busy_s / capacity_s if capacity_s else 0.0,
        other_busy_percent=(
            100 * max(0.0, busy_s - accounted_s) / capacity_s if capacity_s else 0.0
        ),
    )


def profile_server(server: Server, args: argparse.Namespace) -> ProfileSummary:
    """Sample `server` with py-spy while the load generator runs at concurrency 1."""
    seconds = args.profile
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    raw_path = args.results_dir / f"profile-{server.name}-{stamp}.txt"
    logger.info("Profiling %s for %d s with py-spy", server.name, seconds)
    # The load runs PROFILE_MARGIN_S longer on each side of the sampling window.
    duration_s = seconds + 2 * PROFILE_MARGIN_S
    with _load_generator(server, 1, duration_s, args.max_requests) as load:
        time.sleep(PROFILE_MARGIN_S)
        record(server.process.pid, seconds, raw_path)
        load.wait()
    return summarize(raw_path)


# -------------------------------------------------------------------- main


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the contracts page of the GraphQL server against a "
        "hand-written SQL endpoint, on loopback.",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=20.0,
        help="Measured seconds per server and concurrency level (default 20).",
    )
    parser.add_argument(
        "--concurrency",
        default="1,16",
        help="Comma-separated concurrency levels, requests in flight (default 1,16).",
    )
    parser.add_argument(
        "--max-requests",
        type=int,
        default=100_000,
        help="Measured requests per level at most, even if time is left "
        "(default 100000).",
    )
    parser.add_argument(
        "--skip-seed",
        action="store_true",
        help="Reuse the database of an earlier run instead of seeding it again.",
    )
    parser.add_argument(
        "--server-url",
        default=DEFAULT_SERVER_URL,
        help=f"PostgreSQL server, without database (default {DEFAULT_SERVER_URL}).",
    )
    parser.add_argument(
        "--database",
        default=DEFAULT_DATABASE,
        help=f"Database to drop and create (default {DEFAULT_DATABASE}).",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="SECONDS",
        help="After the load levels, sample the GraphQL server with py-spy for "
        "this many seconds under concurrency 1 and print where its CPU goes "
        "(default 0: no profile).",
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=RESULTS_DIR,
        help="Folder for the JSON result file (default bench/results).",
    )
    return parser


def _concurrency_levels(text: str) -> list[int]:
    try:
        levels = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        levels = []
    if not levels or min(levels) < 1:
        raise SystemExit(
            f"--concurrency {text!r} is invalid: give whole numbers of at least 1, "
            "separated by commas, such as 1,16."
        )
    return levels


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    # httpx logs every request at INFO.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    levels = _concurrency_levels(args.concurrency)
    if args.duration <= 0 or args.max_requests < 1 or args.profile < 0:
        raise SystemExit(
            "--duration must be above 0, --max-requests at least 1 and --profile "
            "0 or more."
        )
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        return _run(args, levels)
    except KeyboardInterrupt:
        logger.warning("Interrupted, so the servers were stopped.")
        return 130
    except (RuntimeError, SeedError, ProfileError) as error:
        logger.error("Benchmark failed: %s", error)
        return 1
    except OSError as error:
        logger.error(
            "Benchmark failed: %s. Check that PostgreSQL accepts connections at %s.",
            error,
            args.server_url,
        )
        return 1


def _run(args: argparse.Namespace, levels: list[int]) -> int:
    url = database_url(args.server_url, args.database)
    machine = machine_info(
        asyncio.run(server_version(args.server_url)), source_revision(REPO_ROOT)
    )
    logger.info("Machine: %s", machine)

    if args.skip_seed:
        summary = asyncio.run(check_seeded(args.server_url, args.database))
        logger.info(
            "Reusing %s (organization %d)", args.database, summary.organization_id
        )
    else:
        summary = asyncio.run(seed(args.server_url, args.database))
        logger.info("Seeded %s in %.1f s", args.database, summary.seconds)

    counts = {}
    for name, count in (("graphql", count_graphql), ("reference", count_reference)):
        counts[name] = asdict(asyncio.run(count(url)))
        logger.info(
            "SQL statements per request, %s: %.2f",
            name,
            counts[name]["per_request_mean"],
        )

    results: list[LevelResult] = []
    mismatch = None
    profile: ProfileSummary | None = None
    with tempfile.TemporaryDirectory(prefix="contractgql-bench-") as work:
        work_dir = Path(work)
        with ServerProcesses(work_dir) as processes:
            graphql = processes.start(
                "graphql",
                [str(Path(sys.executable).with_name("contractgql")), "serve"],
                {
                    "CONTRACTGQL_DATABASE_URL": url,
                    "CONTRACTGQL_SECRET_KEY": secrets.token_urlsafe(48),
                    "CONTRACTGQL_DATA_DIR": str(work_dir),
                    "CONTRACTGQL_LOG_LEVEL": "WARNING",
                },
                "/health/ready",
            )
            reference = processes.start(
                "reference",
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--factory",
                    "bench.reference:create_app_from_env",
                    "--host",
                    "127.0.0.1",
                    "--log-level",
                    "warning",
                ],
                {"BENCH_DATABASE_URL": url},
                "/health",
            )
            graphql.token = login(graphql)
            logger.info("Comparing every page of both servers")
            mismatch = compare_pages(graphql, reference)
            if mismatch:
                logger.error("The servers return different pages: %s", mismatch)
            for concurrency in levels:
                for server in (graphql, reference):
                    logger.info(
                        "Loading %s at concurrency %d for %.0f s",
                        server.name,
                        concurrency,
                        args.duration,
                    )
                    results.append(run_level(server, concurrency, args, url))
            if args.profile:
                profile = profile_server(graphql, args)

    report = format_report(machine, counts, results)
    print(report)
    if profile:
        print()
        print(format_summary(profile))
    if mismatch:
        print(f"WARNING: the servers return different pages: {mismatch}")
    _write_results(args, machine, counts, results, mismatch, profile)
    failed = mismatch is not None or any(level.load["errors"] for level in results)
    return 1 if failed else 0


def _write_results(
    args: argparse.Namespace,
    machine: dict[str, Any],
    counts: dict[str, Any],
    levels: list[LevelResult],
    mismatch: str | None,
    profile: ProfileSummary | None,
) -> None:
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.results_dir / f"contracts-page-{stamp}.json"
    document = {
        "arguments": {
            "duration_s": args.duration,
            "concurrency": args.concurrency,
            "max_requests": args.max_requests,
            "skip_seed": args.skip_seed,
            "profile_s": args.profile,
        },
        "machine": machine,
        "sql_per_request": counts,
        "levels": [asdict(level) for level in levels],
        "pages_differ": mismatch,
        "profile": asdict(profile) if profile else None,
    }
    path.write_text(json.dumps(document, indent=2))
    logger.info("Wrote %s", path)


if __name__ == "__main__":
    sys.exit(main())
