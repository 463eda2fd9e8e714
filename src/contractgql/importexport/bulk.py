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
import collections
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
import orjson
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.fields import JSONField
from tortoise.fields.data import DatetimeField
from tortoise.models import Model

from contractgql.audit.outbox import creation_batch_json, mark_pending
from contractgql.importexport.errors import ImportFileError
from contractgql.models import AuditOutbox, Client, Contract
from contractgql.observability.request_id import current_request_id
from contractgql.security.viewer import Viewer
from contractgql.services.contracts import creation_batch_of_contracts, deadline_of

# Rows an import parses or checks between two turns of the event loop, in which a
# batch that PostgreSQL is storing can make progress.
YIELD_EVERY = 10
# Queued new contracts that trigger a flush. A flush costs a few statements whatever
# its size, so this bounds the memory of queued rows. Only this size was measured.
BATCH_ROWS = 1000

_TAG_COLUMNS = ("contracts_id", "tag_id")
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


# Flushed batches that may wait for PostgreSQL at once, so that it always has the
# next batch to store while the import checks the rows after it. This bounds the
# memory that waiting batches hold.
MAX_WAITING_BATCHES = 2
# Contract and client ids an import on PostgreSQL draws ahead of each kind, so
# that queueing a row needs no statement of its own and PostgreSQL stores batches
# back to back. Ids drawn but not used stay unused, as those of a rolled-back
# insert do.
RESERVED_IDS = MAX_WAITING_BATCHES * BATCH_ROWS


@dataclass(slots=True)
class NewContract:
    """A validated row waiting to be inserted."""

    row: int
    number: str | None
    # Column values from `check_new_contract`, with every reference resolved.
    columns: dict[str, Any]
    # Service input values, for the tag links and the audited links.
    values: dict[str, Any]
    # The contract's id, set when its batch is flushed.
    id: int | None = None


@dataclass(slots=True)
class _BatchRows:
    """The rows that store one flushed batch."""

    clients: list[tuple[Any, ...]]
    contracts: list[tuple[Any, ...]]
    links: list[tuple[int, int]]
    # Outbox rows: the clients' batch event, if any, then the contracts'.
    events: list[tuple[Any, ...]]


class ContractBatch:
    """New contracts, and on PostgreSQL the new clients they need, queued for
    a few multi-row inserts."""

    def __init__(self, viewer: Viewer) -> None:
        self.viewer = viewer
        self.pending: list[NewContract] = []
        # New clients: (id, column values) each.
        self.pending_clients: list[tuple[int, dict[str, Any]]] = []
        # Writes of flushed batches that PostgreSQL may still be doing, oldest
        # first. Each write starts when the one before it has finished.
        self.writing: list[asyncio.Task[None]] = []
        # Ids drawn from PostgreSQL's sequences ahead of use, ascending, per table.
        self.ids: dict[str, collections.deque[int]] = {
            "contracts": collections.deque(),
            "clients": collections.deque(),
        }

    @property
    def queues_clients(self) -> bool:
        """Whether add_client() can queue new clients: on PostgreSQL only.

        SQLite has no sequence to draw ids from ahead of the insert, so there the
        importer creates each new client at once.
        """
        return Contract._meta.db.capabilities.dialect == "postgres"

    async def wait(self) -> None:
        """Wait until every flushed batch is written, raising the error of a write.

        Call it before any statement that runs in a savepoint: a savepoint's
        connection wrapper does not wait for the import's pending statements.
        """
        writing, self.writing = self.writing, []
        if writing:
            # The last write waits for the others, and so raises their error.
            await writing[-1]

    def add(self, item: NewContract) -> None:
        self.pending.append(item)

    async def add_client(self, columns: dict[str, Any]) -> int:
        """Queue a new client with these column values and return its id.

        The client is inserted by the next flush, before the contracts, and
        audited as `Client.create` audits it. Only where queues_clients is true.
        """
        pk = (await self._take_ids("clients", 1))[0]
        self.pending_clients.append((pk, columns))
        return pk

    @property
    def full(self) -> bool:
        return len(self.pending) >= BATCH_ROWS

    async def flush(self) -> list[NewContract]:
        """Write the queued clients, contracts, tag links and audit events.

        Returns the contracts, each with its id. On PostgreSQL the write goes on
        in the background after this returns, and wait() waits for it. The write
        raises ImportFileError when a concurrent writer took a queued contract
        number since the import loaded them, and IntegrityError when one took a
        preallocated id on SQLite. Either rolls the whole import back.
        """
        if not self.pending and not self.pending_clients:
            return []
        pending, self.pending = self.pending, []
        connection = Contract._meta.db
        if connection.capabilities.dialect != "postgres":
            ids = await _allocate_ids(connection, "contracts", len(pending))
            await self._store(connection, self._rows(pending, ids, False), None)
            return pending
        while len(self.writing) >= MAX_WAITING_BATCHES:
            await self.writing.pop(0)
        ids = await self._take_ids("contracts", len(pending))
        rows = self._rows(pending, ids, True)
        previous = self.writing[-1] if self.writing else None
        # PostgreSQL stores the batch while the import parses and checks the
        # next rows, which give the task a turn every YIELD_EVERY rows.
        self.writing.append(
            asyncio.ensure_future(self._store(connection, rows, previous))
        )
        await asyncio.sleep(0)
        return pending

    async def _take_ids(self, table: str, count: int) -> list[int]:
        """Return `count` ids of `table` drawn ahead, drawing more when too few are
        left. Drawing waits until the connection is free, so the writes draw the
        next ids ahead when they finish."""
        ids = self.ids[table]
        if len(ids) < count:
            await self.wait()
            connection = Contract._meta.db
            more = max(RESERVED_IDS, count) - len(ids)
            ids.extend(await _allocate_ids(connection, table, more))
        return [ids.popleft() for _ in range(count)]

    def _rows(
        self, pending: list[NewContract], ids: list[int], postgres: bool
    ) -> _BatchRows:
        """Give each contract its id and build the rows that store the batch."""
        now = datetime.now(UTC)
        layout = _layout(Contract)
        common = {
            "organization_id": self.viewer.organization_id,
            "created_by_id": self.viewer.user_id,
            "updated_by_id": self.viewer.user_id,
            "created_at": now,
            "updated_at": now,
        }
        contracts = []
        for item, pk in zip(pending, ids, strict=True):
            item.id = pk
            columns = {**layout.defaults, **item.columns, **common, "id": pk}
            columns["notice_deadline"] = deadline_of(
                columns["end_date"], columns["notice_count"], columns["notice_unit"]
            )
            contracts.append((pk, columns, item.values))
        rows = _BatchRows(
            clients=[],
            contracts=[layout.row(columns, postgres) for _, columns, _ in contracts],
            links=[
                (pk, tag_id)
                for pk, _, values in contracts
                for tag_id in sorted(set(values.get("tag_ids") or []))
            ],
            events=[],
        )
        if self.pending_clients:
            clients, self.pending_clients = self.pending_clients, []
            client_layout = _layout(Client)
            # As Client.create() stores a client: no user columns.
            stamps = {"created_at": now, "updated_at": now}
            client_columns = [
                {**client_layout.defaults, **columns, **stamps, "id": pk}
                for pk, columns in clients
            ]
            rows.clients = [client_layout.row(c, postgres) for c in client_columns]
            changes = creation_batch_json(
                Client, [(c["id"], c, {}) for c in client_columns]
            )
            first = client_columns[0]["id"]
            rows.events.append(
                self._event("client.create", Client, first, changes, now)
            )
        if contracts:
            changes = creation_batch_of_contracts(contracts)
            first = contracts[0][0]
            rows.events.append(
                self._event("contract.create", Contract, first, changes, now)
            )
        return rows

    async def _store(
        self,
        connection: BaseDBAsyncClient,
        rows: _BatchRows,
        previous: asyncio.Task[None] | None,
    ) -> None:
        """Insert a batch's clients, contracts, tag links and audit events, in that
        order, once the batch before it is stored. On PostgreSQL, then draw the
        ids that the next batches use."""
        if previous is not None:
            await previous
        if rows.clients:
            await _insert(
                connection, "clients", _layout(Client).db_columns, rows.clients
            )
        if rows.contracts:
            await _insert(
                connection, "contracts", _layout(Contract).db_columns, rows.contracts
            )
        if rows.links:
            await _insert(connection, "contract_tags", _TAG_COLUMNS, rows.links)
        await _insert(connection, "audit_outbox", _AUDIT_COLUMNS, rows.events)
        mark_pending(self.viewer.organization_id)
        if connection.capabilities.dialect != "postgres":
            return
        for table in ("contracts", "clients") if rows.clients else ("contracts",):
            missing = RESERVED_IDS - len(self.ids[table])
            if missing > 0:
                more = await _allocate_ids(connection, table, missing)
                self.ids[table].extend(more)

    def _event(
        self,
        action: str,
        model: type[Model],
        first: int,
        changes: str,
        now: datetime,
    ) -> tuple[Any, ...]:
        """Return the outbox row of a batch event with this JSON text of changes.

        The recorder appends one audit entry per record of the event, equal to
        the entry that creating the record through the API or ORM gives it. The
        event's entity is the first record, whose id is `first`.
        """
        return (
            self.viewer.organization_id,
            self.viewer.user_id,
            action,
            model.__name__,
            first,
            changes,
            current_request_id.get(),
            AuditOutbox._meta.fields_map["created_at"].to_db_value(now, AuditOutbox),
        )


@dataclass(frozen=True, eq=False)
class _Layout:
    """A table's columns, with the defaults and conversions of its model."""

    model: type[Model]
    # Field names, such as `client_id`, in the order of `db_columns`.
    fields: tuple[str, ...]
    db_columns: tuple[str, ...]
    # Column values of a record that its input leaves out.
    defaults: dict[str, Any]
    # Fields whose values PostgreSQL's COPY needs converted: enums and JSON.
    enums: frozenset[str]
    json: frozenset[str]

    def row(self, columns: dict[str, Any], postgres: bool) -> tuple[Any, ...]:
        """Return the values of one record in the order of `db_columns`.

        SQLite gets each value converted by the model's own field, as an ORM
        insert does. For PostgreSQL only enums and JSON need converting, which is
        much cheaper per row.
        """
        if not postgres:
            fields_map = self.model._meta.fields_map
            return tuple(
                fields_map[name].to_db_value(columns[name], self.model)
                for name in self.fields
            )
        values = list(self.values_of(columns))
        for index in self.enum_positions:
            value = values[index]
            if isinstance(value, enum.Enum):
                # _value_ is .value without the descriptor, which costs more.
                values[index] = value._value_
        for index in self.json_positions:
            if values[index] is not None:
                values[index] = _json_text(values[index])
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


def _json_text(value: Any) -> str:
    """Return `value` as JSON text, with orjson, which is faster than json here."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        # Keys other than text, which json turns into text as the ORM does.
        return json.dumps(value)


@functools.cache
def _layout(model: type[Model]) -> _Layout:
    """Read a model's layout once, after Tortoise has initialised it."""
    meta = model._meta
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
        if isinstance(field, DatetimeField):
            # Timestamps are set per flush.
            default = None
        elif default in (dict, list):
            # One empty dict or list, which rows share because they only
            # serialise it.
            default = default()
        elif callable(default):
            raise TypeError(
                f"{model.__name__}.{name} has a default that bulk "
                "inserts cannot call per row."
            )
        defaults[name] = default
        if getattr(field, "enum_type", None) is not None:
            enums.add(name)
        if isinstance(field, JSONField):
            json_fields.add(name)
    return _Layout(
        model,
        tuple(fields),
        tuple(db_columns),
        defaults,
        frozenset(enums),
        frozenset(json_fields),
    )


async def _insert(
    connection: BaseDBAsyncClient,
    table: str,
    columns: tuple[str, ...],
    rows: Iterable[tuple[Any, ...]],
) -> None:
    """Insert `rows` into `table`: with COPY on PostgreSQL, executemany on SQLite.

    A few rows go to PostgreSQL in one INSERT, which takes one round trip where
    COPY takes two. Raises ImportFileError when a contract number is taken,
    which happens only when another writer stored it while the import ran, and
    IntegrityError for any other violated constraint, as the ORM does.
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
    rows = list(rows)
    async with connection.acquire_connection() as raw:
        try:
            if len(rows) <= _INSERT_ROWS:
                await raw.execute(*_insert_statement(table, columns, rows))
            else:
                await raw.copy_records_to_table(table, records=rows, columns=columns)
        except asyncpg.IntegrityConstraintViolationError as error:
            taken = _POSTGRES_NUMBER_TAKEN.search(getattr(error, "detail", "") or "")
            if table == "contracts" and taken:
                raise _number_taken(taken.group(1)) from error
            raise IntegrityError(error) from error


# Rows up to which PostgreSQL gets an INSERT rather than a COPY.
_INSERT_ROWS = 4


def _insert_statement(
    table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> list[Any]:
    """Return an INSERT of `rows` and its arguments, for asyncpg's execute()."""
    names = ", ".join(f'"{column}"' for column in columns)
    width = len(columns)
    groups = ", ".join(
        "(" + ", ".join(f"${row * width + i + 1}" for i in range(width)) + ")"
        for row in range(len(rows))
    )
    arguments = [value for row in rows for value in row]
    return [f'INSERT INTO "{table}" ({names}) VALUES {groups}', *arguments]


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


async def _allocate_ids(
    connection: BaseDBAsyncClient, table: str, count: int
) -> list[int]:
    """Reserve `count` new ids of `table`, in increasing order.

    PostgreSQL draws them from the column's sequence, which is safe under
    concurrent inserts. SQLite has no sequence to draw from, so the ids follow the
    highest id used so far.
    """
    if connection.capabilities.dialect == "postgres":
        _, rows = await connection.execute_query(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) AS id "
            "FROM generate_series(1, $1)",
            [count],
        )
        return sorted(row[0] for row in rows)
    # NOTE: another process that inserts a row between this read and the insert
    # makes the insert fail on the primary key, and the import rolls back. The
    # sqlite_sequence row counts ids of deleted rows, which AUTOINCREMENT never
    # reuses.
    rows = await connection.execute_query_dict(
        f'SELECT MAX(used) AS id FROM (SELECT MAX(id) AS used FROM "{table}" '
        f"UNION ALL SELECT seq FROM sqlite_sequence WHERE name = '{table}')"
    )
    highest = int(rows[0]["id"] or 0)
    return list(range(highest + 1, highest + 1 + count))
