"""Move outbox events into the hash-chained audit log, and verify the chains.

Each organization has one chain. Entry n has sequence n, `prev_hash` equal to the
hash of entry n - 1 (64 zeros for the first) and `hash` = SHA-256 of `prev_hash`
followed by the canonical JSON of the entry's content (`entry_content`).

A recorder appends a batch in one transaction: it first updates the organization's
AuditChainHead row, which locks it until the commit (a row lock on PostgreSQL, the
database's single write lock on SQLite). A second recorder waits there and then reads
the head and the outbox as the first one left them. So the outbox rows it reads are
still there, and it continues the chain where the first stopped. The unique keys on
(organization, sequence) and on the outbox id reject any entry written twice anyway.
A recorder killed part way leaves its transaction uncommitted, so nothing of it stays.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise import connections
from tortoise.transactions import in_transaction

from contractgql.audit.outbox import batch_entries
from contractgql.models import AuditChainHead, AuditLog, AuditOutbox, Organization

logger = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
# Audit entries appended per transaction, give or take one batch event.
BATCH_SIZE = 500
# Outbox rows that a transaction reads with its first query (see _append_batch).
FIRST_PAGE_SIZE = 10
# Batches per organization and call, so one busy organization cannot hold a
# recorder forever. The next call or sweep continues.
MAX_BATCHES = 1000


def entry_content(entry: AuditLog, sequence: int) -> dict[str, Any]:
    """Return the hashed content of an entry: everything but its id and hashes.

    `outbox_item` is part of it only for the entries of a batch event, so entries
    of single events hash as they did before batch events existed.
    """
    content = {
        "organization_id": entry.organization_id,
        "sequence": sequence,
        "outbox_id": entry.outbox_id,
        "actor_id": entry.actor_id,
        "action": entry.action,
        "entity_type": entry.entity_type,
        "entity_id": entry.entity_id,
        "changes": entry.changes,
        "request_id": entry.request_id,
        "at": _timestamp(entry.created_at),
    }
    if entry.outbox_item:
        content["outbox_item"] = entry.outbox_item
    return content


def _timestamp(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def chain_hash(prev_hash: str, content: dict[str, Any]) -> str:
    """Return SHA-256 over `prev_hash` and the canonical JSON of `content`, in hex."""
    canonical = json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


async def record_audit(
    organization_id: int | None = None, *, batch_size: int = BATCH_SIZE
) -> int:
    """Append the outbox events of one organization, or of all, to the audit log.

    Returns the number of entries appended.
    """
    if organization_id is not None:
        organization_ids = [organization_id]
    else:
        rows = await AuditOutbox.all().distinct().values_list("organization_id")
        organization_ids = sorted({row[0] for row in rows})
    appended = 0
    for org in organization_ids:
        for _ in range(MAX_BATCHES):
            count = await _append_batch(org, batch_size)
            appended += count
            if count < batch_size:
                break
    return appended


async def _append_batch(organization_id: int, batch_size: int) -> int:
    await _ensure_head(organization_id)
    async with in_transaction() as connection:
        # Take the chain's lock before reading anything, so that the reads below see
        # what the previous holder committed.
        await (
            AuditChainHead.filter(organization_id=organization_id)
            .using_db(connection)
            .update(sequence=_same_sequence())
        )
        head = (
            await AuditChainHead.filter(organization_id=organization_id)
            .using_db(connection)
            .get()
        )
        sequence = head.sequence
        prev_hash = head.hash
        entries: list[AuditLog] = []
        consumed: list[int] = []
        # Events are read a page at a time, because a batch event represents up to
        # 1,000 entries and a transaction stops taking events at `batch_size`
        # entries. The first page is small; later pages are sized by the entries
        # per event seen so far, so few events are read without being appended.
        page = FIRST_PAGE_SIZE
        while len(entries) < batch_size and len(consumed) < batch_size:
            query = AuditOutbox.filter(organization_id=organization_id)
            if consumed:
                query = query.filter(id__gt=consumed[-1])
            limit = min(page, batch_size - len(consumed))
            events = await query.using_db(connection).order_by("id").limit(limit)
            for event in events:
                if len(entries) >= batch_size:
                    break
                consumed.append(event.id)
                for entry in _entries_of(event):
                    sequence += 1
                    entry.sequence = sequence
                    entry.prev_hash = prev_hash
                    entry.hash = prev_hash = chain_hash(
                        prev_hash, entry_content(entry, sequence)
                    )
                    entries.append(entry)
            if len(events) < limit:
                break
            per_event = max(1, len(entries) // len(consumed))
            page = max(1, (batch_size - len(entries)) // per_event)
        if not consumed:
            return 0
        await AuditLog.bulk_create(entries, using_db=connection)
        await AuditOutbox.filter(id__in=consumed).using_db(connection).delete()
        await (
            AuditChainHead.filter(organization_id=organization_id)
            .using_db(connection)
            .update(sequence=sequence, hash=prev_hash)
        )
    return len(entries)


def _entries_of(event: AuditOutbox) -> list[AuditLog]:
    """Return the audit entries of an outbox event, without sequence and hashes.

    An event is one entry, except a batch event: one entry per record it holds,
    numbered from 1 in `outbox_item`.
    """

    def entry(item: int, entity_id: int, changes: Any) -> AuditLog:
        return AuditLog(
            organization_id=event.organization_id,
            outbox_id=event.id,
            outbox_item=item,
            actor_id=event.actor_id,
            action=event.action,
            entity_type=event.entity_type,
            entity_id=entity_id,
            changes=changes,
            request_id=event.request_id,
            created_at=event.created_at,
        )

    records = batch_entries(event.changes)
    if records is None:
        return [entry(0, event.entity_id, event.changes)]
    return [
        entry(item, entity_id, changes)
        for item, (entity_id, changes) in enumerate(records, start=1)
    ]


def _same_sequence() -> Any:
    from tortoise.expressions import F

    return F("sequence")


class ChainHeadMissing(Exception):
    """An organization's audit log has entries but its chain head row is gone."""

    def __init__(self, organization_id: int, entries: int) -> None:
        super().__init__(
            f"The audit chain head of organization {organization_id} is missing "
            f"although its log has {entries} entries, so its events stay in the "
            "outbox. Someone removed the row: run `contractgql audit verify` to check "
            "the log, then `contractgql audit restore-head` to continue the chain."
        )
        self.organization_id = organization_id


async def _ensure_head(organization_id: int) -> None:
    """Create the organization's chain head row unless it exists.

    A new head starts the chain at sequence 0, which is right only for an empty
    log. Raise ChainHeadMissing otherwise, because a new head would repeat
    sequence numbers that the log already holds.
    """
    if await AuditChainHead.filter(organization_id=organization_id).exists():
        return
    entries = await AuditLog.filter(organization_id=organization_id).count()
    # A recorder that ran meanwhile may have created the head before its entries.
    if entries and not await AuditChainHead.exists(organization_id=organization_id):
        raise ChainHeadMissing(organization_id, entries)
    client = connections.get("default")
    table = AuditChainHead._meta.db_table
    placeholders = (
        "($1, 0, $2, CURRENT_TIMESTAMP)"
        if client.capabilities.dialect == "postgres"
        else "(?, 0, ?, CURRENT_TIMESTAMP)"
    )
    await client.execute_query(
        f"INSERT INTO {table} (organization_id, sequence, hash, updated_at) "
        f"VALUES {placeholders} ON CONFLICT (organization_id) DO NOTHING",
        [organization_id, GENESIS_HASH],
    )


@dataclass(frozen=True)
class ChainProblem:
    """The first entry of a chain that does not verify."""

    organization_id: int
    organization_name: str
    sequence: int
    entry_id: int | None
    reason: str

    def describe(self) -> str:
        entry = "missing" if self.entry_id is None else f"id {self.entry_id}"
        return (
            f"organization {self.organization_name!r} (id {self.organization_id}), "
            f"sequence {self.sequence}, entry {entry}: {self.reason}"
        )


# Entries that verify_chain reads per query, so that memory stays flat.
VERIFY_BATCH_SIZE = 1000


@dataclass(frozen=True)
class ChainEnd:
    """The last entry of an organization's verified chain: its anchor."""

    organization_id: int
    sequence: int
    hash: str

    def line(self) -> str:
        """Return the anchor as a line of an anchors file."""
        return f"{self.organization_id} {self.sequence} {self.hash}"


async def verify_chain(
    organization: Organization,
    anchors: dict[int, str] | None = None,
    *,
    require_head: bool = True,
) -> ChainProblem | ChainEnd:
    """Recompute an organization's chain: return its first bad entry, or its end.

    `anchors` maps sequence numbers to the hashes that an earlier verification
    printed. Kept outside the database, they reveal what the chain alone cannot:
    a log cut short, or rewritten with recomputed hashes.
    """
    expected_sequence = 1
    prev_hash = GENESIS_HASH
    anchors = anchors or {}

    def problem(sequence: int, entry_id: int | None, reason: str) -> ChainProblem:
        return ChainProblem(
            organization.id, organization.name, sequence, entry_id, reason
        )

    while True:
        entries = (
            await AuditLog.filter(
                organization_id=organization.id, sequence__gte=expected_sequence
            )
            .order_by("sequence")
            .limit(VERIFY_BATCH_SIZE)
        )
        for entry in entries:
            if entry.sequence != expected_sequence:
                return problem(
                    expected_sequence,
                    None,
                    f"the chain jumps from sequence {expected_sequence - 1} to "
                    f"{entry.sequence}",
                )
            if entry.prev_hash != prev_hash:
                return problem(
                    entry.sequence,
                    entry.id,
                    "prev_hash differs from the previous hash",
                )
            digest = chain_hash(prev_hash, entry_content(entry, entry.sequence))
            if digest != entry.hash:
                return problem(
                    entry.sequence,
                    entry.id,
                    "the stored hash does not match the entry's content",
                )
            anchored = anchors.get(entry.sequence)
            if anchored is not None and anchored != digest:
                return problem(
                    entry.sequence,
                    entry.id,
                    f"the hash differs from the anchor {anchored[:16]}…, so this "
                    "entry or an earlier one was rewritten after the anchor was "
                    "taken, with the hashes after it recomputed",
                )
            prev_hash = digest
            expected_sequence += 1
        if len(entries) < VERIFY_BATCH_SIZE:
            break
    last = expected_sequence - 1
    beyond = [sequence for sequence in anchors if sequence > last]
    if beyond:
        return problem(
            min(beyond),
            None,
            f"an anchor names sequence {min(beyond)} but the log ends at {last}, so "
            "entries were removed from its end",
        )
    head = await AuditChainHead.filter(organization_id=organization.id).first()
    if head is None and last > 0 and require_head:
        return problem(
            last,
            None,
            f"the chain head is missing although the log has {last} entries: if "
            "no entries were removed from its end, run `contractgql audit "
            "restore-head`",
        )
    if head is not None and (head.sequence != last or head.hash != prev_hash):
        return problem(
            head.sequence,
            None,
            f"the chain head names sequence {head.sequence} but the log ends at {last}",
        )
    return ChainEnd(organization.id, last, prev_hash)


async def restore_head(organization: Organization) -> ChainEnd | ChainProblem:
    """Recreate a missing chain head from the end of a chain that verifies.

    Returns the chain's first problem instead when an entry does not verify. An
    existing head is left alone.
    """
    if await AuditChainHead.filter(organization_id=organization.id).exists():
        return await verify_chain(organization)
    end = await verify_chain(organization, require_head=False)
    if isinstance(end, ChainProblem) or end.sequence == 0:
        return end
    await AuditChainHead.create(
        organization_id=organization.id, sequence=end.sequence, hash=end.hash
    )
    return await verify_chain(organization)
