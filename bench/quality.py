"""Time the data quality report and signals over one organization's portfolio.

Seeds a scratch SQLite database, or a new organization in the PostgreSQL
database of --database-url, with --contracts contracts of --clients clients.
Then it times three steps and prints each one's duration and tracemalloc peak:
the completeness summary of the whole organization, the completeness of one
page of 100 contracts, and the signals of every kind. Run it with
`python -m bench.quality`.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from contractgql import db
from contractgql.config import load_settings
from contractgql.models import Client, Contract, ContractStage, Organization
from contractgql.quality.completeness import (
    COMPLETENESS_COLUMNS,
    Checker,
    Grouping,
    summarize,
)
from contractgql.quality.signals import SignalOptions, signals_for
from contractgql.security.policy import PERMISSIONS
from contractgql.security.viewer import system_viewer

BATCH = 1000
TODAY = date(2026, 12, 4)


async def _seed(contracts: int, clients: int) -> Organization:
    organization = await Organization.create(
        name=f"Quality bench {uuid.uuid4().hex[:8]}"
    )
    rng = random.Random(42)
    words = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne"]
    client_rows = [
        Client(
            organization_id=organization.id,
            name=f"{rng.choice(words)} {index} BV",
            coc_number=str(10_000_000 + index),
        )
        for index in range(clients)
    ]
    await Client.bulk_create(client_rows, batch_size=BATCH)
    client_ids = [
        pk
        for pk in await Client.filter(organization_id=organization.id).values_list(
            "id", flat=True
        )
    ]
    for start in range(0, contracts, BATCH):
        rows = []
        for index in range(start, min(start + BATCH, contracts)):
            begin = TODAY - timedelta(days=rng.randrange(0, 1500))
            end = begin + timedelta(days=rng.randrange(30, 1500))
            rows.append(
                Contract(
                    organization_id=organization.id,
                    client_id=rng.choice(client_ids),
                    name=f"Contract {index % 500}",
                    stage=ContractStage.SIGNED,
                    start_date=begin,
                    end_date=end,
                    notice_deadline=end - timedelta(days=30),
                    notice_count=1 if index % 3 else None,
                    notice_unit="months" if index % 3 else None,
                    amount_minor=rng.randrange(1_000, 10_000_000),
                    currency="EUR",
                    auto_renewal=index % 4 == 0,
                )
            )
        await Contract.bulk_create(rows, batch_size=BATCH)
    return organization


async def _measure(name: str, step: Callable[[], Awaitable[Any]]) -> None:
    """Time one run of `step`, then trace a second run for its memory peak, because
    tracing slows Python down several times."""
    started = time.perf_counter()
    result = await step()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    await step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    size = len(result) if isinstance(result, list) else "-"
    print(f"{name}: {seconds:.2f} s, peak {peak / 2**20:.0f} MiB, {size} results")


async def _run(args: argparse.Namespace) -> None:
    settings = load_settings()
    if args.database_url:
        settings = dataclasses.replace(settings, database_url=args.database_url)
    else:
        folder = Path(tempfile.mkdtemp(prefix="quality-bench-"))
        settings = dataclasses.replace(settings, data_dir=folder, database_url=None)
    await db.migrate(settings)
    await db.connect(settings)
    try:
        started = time.perf_counter()
        organization = await _seed(args.contracts, args.clients)
        backend = settings.resolved_database_url.split(":")[0]
        print(
            f"Seeded {args.contracts} contracts of {args.clients} clients on "
            f"{backend} in {time.perf_counter() - started:.1f} s"
        )
        viewer = system_viewer(organization, PERMISSIONS)
        query = Contract.filter(organization_id=organization.id, archived_at=None)
        checker = await Checker.load(viewer)
        page = await query.order_by("id").limit(100).values(*COMPLETENESS_COLUMNS)
        options = SignalOptions(quiet_days=90, deadline_days=60)
        await _measure(
            "completeness summary", lambda: summarize(viewer, query, Grouping.OWNER)
        )
        await _measure("completeness page of 100", lambda: checker.check(page))
        await _measure("signals, every kind", lambda: signals_for(viewer, options))
    finally:
        await db.disconnect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=5_000)
    parser.add_argument(
        "--database-url",
        help="A postgres:// URL to measure on PostgreSQL. Default: a scratch "
        "SQLite file.",
    )
    asyncio.run(_run(parser.parse_args()))


if __name__ == "__main__":
    main()
