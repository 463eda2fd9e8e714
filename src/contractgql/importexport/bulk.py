"""Insert an import's new contracts in batches, with a few statements per batch.

The importer validates each new row in Python against references it loaded once
and queues the row here. A flush then writes the queued contracts, their tag links
and their `contract.create` audit events with one executemany each, inside the
import's transaction, so a failed or cancelled import still writes nothing. The
contracts get the same columns, version, scan state and audit values as those
that `create_contract` writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from contractgql.audit.outbox import diff, mark_pending
from contractgql.models import AuditOutbox, Contract
from contractgql.observability.request_id import current_request_id
from contractgql.security.viewer import Viewer
from contractgql.services.contracts import build_contract, creation_snapshot

# Queued new contracts that trigger a flush. A flush costs a few statements whatever
# its size, so this bounds the memory of queued rows. Only this size was measured.
BATCH_ROWS = 1000


@dataclass(slots=True)
class NewContract:
    """A validated row waiting to be inserted."""

    row: int
    number: str | None
    # Column values from `check_new_contract`, with every reference resolved.
    columns: dict[str, Any]
    # Service input values, for the tag links and the audited links.
    values: dict[str, Any]


class ContractBatch:
    """New contracts queued for one multi-row insert."""

    def __init__(self, viewer: Viewer) -> None:
        self.viewer = viewer
        self.pending: list[NewContract] = []

    def add(self, item: NewContract) -> None:
        self.pending.append(item)

    @property
    def full(self) -> bool:
        return len(self.pending) >= BATCH_ROWS

    async def flush(self) -> list[tuple[NewContract, Contract]]:
        """Insert the queued contracts, tag links and audit events, and return them.

        Raises IntegrityError when a concurrent writer took a queued contract
        number (or, on SQLite, a preallocated id) since the import loaded them,
        which rolls the whole import back.
        """
        if not self.pending:
            return []
        pending, self.pending = self.pending, []
        connection = Contract._meta.db
        ids = await _allocate_contract_ids(connection, len(pending))
        now = datetime.now(UTC)
        contracts = [
            build_contract(
                self.viewer, item.columns, id=pk, created_at=now, updated_at=now
            )
            for item, pk in zip(pending, ids, strict=True)
        ]
        await Contract.bulk_create(contracts, batch_size=BATCH_ROWS)

        links = [
            (contract.id, tag_id)
            for item, contract in zip(pending, contracts, strict=True)
            for tag_id in sorted(set(item.values.get("tag_ids") or []))
        ]
        if links:
            await _insert_tag_links(connection, links)

        await self._insert_audit_events(connection, pending, contracts)
        return list(zip(pending, contracts, strict=True))

    async def _insert_audit_events(
        self,
        connection: BaseDBAsyncClient,
        pending: list[NewContract],
        contracts: list[Contract],
    ) -> None:
        """Insert one `contract.create` outbox event per contract.

        The rows are built as tuples rather than AuditOutbox instances, which
        cost more time than the insert, and converted by the model's own fields.
        """
        fields = AuditOutbox._meta.fields_map
        changes_field = fields["changes"]
        created_at = fields["created_at"].to_db_value(datetime.now(UTC), AuditOutbox)
        organization_id = self.viewer.organization_id
        request_id = current_request_id.get()
        rows = [
            [
                organization_id,
                self.viewer.user_id,
                "contract.create",
                "Contract",
                contract.id,
                changes_field.to_db_value(
                    diff(None, creation_snapshot(contract, item.values)), AuditOutbox
                ),
                request_id,
                created_at,
            ]
            for item, contract in zip(pending, contracts, strict=True)
        ]
        postgres = connection.capabilities.dialect == "postgres"
        marks = ", ".join(
            f"${number}" if postgres else "?" for number in range(1, len(rows[0]) + 1)
        )
        await connection.execute_many(
            'INSERT INTO "audit_outbox" ("organization_id", "actor_id", "action", '
            '"entity_type", "entity_id", "changes", "request_id", "created_at") '
            f"VALUES ({marks})",
            rows,
        )
        mark_pending(organization_id)


async def _allocate_contract_ids(
    connection: BaseDBAsyncClient, count: int
) -> list[int]:
    """Reserve `count` new contract ids, in increasing order.

    PostgreSQL draws them from the column's sequence, which is safe under
    concurrent inserts. SQLite has no sequence to draw from, so the ids follow the
    highest id used so far.
    """
    if connection.capabilities.dialect == "postgres":
        rows = await connection.execute_query_dict(
            "SELECT nextval(pg_get_serial_sequence('contracts', 'id')) AS id "
            "FROM generate_series(1, $1)",
            [count],
        )
        return sorted(int(row["id"]) for row in rows)
    # NOTE: another process that inserts a contract between this read and the
    # insert makes the insert fail on the primary key, and the import rolls back.
    # The sqlite_sequence row counts ids of deleted contracts, which AUTOINCREMENT
    # never reuses.
    rows = await connection.execute_query_dict(
        "SELECT MAX(used) AS id FROM (SELECT MAX(id) AS used FROM contracts "
        "UNION ALL SELECT seq FROM sqlite_sequence WHERE name = 'contracts')"
    )
    highest = int(rows[0]["id"] or 0)
    return list(range(highest + 1, highest + 1 + count))


async def _insert_tag_links(
    connection: BaseDBAsyncClient, links: list[tuple[int, int]]
) -> None:
    postgres = connection.capabilities.dialect == "postgres"
    marks = "$1, $2" if postgres else "?, ?"
    await connection.execute_many(
        f'INSERT INTO "contract_tags" ("contracts_id", "tag_id") VALUES ({marks})',
        [list(link) for link in links],
    )
