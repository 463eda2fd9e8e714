"""Time the portfolio reports over a large PostgreSQL database.

The database is seeded by bench.scan_seed, which copies N contracts (1,000,000
by default) into PostgreSQL. The rows are varied as they stream, so that a quarter
of the contracts are in USD and every payment frequency occurs. Set-based SQL then
tags a fifth of the contracts and records renewal and expiry events on a tenth.

Each report is a GraphQL request sent in-process through httpx's ASGI transport to
the real app, as a finance user (all contracts, with amounts) and as a sales user
(record rules, no amounts). For each request the benchmark prints the latency
median and 95th percentile over several runs, the peak of Python memory
allocations (tracemalloc) during one run, and the SQL statements sent (from
Tortoise ORM's DEBUG log). The target is a portfolio report under 1 second.

The reports' "today" is bench.scan_seed.SCAN_DATE, so the periods are fixed:
contracts end on the 730 days after it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Started as `python bench/reports.py`: make the `bench` package importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg  # type: ignore[import-untyped]
import httpx

from bench import scan_seed
from bench.common import DEFAULT_SERVER_URL, database_url
from bench.processes import REPO_ROOT
from bench.report import machine_info, server_version, source_revision
from bench.scan_seed import SCAN_DATE

logger = logging.getLogger("bench.reports")

DEFAULT_DATABASE = "contractgql_bench_reports"
DEFAULT_CONTRACTS = 1_000_000
RESULTS_DIR = REPO_ROOT / "bench" / "results"
TARGET_SECONDS = 1.0
TAG_NAMES = (
    "cancellation risk",
    "strategic client",
    "renewal chance",
    "public sector",
    "reseller",
)
FINANCE_EMAIL = "finance001@scan.example.com"
SALES_EMAIL = "sales001@scan.example.com"

_FIGURES = "contractCount currencies { currency contractCount mrr arr }"
PORTFOLIO = """
query Portfolio($date: Date!, $groupBy: PortfolioGrouping!) {
  portfolio(referenceDate: $date, groupBy: $groupBy) {
    totals { contractCount currencies { currency contractCount mrr arr
      totalContractValue } }
    groups { id name figures { contractCount currencies { currency mrr } } }
  }
}
"""
AT_RISK = f"""
query AtRisk($period: ReportPeriodInput!) {{
  revenueAtRisk(period: $period) {{
    ending {{ {_FIGURES} }} atRisk {{ {_FIGURES} }}
  }}
}}
"""
FORECAST = """
query Forecast($from: Date!) {
  renewalForecast(from: $from, quarters: 4) {
    quarters { label currencies { currency endingMrr expectedRenewedMrr } }
    renewalRates { contractTypeName rate }
  }
}
"""
CHURN = """
query Churn($period: ReportPeriodInput!) {
  churn(period: $period) { startingCount lostCount churnRate
    currencies { currency startingMrr lostMrr } }
}
"""
# The portfolio without the total contract value, whose billing periods cost most
# of the statement's time.
PORTFOLIO_RECURRING = """
query Portfolio($date: Date!, $groupBy: PortfolioGrouping!) {
  portfolio(referenceDate: $date, groupBy: $groupBy) {
    totals { contractCount currencies { currency contractCount mrr arr } }
  }
}
"""
_QUARTER = {"from": "2027-04-01", "to": "2027-06-30"}
# (label, role, document, variables)
REQUESTS: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("portfolio", "finance", PORTFOLIO, {"groupBy": "NONE"}),
    (
        "portfolio, MRR and ARR only",
        "finance",
        PORTFOLIO_RECURRING,
        {"groupBy": "NONE"},
    ),
    ("portfolio by client", "finance", PORTFOLIO, {"groupBy": "CLIENT"}),
    ("portfolio by type", "finance", PORTFOLIO, {"groupBy": "CONTRACT_TYPE"}),
    ("portfolio by tag", "finance", PORTFOLIO, {"groupBy": "TAG"}),
    ("portfolio by owner", "finance", PORTFOLIO, {"groupBy": "OWNER"}),
    ("portfolio", "sales", PORTFOLIO, {"groupBy": "NONE"}),
    ("revenue at risk", "finance", AT_RISK, {"period": _QUARTER}),
    ("renewal forecast", "finance", FORECAST, {}),
    ("churn", "finance", CHURN, {"period": _QUARTER}),
)


@dataclass
class Timing:
    label: str
    role: str
    runs: list[float]
    peak_python_mib: float
    statements: int

    @property
    def p50(self) -> float:
        return statistics.median(self.runs)

    @property
    def p95(self) -> float:
        # Linear interpolation between the closest ranks, as numpy's default.
        ordered = sorted(self.runs)
        position = 0.95 * (len(ordered) - 1)
        low = int(position)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class StatementCounter(logging.Handler):
    """Counts the SQL statements in Tortoise ORM's DEBUG log records."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().lstrip().upper().startswith(("SELECT", "WITH")):
            self.count += 1


_CURRENCY = scan_seed.CONTRACT_COLUMNS.index("currency")
_FREQUENCY = scan_seed.CONTRACT_COLUMNS.index("payment_frequency")
_FREQUENCIES = ("monthly", "monthly", "quarterly", "half_yearly", "yearly", "one_off")


def _varied_contract_rows(
    rows: Callable[..., Iterator[tuple[Any, ...]]],
) -> Callable[..., Iterator[tuple[Any, ...]]]:
    """Wrap the seeder's row generator: every 4th contract in USD, and the payment
    frequency by id, as the rows stream into COPY.

    Changing the rows as they stream keeps the seed fast: an UPDATE of a million
    rows afterwards took minutes and left every page of the table twice.
    """

    def varied(*args: Any, **kwargs: Any) -> Iterator[tuple[Any, ...]]:
        for row in rows(*args, **kwargs):
            values = list(row)
            pk = values[0]
            values[_CURRENCY] = "USD" if pk % 4 == 0 else "EUR"
            values[_FREQUENCY] = _FREQUENCIES[pk % len(_FREQUENCIES)]
            yield tuple(values)

    return varied


async def seed_varied(server_url: str, database: str, contracts: int) -> Any:
    """Seed with bench.scan_seed, its contract rows varied as they stream."""
    original = scan_seed._contract_rows
    scan_seed._contract_rows = _varied_contract_rows(original)
    try:
        return await scan_seed.seed(server_url, database, contracts)
    finally:
        scan_seed._contract_rows = original


async def diversify(url: str, organization_id: int) -> dict[str, float]:
    """Add tags and term history with set-based SQL."""
    seconds: dict[str, float] = {}
    connection = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        tag_ids = []
        for name in TAG_NAMES:
            tag_ids.append(
                await connection.fetchval(
                    "INSERT INTO tags (organization_id, name, color, created_at, "
                    "updated_at, version) VALUES ($1, $2, '#6b7280', now(), now(), 1) "
                    "RETURNING id",
                    organization_id,
                    name,
                )
            )
        await connection.execute(
            "INSERT INTO contract_tags (contracts_id, tag_id) "
            "SELECT id, ($1::bigint[])[(id / 5) % $2 + 1] FROM contracts "
            "WHERE id % 5 = 0",
            tag_ids,
            len(tag_ids),
        )
        seconds["tags"] = time.perf_counter() - started

        started = time.perf_counter()
        # A renewed first term a year after the start for a tenth of the fixed-term
        # contracts, and an expired term for a third of those, on a different date.
        await connection.execute(
            "INSERT INTO contract_events (organization_id, contract_id, kind, "
            "term_end, new_end_date, occurred_on, old_amount_minor, "
            "new_amount_minor, created_at) "
            "SELECT organization_id, id, "
            "CASE WHEN id % 30 = 0 THEN 'expired' ELSE 'renewed' END, "
            "start_date + 364, end_date, start_date + 365, amount_minor, "
            "amount_minor, now() FROM contracts "
            "WHERE id % 10 = 0 AND end_date IS NOT NULL AND start_date + 364 < end_date"
        )
        seconds["events"] = time.perf_counter() - started

        started = time.perf_counter()
        await connection.execute("VACUUM (ANALYZE)")
        seconds["analyze"] = time.perf_counter() - started
    finally:
        await connection.close()
    return seconds


async def time_requests(url: str, runs: int) -> list[Timing]:
    """Send every request `runs` times after one warm-up run."""
    from contractgql import db
    from contractgql.app import create_app
    from contractgql.config import Settings
    from contractgql.models import User
    from contractgql.security.tokens import TokenSigner

    with tempfile.TemporaryDirectory(prefix="contractgql-bench-reports-") as data_dir:
        settings = Settings(
            database_url=url, secret_key="s" * 48, data_dir=Path(data_dir)
        )
        # A database kept by an earlier run may predate a migration that the
        # reports need, such as the one that adds sum_bigint().
        await db.migrate(settings)
        await db.connect(settings)
        try:
            signer = TokenSigner(settings.resolved_secret_key(), settings.token_ttl)
            tokens = {}
            for role, email in (("finance", FINANCE_EMAIL), ("sales", SALES_EMAIL)):
                user = await User.get(email=email)
                tokens[role] = signer.issue(user.id, user.organization_id)
            app = create_app(settings, manage_database=False)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://bench", timeout=600
            ) as client:
                return [
                    await _time_request(
                        client, tokens[role], label, role, doc, values, runs
                    )
                    for label, role, doc, values in REQUESTS
                ]
        finally:
            await db.disconnect()


async def _time_request(
    client: httpx.AsyncClient,
    token: str,
    label: str,
    role: str,
    document: str,
    values: dict[str, Any],
    runs: int,
) -> Timing:
    variables = {"date": SCAN_DATE.isoformat(), "from": SCAN_DATE.isoformat(), **values}
    used = {name: value for name, value in variables.items() if f"${name}" in document}

    async def send() -> None:
        response = await client.post(
            "/graphql",
            json={"query": document, "variables": used},
            headers={"Authorization": f"Bearer {token}"},
        )
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise RuntimeError(f"{label} as {role} failed: {response.text[:500]}")

    await send()
    counter = StatementCounter()
    orm_logger = logging.getLogger("tortoise.db_client")
    previous = orm_logger.level, orm_logger.propagate
    orm_logger.setLevel(logging.DEBUG)
    # Count the statements without printing them through the root handler.
    orm_logger.propagate = False
    orm_logger.addHandler(counter)
    tracemalloc.start()
    try:
        await send()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        orm_logger.removeHandler(counter)
        orm_logger.setLevel(previous[0])
        orm_logger.propagate = previous[1]

    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        await send()
        durations.append(time.perf_counter() - started)
    timing = Timing(label, role, durations, peak / 2**20, counter.count)
    logger.info(
        "%s as %s: p50 %.3f s, p95 %.3f s, %d statements",
        label,
        role,
        timing.p50,
        timing.p95,
        timing.statements,
    )
    return timing


def format_table(timings: list[Timing]) -> str:
    lines = [
        "| request | role | p50 (s) | p95 (s) | peak Python memory (MiB) "
        "| SQL statements |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for timing in timings:
        lines.append(
            f"| {timing.label} | {timing.role} | {timing.p50:.3f} | {timing.p95:.3f} "
            f"| {timing.peak_python_mib:.1f} | {timing.statements} |"
        )
    return "\n".join(lines)


async def _drop_database(server_url: str, database: str) -> None:
    connection = await asyncpg.connect(database_url(server_url, "postgres"))
    try:
        await connection.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    finally:
        await connection.close()


async def _main(args: argparse.Namespace) -> int:
    url = database_url(args.server_url, args.database)
    machine = machine_info(
        await server_version(args.server_url), source_revision(REPO_ROOT)
    )
    result: dict[str, Any] = {"machine": machine, "contracts": args.contracts}
    try:
        if not args.skip_seed:
            summary = await seed_varied(args.server_url, args.database, args.contracts)
            result["seed_seconds"] = summary.seconds
            result["diversify_seconds"] = await diversify(url, summary.organization_id)
            logger.info("Seeded: %s, %s", summary.seconds, result["diversify_seconds"])
        timings = await time_requests(url, args.runs)
    finally:
        if not args.keep_database:
            await _drop_database(args.server_url, args.database)

    result["timings"] = [
        {
            "label": timing.label,
            "role": timing.role,
            "runs_s": timing.runs,
            "p50_s": timing.p50,
            "p95_s": timing.p95,
            "peak_python_mib": timing.peak_python_mib,
            "statements": timing.statements,
        }
        for timing in timings
    ]
    result["max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.results_dir / f"reports-{stamp}.json"
    path.write_text(json.dumps(result, indent=2, default=str))

    print(
        f"Machine: {machine['nproc']} CPUs ({machine['cpu_model']}), "
        f"PostgreSQL {machine['postgresql']}, revision "
        f"{machine['contractgql_revision']}"
    )
    print(f"{args.contracts:,} contracts, {args.runs} runs per request")
    print(format_table(timings))
    print(f"Peak RSS of the process, seeding included: {result['max_rss_mib']:.0f} MiB")
    print(f"Figures written to {path}")
    slow = [
        t for t in timings if t.label.startswith("portfolio") and t.p95 > TARGET_SECONDS
    ]
    if slow:
        print(f"Over the {TARGET_SECONDS} s target at p95: {[t.label for t in slow]}")
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Seed a PostgreSQL database and time the portfolio reports."
    )
    parser.add_argument(
        "--contracts",
        type=int,
        default=DEFAULT_CONTRACTS,
        help=f"contracts to seed (default {DEFAULT_CONTRACTS})",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=7,
        help="timed runs per request after one warm-up run (default 7)",
    )
    parser.add_argument(
        "--server-url",
        default=DEFAULT_SERVER_URL,
        help=f"PostgreSQL server (default {DEFAULT_SERVER_URL})",
    )
    parser.add_argument(
        "--database",
        default=DEFAULT_DATABASE,
        help="database to drop and create; its name must contain 'bench' "
        f"(default {DEFAULT_DATABASE})",
    )
    parser.add_argument(
        "--skip-seed",
        action="store_true",
        help="time the database that an earlier run kept with --keep-database",
    )
    parser.add_argument(
        "--keep-database",
        action="store_true",
        help="leave the database in place for a later --skip-seed run",
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=RESULTS_DIR,
        help="folder for the JSON figures (default bench/results)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 100:
        parser.error("--runs must be from 1 to 100")
    if args.contracts < 1:
        parser.error("--contracts must be 1 or more")
    if "bench" not in args.database:
        parser.error(f"--database {args.database} must contain 'bench'")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    return asyncio.run(_main(args))


if __name__ == "__main__":
    sys.exit(main())
