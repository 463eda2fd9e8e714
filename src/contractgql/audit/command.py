"""`contractgql audit`: record waiting audit events and verify the hash chains."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from contractgql.config import Settings


def add_audit_parser(commands: Any) -> None:
    audit = commands.add_parser(
        "audit", help="Record the audit outbox and verify the audit log."
    )
    actions = audit.add_subparsers(required=True, metavar="ACTION")

    verify = actions.add_parser(
        "verify",
        help="Recompute each organization's audit chain. Exits 0 when every chain "
        "is intact, and 1 naming the first bad entry otherwise.",
    )
    verify.add_argument(
        "--organization", help="Name of the one organization to verify."
    )
    verify.set_defaults(handler=_verify)

    record = actions.add_parser(
        "record",
        help="Move the waiting outbox events into the audit log, as the worker's "
        "sweep does.",
    )
    record.add_argument(
        "--organization", help="Name of the one organization to record."
    )
    record.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="Events appended per transaction (default 500).",
    )
    record.set_defaults(handler=_record)


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_connected(settings, _run_verify(args)))


def _record(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_connected(settings, _run_record(args)))


async def _connected(settings: Settings, work: Any) -> int:
    from contractgql import db

    if settings.is_sqlite:
        await db.migrate(settings)
    await db.connect(settings)
    try:
        result: int = await work
    finally:
        await db.disconnect()
    return result


async def _organizations(name: str | None) -> list[Any] | None:
    from contractgql.models import Organization

    if name is None:
        return list(await Organization.all().order_by("id"))
    found = list(await Organization.filter(name=name).order_by("id"))
    if not found:
        print(
            f"contractgql: no organization is named {name!r}: check the name.",
            file=sys.stderr,
        )
        return None
    return found


async def _run_verify(args: argparse.Namespace) -> int:
    from contractgql.audit.recorder import verify_chain
    from contractgql.models import AuditLog

    organizations = await _organizations(args.organization)
    if organizations is None:
        return 2
    for organization in organizations:
        problem = await verify_chain(organization)
        if problem is not None:
            print(
                f"Audit chain broken: {problem.describe()}.",
                file=sys.stderr,
            )
            return 1
    entries = await AuditLog.filter(
        organization_id__in=[organization.id for organization in organizations]
    ).count()
    print(
        f"Audit chains intact: {len(organizations)} organizations, {entries} entries."
    )
    return 0


async def _run_record(args: argparse.Namespace) -> int:
    from contractgql.audit.recorder import BATCH_SIZE, record_audit

    batch_size = args.batch_size or BATCH_SIZE
    if batch_size < 1:
        print("contractgql: --batch-size must be 1 or more.", file=sys.stderr)
        return 2
    if args.organization is None:
        appended = await record_audit(None, batch_size=batch_size)
    else:
        organizations = await _organizations(args.organization)
        if organizations is None:
            return 2
        appended = 0
        for organization in organizations:
            appended += await record_audit(organization.id, batch_size=batch_size)
    print(f"Recorded {appended} audit events.")
    return 0
