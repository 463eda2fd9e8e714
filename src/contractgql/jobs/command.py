"""`contractgql scan`: run one reminder scan now, outside the schedule."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from contractgql.config import Settings


def add_scan_parser(commands: Any) -> None:
    scan = commands.add_parser(
        "scan",
        help="Renew and expire contracts, create the due reminders, tasks and "
        "notifications, and send the due digests once, as the scheduled scans do.",
    )
    scan.add_argument(
        "--full",
        action="store_true",
        help="Plan every signed contract again, also those that an earlier scan "
        "settled. Use it after changing contracts in the database by hand.",
    )
    scan.set_defaults(handler=_scan)


def _scan(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_run(settings, full=args.full))


async def _run(settings: Settings, *, full: bool) -> int:
    from contractgql import db
    from contractgql.jobs.scans import ScanError, scan_all

    if settings.is_sqlite:
        await db.migrate(settings)
    await db.connect(settings)
    try:
        report = await scan_all(full=full)
    except ScanError as error:
        print(f"contractgql: {error}", file=sys.stderr)
        print(error.report.summary())
        return 1
    finally:
        await db.disconnect()
    print(report.summary())
    return 0
