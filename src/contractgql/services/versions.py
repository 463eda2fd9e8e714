"""Optimistic concurrency for updates of editable records.

An update may name the version of the record that its caller read. The update then
writes only while the stored version is still that one, and fails with Conflict
otherwise. claim_version increments the version with `version = version + 1` in
the database, with or without an expected version, so concurrent updates that go
through it lose no increment.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from contractgql.audit import record_change, snapshot
from contractgql.errors import Conflict
from contractgql.ids import encode_id
from contractgql.models import User
from contractgql.models.base import Record
from contractgql.security.viewer import Viewer

# The models with a version column: the editable records and users.
Versioned = Record | User

# Returns the GraphQL names of the fields that the request sets to a value other
# than the one stored in the given record.
ChangedFields = Callable[[Any], Awaitable[list[str]]]


async def check_version(
    record: Versioned, label: str, expected: int | None, changed: ChangedFields
) -> None:
    """Raise Conflict when `expected` is given and is not the version of `record`.

    This check only spares the caller a write that would fail. The write itself
    must still go through claim_version, which makes the comparison atomic.
    """
    if expected is None or expected == record.version:
        return
    raise _conflict(record, label, expected, await changed(record))


async def claim_version(
    record: Versioned, label: str, expected: int | None, changed: ChangedFields
) -> None:
    """Increment the stored version, only while it equals `expected` when given.

    Call it inside the update's transaction, before any other write. Its UPDATE
    holds the row lock on PostgreSQL, and the write lock of the database on SQLite,
    until the transaction ends. A concurrent update with the same expected version
    therefore waits, then finds the new version and gets Conflict. Sets
    `record.version` to the new stored version.
    """
    model = type(record)
    query = model.filter(id=record.id)
    if expected is not None:
        query = query.filter(version=expected)
    updated = await query.update(version=F("version") + 1)
    if not updated:
        stored = await model.get(id=record.id)
        assert expected is not None, "an update without a version always matches"
        raise _conflict(stored, label, expected, await changed(stored))
    rows = await model.filter(id=record.id).values("version")
    record.version = rows[0]["version"]


def changed_columns(
    stored: Any, columns: Mapping[str, Any], graphql_names: Mapping[str, str]
) -> list[str]:
    """Return the GraphQL names of the columns whose stored value differs.

    A column that `graphql_names` leaves out has the camel-case name of the column,
    such as clientId for client_id.
    """
    names = {
        graphql_names.get(column, camel_case(column))
        for column, value in columns.items()
        if getattr(stored, column) != value
    }
    return sorted(names)


async def changed_links(
    stored: Any, links: Iterable[tuple[str, str, list[int] | None]]
) -> list[str]:
    """Return the names of the link lists that differ from the stored links.

    `links` contains the GraphQL name, the relation's attribute on `stored` and the
    requested ids, or None for a list that the request leaves out.
    """
    names = []
    for name, relation, ids in links:
        if ids is None:
            continue
        linked = await getattr(stored, relation).all().values_list("id", flat=True)
        if set(linked) != set(ids):
            names.append(name)
    return names


def camel_case(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


def _conflict(
    stored: Versioned, label: str, expected: int, changed_fields: list[str]
) -> Conflict:
    record_id = encode_id(type(stored).__name__, stored.id)
    if expected < 1 or expected > stored.version:
        # No read can have returned this version, so nobody else changed anything.
        message = (
            f"{label} {record_id!r} never had version {expected}: versions start at "
            f"1 and the current version is {stored.version}. Send the version of the "
            "record as you read it."
        )
    else:
        message = (
            f"{label} {record_id!r} was changed by someone else: the request expected "
            f"version {expected}, but the current version is {stored.version}. Reload "
            "the record and apply your changes again."
        )
    return Conflict(
        message, current_version=stored.version, changed_fields=changed_fields
    )


async def archive_with_version(viewer: Viewer, record: Record, action: str) -> bool:
    """Archive `record` with one conditional UPDATE, and audit it as `action`.

    The UPDATE sets the archive time, the editor and the next version only while
    the row is not archived, and takes the row's lock, so it neither overwrites
    nor is overwritten by a concurrent update, and two archives record one event.
    `record` is read again afterwards. Returns whether this call archived it.
    Call it outside a transaction: it runs its own.
    """
    model = type(record)
    now = datetime.now(UTC)
    async with in_transaction():
        archived = await model.filter(id=record.id, archived_at=None).update(
            archived_at=now,
            updated_at=now,
            updated_by_id=viewer.user_id,
            version=F("version") + 1,
        )
        await record.refresh_from_db()
        if archived:
            after = snapshot(record)
            # Only the archive time changed among the audited values.
            before = {**after, "archivedAt": None}
            await record_change(viewer, action, record, before, after)
    return bool(archived)
