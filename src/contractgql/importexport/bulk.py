"""Insert an import's new contracts in batches, with a few statements per batch.

The importer validates each new row in Python against references it loaded once
and queues the row here. A flush then writes the queued contracts, their tag
links and one `contract.create` batch event for the audit log, inside the
import's transaction, so a failed or cancelled import still writes nothing. The
recorder turns the batch event into one audit entry per contract. The contracts
get the same columns, version, scan state and audit values as those that
`create_contract` writes.

The rows are built as tuples from the validated column values, without model
instances, which cost more than the insert itself. PostgreSQL receives them with
COPY, and SQLite with one executemany per table.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import json
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.fields import JSONField
from tortoise.fields.data import DatetimeField

from contractgql.audit.outbox import creation_batch, mark_pending
from contractgql.importexport.errors import ImportFileError
from contractgql.models import AuditOutbox, Contract
from contractgql.observability.request_id import current_request_id
from contractgql.security.viewer import Viewer
from contractgql.services.contracts import creation_snapshot_of_columns, deadline_of

# Rows an import parses or checks between two turns of the event loop, in which a
# batch that PostgreSQL is storing can make progress.
YIELD_EVERY = 50
# Queued new contracts that trigger a flush. A flush costs a few statements whatever
# its size, so this bounds the memory of queued rows. Only this size was measured.
BATCH_ROWS = 1000

_AUDIT_COLUMNS = (
    "organization_id",
    "actor_id",
    "action",
    "entity_type",
    "entity_id",
    "changes",
    "request_id",
    "created_at",
)


@dataclass(slots=True)
class NewContract:
    """A validated row waiting to be inserted."""

    row: int
    number: str | None
    # Column values from `check_new_contract`, with every reference resolved.
    columns: dict[str, Any]
    # Service input values, for the tag links and the audited links.
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class InsertedContract:
    """A queued contract after its insert, with its new id and stored columns."""

    item: NewContract
    id: int
    # Every column as inserted, keyed by field name (`client_id`, `stage`, ...).
    columns: dict[str, Any]


class ContractBatch:
    """New contracts queued for one multi-row insert."""

    def __init__(self, viewer: Viewer) -> None:
        self.viewer = viewer
        self.pending: list[NewContract] = []
        # The writes of the last flush, which PostgreSQL may still be doing.
        self.writing: asyncio.Task[None] | None = None

    async def wait(self) -> None:
        """Wait until the last flush is written, raising its error if it failed.

        Call it before any statement that runs in a savepoint: a savepoint's
        connection wrapper does not wait for the import's pending statement.
        """
        if self.writing is not None:
            writing, self.writing = self.writing, None
            await writing

    def add(self, item: NewContract) -> None:
        self.pending.append(item)

    @property
    def full(self) -> bool:
        return len(self.pending) >= BATCH_ROWS

    async def flush(self) -> list[InsertedContract]:
        """Insert the queued contracts, tag links and audit event, and return them.

        Raises ImportFileError when a concurrent writer took a queued contract
        number since the import loaded them, and IntegrityError when one took a
        preallocated id on SQLite. Either rolls the whole import back.
        """
        if not self.pending:
            return []
        await self.wait()
        pending, self.pending = self.pending, []
        connection = Contract._meta.db
        postgres = connection.capabilities.dialect == "postgres"
        ids = await _allocate_contract_ids(connection, len(pending))
        now = datetime.now(UTC)
        layout = _contract_layout()
        common = {
            "organization_id": self.viewer.organization_id,
            "created_by_id": self.viewer.user_id,
            "updated_by_id": self.viewer.user_id,
            "created_at": now,
            "updated_at": now,
        }
        inserted = []
        for item, pk in zip(pending, ids, strict=True):
            columns = {**layout.defaults, **item.columns, **common, "id": pk}
            columns["notice_deadline"] = deadline_of(
                columns["end_date"], columns["notice_count"], columns["notice_unit"]
            )
            inserted.append(InsertedContract(item, pk, columns))

        contract_rows = [
            layout.row(contract.columns, postgres) for contract in inserted
        ]
        links = [
            (contract.id, tag_id)
            for contract in inserted
            for tag_id in sorted(set(contract.item.values.get("tag_ids") or []))
        ]
        event = self._audit_event(inserted, now)
        writing = _write(connection, contract_rows, links, [event])
        if postgres:
            # PostgreSQL stores the batch while the import parses and checks the
            # next rows, which give the task a turn every YIELD_EVERY rows.
            self.writing = asyncio.ensure_future(writing)
            await asyncio.sleep(0)
        else:
            await writing
        mark_pending(self.viewer.organization_id)
        return inserted

    def _audit_event(
        self, inserted: list[InsertedContract], now: datetime
    ) -> tuple[Any, ...]:
        """Return the batch's outbox row: one `contract.create` batch event.

        The recorder appends one audit entry per contract of it, equal to the
        entry that `create_contract` gives a contract.
        """
        changes = creation_batch(
            [
                (
                    contract.id,
                    creation_snapshot_of_columns(
                        contract.columns, contract.item.values
                    ),
                )
                for contract in inserted
            ]
        )
        return (
            self.viewer.organization_id,
            self.viewer.user_id,
            "contract.create",
            "Contract",
            inserted[0].id,
            AuditOutbox._meta.fields_map["changes"].to_db_value(changes, AuditOutbox),
            current_request_id.get(),
            AuditOutbox._meta.fields_map["created_at"].to_db_value(now, AuditOutbox),
        )


@dataclass(frozen=True, eq=False)
class _ContractLayout:
    """The contracts table's columns, with the defaults and conversions of the model."""

    # Field names, such as `client_id`, in the order of `db_columns`.
    fields: tuple[str, ...]
    db_columns: tuple[str, ...]
    # Column values of a contract that its input leaves out.
    defaults: dict[str, Any]
    # Fields whose values PostgreSQL's COPY needs converted: enums and JSON.
    enums: frozenset[str]
    json: frozenset[str]

    def row(self, columns: dict[str, Any], postgres: bool) -> tuple[Any, ...]:
        """Return the values of one contract in the order of `db_columns`.

        SQLite gets each value converted by the model's own field, as an ORM
        insert does. For PostgreSQL only enums and JSON need converting, which is
        much cheaper per row.
        """
        if not postgres:
            fields_map = Contract._meta.fields_map
            return tuple(
                fields_map[name].to_db_value(columns[name], Contract)
                for name in self.fields
            )
        values = list(self.values_of(columns))
        for index in self.enum_positions:
            value = values[index]
            if isinstance(value, enum.Enum):
                values[index] = value.value
        for index in self.json_positions:
            if values[index] is not None:
                values[index] = json.dumps(values[index])
        return tuple(values)

    @functools.cached_property
    def values_of(self) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
        """Return the values of `fields` from a dict of columns, in their order."""
        return operator.itemgetter(*self.fields)

    @functools.cached_property
    def enum_positions(self) -> tuple[int, ...]:
        return tuple(i for i, name in enumerate(self.fields) if name in self.enums)

    @functools.cached_property
    def json_positions(self) -> tuple[int, ...]:
        return tuple(i for i, name in enumerate(self.fields) if name in self.json)


@functools.cache
def _contract_layout() -> _ContractLayout:
    """Read the layout from the model once, after Tortoise has initialised it."""
    meta = Contract._meta
    fields: list[str] = []
    db_columns: list[str] = []
    defaults: dict[str, Any] = {}
    enums: set[str] = set()
    json_fields: set[str] = set()
    for name, db_column in meta.fields_db_projection.items():
        field = meta.fields_map[name]
        fields.append(name)
        db_columns.append(db_column)
        default = field.default
        if isinstance(field, DatetimeField) or callable(default):
            # Timestamps are set per flush. Callable defaults are left out, and
            # custom_fields, whose default is dict, gets one empty dict below,
            # which rows share because they only serialise it.
            default = None
        defaults[name] = default
        if getattr(field, "enum_type", None) is not None:
            enums.add(name)
        if isinstance(field, JSONField):
            json_fields.add(name)
    # NOTE: a callable default other than `dict` would need calling per row.
    defaults["custom_fields"] = {}
    return _ContractLayout(
        tuple(fields),
        tuple(db_columns),
        defaults,
        frozenset(enums),
        frozenset(json_fields),
    )


async def _write(
    connection: BaseDBAsyncClient,
    contracts: list[tuple[Any, ...]],
    links: list[tuple[int, int]],
    events: list[tuple[Any, ...]],
) -> None:
    """Insert a batch's contracts, then their tag links, then its audit event."""
    await _insert(connection, "contracts", _contract_layout().db_columns, contracts)
    if links:
        await _insert(connection, "contract_tags", ("contracts_id", "tag_id"), links)
    await _insert(connection, "audit_outbox", _AUDIT_COLUMNS, events)


async def _insert(
    connection: BaseDBAsyncClient,
    table: str,
    columns: tuple[str, ...],
    rows: Iterable[tuple[Any, ...]],
) -> None:
    """Insert `rows` into `table`: with COPY on PostgreSQL, executemany on SQLite.

    Raises ImportFileError when a contract number is taken, which happens only
    when another writer stored it while the import ran, and IntegrityError for
    any other violated constraint, as the ORM does.
    """
    if connection.capabilities.dialect != "postgres":
        names = ", ".join(f'"{column}"' for column in columns)
        marks = ", ".join("?" for _ in columns)
        try:
            await connection.execute_many(
                f'INSERT INTO "{table}" ({names}) VALUES ({marks})',
                [list(r) for r in rows],
            )
        except IntegrityError as error:
            if _SQLITE_NUMBER_TAKEN in str(error):
                raise _number_taken(None) from error
            raise
        return
    async with connection.acquire_connection() as raw:
        try:
            await raw.copy_records_to_table(table, records=rows, columns=columns)
        except asyncpg.IntegrityConstraintViolationError as error:
            taken = _POSTGRES_NUMBER_TAKEN.search(getattr(error, "detail", "") or "")
            if table == "contracts" and taken:
                raise _number_taken(taken.group(1)) from error
            raise IntegrityError(error) from error


_SQLITE_NUMBER_TAKEN = "contracts.organization_id, contracts.number"
_POSTGRES_NUMBER_TAKEN = re.compile(
    r"^Key \(organization_id, number\)=\(\d+, (.*)\) already exists\.$"
)


def _number_taken(number: str | None) -> ImportFileError:
    named = "A contract number" if number is None else f"Contract number {number!r}"
    return ImportFileError(
        f"{named} of the file was stored by another user or process while the "
        "import ran, so nothing was imported. Import the file again: its row will "
        "then update that contract."
    )


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
