"""Measure the time and peak memory of the CSV and XLSX contract exports.

Run `.venv/bin/python -m bench.xlsx_export [--contracts N]`. It creates a scratch
SQLite database in a temporary folder, inserts N contracts of one organization with
amounts, dates and a client each, then requests `/export/contracts.csv` and
`/export/contracts.xlsx` as a finance user through the ASGI app. It prints the
duration, the size of each file and the process's peak resident memory (ru_maxrss)
after seeding and after each export. Peak RSS only grows, so run the exports in
this order and read each figure as the peak so far.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import httpx
from tortoise import Tortoise

from contractgql import db
from contractgql.app import create_app
from contractgql.config import Settings
from contractgql.models import Client, Contract, Organization, User
from contractgql.security.tokens import TokenSigner

DEFAULT_CONTRACTS = 100_000
INSERT_BATCH = 2_000
CLIENTS = 200


def peak_rss_mib() -> float:
    """Return the process's peak resident set size in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def seed(count: int) -> tuple[int, int]:
    """Insert `count` contracts; return the organization and finance user ids."""
    organization = await Organization.create(name="Export benchmark")
    user = await User.create(
        organization=organization,
        email="finance@export-bench.example",
        name="Finance",
        roles=["finance"],
    )
    clients = [
        await Client.create(organization=organization, name=f"Client {index:03d}")
        for index in range(CLIENTS)
    ]
    start = date(2025, 1, 1)
    for first in range(0, count, INSERT_BATCH):
        batch = [
            Contract(
                organization_id=organization.id,
                client_id=clients[index % CLIENTS].id,
                name=f"Contract {index:06d}",
                number=f"C-{index:06d}",
                start_date=start + timedelta(days=index % 365),
                end_date=start + timedelta(days=365 + index % 730),
                amount_minor=123_456 + index,
                currency="EUR",
            )
            for index in range(first, min(first + INSERT_BATCH, count))
        ]
        await Contract.bulk_create(batch)
    return organization.id, user.id


async def measure(client: httpx.AsyncClient, path: str, token: str) -> None:
    started = time.perf_counter()
    size = 0
    headers = {"Authorization": f"Bearer {token}"}
    async with client.stream("GET", path, headers=headers) as response:
        response.raise_for_status()
        async for chunk in response.aiter_bytes():
            size += len(chunk)
    elapsed = time.perf_counter() - started
    print(
        f"{path}: {elapsed:.1f} s, {size / 2**20:.1f} MiB file, "
        f"peak RSS so far {peak_rss_mib():.0f} MiB"
    )


async def run(count: int) -> None:
    with tempfile.TemporaryDirectory(prefix="contractgql-export-bench-") as folder:
        settings = Settings(data_dir=Path(folder), secret_key="bench-" + "x" * 40)
        await db.migrate(settings)
        await db.connect(settings)
        try:
            started = time.perf_counter()
            organization_id, user_id = await seed(count)
            print(
                f"Seeded {count} contracts in {time.perf_counter() - started:.1f} s, "
                f"peak RSS so far {peak_rss_mib():.0f} MiB"
            )
            signer = TokenSigner(settings.resolved_secret_key(), settings.token_ttl)
            token = signer.issue(user_id, organization_id)
            app = create_app(settings, manage_database=False)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://bench", timeout=None
            ) as client:
                await measure(client, "/export/contracts.csv", token)
                await measure(client, "/export/contracts.xlsx", token)
        finally:
            await Tortoise.close_connections()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--contracts",
        type=int,
        default=DEFAULT_CONTRACTS,
        help=f"number of contracts to export (default {DEFAULT_CONTRACTS})",
    )
    arguments = parser.parse_args()
    asyncio.run(run(arguments.contracts))


if __name__ == "__main__":
    main()
