"""`contractgql audit`: record waiting audit events and verify the hash chains."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Coroutine
from pathlib import Path
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
    verify.add_argument(
        "--anchors",
        type=Path,
        help="File of anchors kept outside the database: check the chains against "
        "the anchors it lists, then append the end of each verified chain. A log "
        "cut short or rewritten since an anchor was taken fails the check.",
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

    restore = actions.add_parser(
        "restore-head",
        help="Recreate the missing chain head of organizations whose log verifies, "
        "so that the recorder continues their chains.",
    )
    restore.add_argument(
        "--organization", help="Name of the one organization to restore."
    )
    restore.set_defaults(handler=_restore_head)


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_connected(settings, _run_verify(args)))


def _record(args: argparse.Namespace, settings: Settings) -> int:
    if args.batch_size is not None and args.batch_size < 1:
        print(
            f"contractgql: --batch-size {args.batch_size} is invalid: give 1 or more.",
            file=sys.stderr,
        )
        return 2
    return asyncio.run(_connected(settings, _run_record(args)))


def _restore_head(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_connected(settings, _run_restore_head(args)))


async def _connected(settings: Settings, work: Coroutine[Any, Any, int]) -> int:
    """Run `work` on the configured database, which must exist already.

    The audit commands read an existing log, so they neither create a SQLite file
    nor start with a new database of their own.
    """
    from contractgql import db

    if settings.is_sqlite:
        path = Path(settings.resolved_database_url.removeprefix("sqlite://"))
        if not path.is_file():
            work.close()
            print(
                f"contractgql: there is no database at {path}: run the command in "
                "the folder that `contractgql serve` uses, or set "
                "CONTRACTGQL_DATA_DIR or CONTRACTGQL_DATABASE_URL.",
                file=sys.stderr,
            )
            return 2
    try:
        if settings.is_sqlite:
            await db.migrate(settings)
        await db.connect(settings)
    except Exception as error:
        work.close()
        print(
            f"contractgql: cannot open the database: {error}. Check "
            "CONTRACTGQL_DATABASE_URL.",
            file=sys.stderr,
        )
        return 2
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


class AnchorsError(Exception):
    """A line of an anchors file that is not `<organization id> <sequence> <hash>`."""


def read_anchors(path: Path) -> dict[int, dict[int, str]]:
    """Return organization id -> sequence -> hash from an anchors file.

    A missing file has no anchors yet. Blank lines and lines starting with #
    are skipped.
    """
    anchors: dict[int, dict[int, str]] = {}
    if not path.exists():
        return anchors
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        parts = text.split()
        valid = (
            len(parts) == 3
            and parts[0].isdigit()
            and parts[1].isdigit()
            and len(parts[2]) == 64
            and all(c in "0123456789abcdef" for c in parts[2])
        )
        if not valid:
            raise AnchorsError(
                f"line {number} of {path} is {text[:80]!r}: expected "
                "'<organization id> <sequence> <64 hex digits>'"
            )
        anchors.setdefault(int(parts[0]), {})[int(parts[1])] = parts[2]
    return anchors


async def _run_verify(args: argparse.Namespace) -> int:
    from contractgql.audit.recorder import ChainProblem, verify_chain

    organizations = await _organizations(args.organization)
    if organizations is None:
        return 2
    try:
        anchors = read_anchors(args.anchors) if args.anchors else {}
    except (AnchorsError, OSError, UnicodeDecodeError) as error:
        print(f"contractgql: {error}", file=sys.stderr)
        return 2
    if args.anchors and not _writable(args.anchors):
        print(
            f"contractgql: cannot append to the anchors file {args.anchors}: create "
            "its folder or give a writable path.",
            file=sys.stderr,
        )
        return 2
    if args.organization is None:
        known = {organization.id for organization in organizations}
        for organization_id, pinned in sorted(anchors.items()):
            if organization_id not in known:
                print(
                    f"Audit chain broken: the anchors pin {len(pinned)} entries of "
                    f"organization id {organization_id}, which no longer exists, so "
                    "its log was deleted.",
                    file=sys.stderr,
                )
                return 1
    ends = []
    for organization in organizations:
        result = await verify_chain(organization, anchors.get(organization.id))
        if isinstance(result, ChainProblem):
            print(f"Audit chain broken: {result.describe()}.", file=sys.stderr)
            return 1
        ends.append(result)
    entries = sum(end.sequence for end in ends)
    print(
        f"Audit chains intact: {len(organizations)} organizations, {entries} entries."
    )
    if args.anchors:
        checked = sum(len(anchors.get(org.id, {})) for org in organizations)
        # A chain that has not grown since its last anchor needs no new line.
        new_anchors = [
            end.line()
            for end in ends
            if end.sequence
            and anchors.get(end.organization_id, {}).get(end.sequence) != end.hash
        ]
        with args.anchors.open("a", encoding="utf-8") as file:
            file.writelines(line + "\n" for line in new_anchors)
        print(
            f"Checked {checked} anchors and appended {len(new_anchors)} to "
            f"{args.anchors}."
        )
    return 0


def _writable(path: Path) -> bool:
    """Return whether `path` can be appended to: it is a writable file, or its
    folder exists and is writable."""
    if path.exists():
        return path.is_file() and os.access(path, os.W_OK)
    folder = path.parent
    return folder.is_dir() and os.access(folder, os.W_OK)


async def _run_record(args: argparse.Namespace) -> int:
    from contractgql.audit.recorder import BATCH_SIZE, ChainHeadMissing, record_audit

    batch_size = BATCH_SIZE if args.batch_size is None else args.batch_size
    try:
        if args.organization is None:
            appended = await record_audit(None, batch_size=batch_size)
        else:
            organizations = await _organizations(args.organization)
            if organizations is None:
                return 2
            appended = 0
            for organization in organizations:
                appended += await record_audit(organization.id, batch_size=batch_size)
    except ChainHeadMissing as error:
        print(f"contractgql: {error}", file=sys.stderr)
        return 1
    print(f"Recorded {appended} audit events.")
    return 0


async def _run_restore_head(args: argparse.Namespace) -> int:
    from contractgql.audit.recorder import ChainProblem, restore_head

    organizations = await _organizations(args.organization)
    if organizations is None:
        return 2
    for organization in organizations:
        result = await restore_head(organization)
        if isinstance(result, ChainProblem):
            print(
                f"contractgql: the head was not restored, because the audit chain is "
                f"broken: {result.describe()}.",
                file=sys.stderr,
            )
            return 1
    print(f"Chain heads in place for {len(organizations)} organizations.")
    return 0
