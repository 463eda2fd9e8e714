"""Record a change as an audit event in the outbox, inside the caller's transaction."""

from __future__ import annotations

import enum
import functools
import operator
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson
from tortoise.fields.relational import ForeignKeyFieldInstance
from tortoise.models import Model

from contractgql.domain.money import from_minor_units
from contractgql.ids import encode_id
from contractgql.models import AuditOutbox, Contract
from contractgql.observability.request_id import current_request_id
from contractgql.security.viewer import Viewer

# Organizations whose outbox got rows in this request, for the GraphQL app to
# enqueue a recorder job once the response is sent. None outside a request.
pending_organizations: ContextVar[set[int] | None] = ContextVar(
    "contractgql_audit_pending", default=None
)

# Columns that every change touches or that no GraphQL field shows.
IGNORED_COLUMNS = frozenset(
    {
        "id",
        "organization_id",
        "created_at",
        "updated_at",
        "version",
        "created_by_id",
        "updated_by_id",
        "password_hash",
        "token_generation",
        "last_login_at",
        # Bookkeeping of the reminder scans, not a change anyone made.
        "scanned_version",
        "next_scan_on",
    }
)
# Contract columns that GraphQL shows under another name or as one value.
CONTRACT_COLUMNS = frozenset(
    {
        "amount_minor",
        "vat_rate_bp",
        "indexation_bp",
        "notice_count",
        "notice_unit",
        "renewal_term_count",
        "renewal_term_unit",
    }
)
BASIS_POINTS = Decimal(100)


def snapshot(record: Model, **extra: Any) -> dict[str, Any]:
    """Return the record's audited values as JSON values keyed by GraphQL field name.

    Foreign keys become global ids under the relation's name, so `client_id` is
    stored as `client`. `extra` adds values that are not columns, such as links.
    """
    return snapshot_of_columns(type(record), _Attributes(record), **extra)


def snapshot_of_columns(
    model: type[Model], columns: Mapping[str, Any], **extra: Any
) -> dict[str, Any]:
    """Return what snapshot() returns for a `model` record with these column values.

    `columns` maps field names such as `client_id` to values; a missing column
    counts as None. Bulk writers use it to audit rows they insert without
    building model instances.
    """
    plan = _snapshot_plan(model)
    try:
        plain = plan.plain_values(columns)
    except KeyError:
        plain = tuple(columns.get(name) for name in plan.plain_names)
    values = dict(zip(plan.plain_keys, plain, strict=True))
    for key, value in values.items():
        # Most values need no conversion; bulk imports take this path a lot.
        if type(value) not in _JSON_TYPES:
            values[key] = (
                value.isoformat() if type(value) is date else _json_value(value)
            )
    for name, key, related in plan.related:
        value = columns.get(name)
        values[key] = None if value is None else _global_id(related, value)
    if issubclass(model, Contract):
        values.update(_contract_values(columns))
    values.update({_camel(key): _json_value(value) for key, value in extra.items()})
    return values


class _Attributes(Mapping[str, Any]):
    """A record's attributes as a read-only mapping, for snapshot_of_columns()."""

    def __init__(self, record: Model) -> None:
        self.record = record

    def __getitem__(self, name: str) -> Any:
        return getattr(self.record, name)

    def get(self, name: str, default: Any = None) -> Any:
        return getattr(self.record, name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.record._meta.db_fields)

    def __len__(self) -> int:
        return len(self.record._meta.db_fields)


@dataclass(frozen=True)
class _SnapshotPlan:
    """The audited columns of a model, split for snapshot_of_columns()."""

    plain_names: tuple[str, ...]
    plain_keys: tuple[str, ...]
    # Takes the plain columns' values out of a mapping in one call.
    plain_values: Callable[[Mapping[str, Any]], tuple[Any, ...]]
    # (column, audited key, related model name) of each foreign key.
    related: tuple[tuple[str, str, str], ...]


@functools.cache
def _snapshot_plan(model: type[Model]) -> _SnapshotPlan:
    columns = _audited_columns(model)
    plain = [(name, key) for name, key, related in columns if related is None]
    names = tuple(name for name, _ in plain)
    getter = operator.itemgetter(*names)
    return _SnapshotPlan(
        plain_names=names,
        plain_keys=tuple(key for _, key in plain),
        # itemgetter of one name returns the value, not a 1-tuple.
        plain_values=getter if len(names) > 1 else lambda m: (getter(m),),
        related=tuple(
            (name, key, related) for name, key, related in columns if related
        ),
    )


@functools.cache
def _audited_columns(model: type[Model]) -> tuple[tuple[str, str, str | None], ...]:
    """Return (column, audited key, related model name or None) per audited column.

    Computed once per model because bulk imports take thousands of snapshots.
    """
    meta = model._meta
    columns: list[tuple[str, str, str | None]] = []
    for name in meta.db_fields:
        if name in IGNORED_COLUMNS:
            continue
        if issubclass(model, Contract) and name in CONTRACT_COLUMNS:
            continue
        relation = name.removesuffix("_id")
        field = meta.fields_map.get(relation)
        if name.endswith("_id") and isinstance(field, ForeignKeyFieldInstance):
            columns.append((name, _camel(relation), field.related_model.__name__))
        else:
            columns.append((name, _camel(name), None))
    return tuple(columns)


# The audited keys of the contract columns that GraphQL shows as one value, in
# the order of _contract_value_list().
_CONTRACT_KEYS = ("amount", "vatRate", "indexation", "noticePeriod", "renewalTerm")


def _contract_values(columns: Mapping[str, Any]) -> dict[str, Any]:
    return dict(zip(_CONTRACT_KEYS, _contract_value_list(columns), strict=True))


def _contract_value_list(columns: Mapping[str, Any]) -> list[Any]:
    amount = None
    amount_minor = columns.get("amount_minor")
    if amount_minor is not None:
        amount = str(from_minor_units(amount_minor, columns["currency"]))
    return [
        amount,
        _percentage(columns.get("vat_rate_bp")),
        _percentage(columns.get("indexation_bp")),
        _period(columns.get("notice_count"), columns.get("notice_unit")),
        _period(columns.get("renewal_term_count"), columns.get("renewal_term_unit")),
    ]


def _percentage(basis_points: int | None) -> str | None:
    if basis_points is None:
        return None
    return str(Decimal(basis_points) / BASIS_POINTS)


@functools.lru_cache(maxsize=1024)
def _period(count: int | None, unit: Any) -> str | None:
    if count is None or unit is None:
        return None
    return f"{count} {_json_value(unit)}"


# Types whose values are JSON values already. Enums that subclass str are not
# among them, because the check compares exact types.
_JSON_TYPES = frozenset({str, int, bool, float, type(None)})


def _json_value(value: Any) -> Any:
    if type(value) in _JSON_TYPES:
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _json_value(item) for key, item in value.items()}
    return value


# Imports refer to a few clients, types and users many times.
_global_id = functools.lru_cache(maxsize=8192)(encode_id)


@functools.lru_cache(maxsize=1024)
def _camel(name: str) -> str:
    return re.sub(r"_([a-z0-9])", lambda match: match.group(1).upper(), name)


def diff(
    before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Return one {"field", "old", "new"} object per field whose value changed."""
    if before is None and after is not None:
        # A created record: every field that has a value changed from null. Bulk
        # imports take this path for every row, so it skips the general merge.
        return [
            {"field": field, "old": None, "new": after[field]}
            for field in sorted(after)
            if after[field] is not None
        ]
    old = before or {}
    new = after or {}
    changes = []
    for field in sorted(set(old) | set(new)):
        if old.get(field) != new.get(field):
            changes.append(
                {"field": field, "old": old.get(field), "new": new.get(field)}
            )
    return changes


# The key of a batch event's changes: one outbox row that represents many
# created records, which the recorder appends as one audit entry each.
BATCH_KEY = "batch"


def creation_batch(snapshots: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    """Return the changes of one outbox event that creates many records.

    `snapshots` pairs each new record's id with its snapshot(). The event contains
    the field names once and one list of values per record, which is far smaller
    than one diff per record. batch_entries() turns it back into those diffs.
    """
    fields = sorted(set().union(*(values.keys() for _, values in snapshots)))
    return {
        BATCH_KEY: {
            "fields": fields,
            "records": [
                [entity_id, *map(values.get, fields)] for entity_id, values in snapshots
            ],
        }
    }


def creation_batch_json(
    model: type[Model],
    records: Sequence[tuple[int, Mapping[str, Any], Mapping[str, Any]]],
) -> str:
    """Return the JSON text of creation_batch() of records given as columns.

    Each record is (id, columns, extra) as snapshot_of_columns() takes them, and
    the text decodes to creation_batch() of those snapshots. Bulk imports audit
    thousands of new records per batch, for which building a snapshot per record
    took longer than storing the records. Here orjson converts the dates,
    datetimes and enums of the columns as snapshot() does, and _json_value()
    converts any other value that is not a JSON value.
    """
    plan = _snapshot_plan(model)
    contract = issubclass(model, Contract)
    # Keys in the order in which each record's values are listed below; a key of
    # `extra` replaces a column's key, as values.update() does in snapshots.
    extra_names = sorted({name for _, _, extra in records for name in extra})
    listed = [
        *plan.plain_keys,
        *(key for _, key, _ in plan.related),
        *(_CONTRACT_KEYS if contract else ()),
        *map(_camel, extra_names),
    ]
    position = {key: index for index, key in enumerate(listed)}
    fields = sorted(position)
    in_field_order = operator.itemgetter(*(position[field] for field in fields))
    batch = []
    for entity_id, columns, extra in records:
        try:
            values = list(plan.plain_values(columns))
        except KeyError:
            values = [columns.get(name) for name in plan.plain_names]
        for name, _, related in plan.related:
            value = columns.get(name)
            values.append(None if value is None else _global_id(related, value))
        if contract:
            values += _contract_value_list(columns)
        values += [_json_value(extra.get(name)) for name in extra_names]
        ordered = in_field_order(values)
        batch.append([entity_id, *(ordered if len(fields) > 1 else (ordered,))])
    changes = {BATCH_KEY: {"fields": fields, "records": batch}}
    return orjson.dumps(changes, default=_json_value).decode()


def batch_entries(changes: Any) -> list[tuple[int, list[dict[str, Any]]]] | None:
    """Return (entity id, diff) per record of a batch event, or None for others.

    Each diff equals diff(None, snapshot) of that record: fields without a value
    are left out.
    """
    if not isinstance(changes, dict) or BATCH_KEY not in changes:
        return None
    batch = changes[BATCH_KEY]
    fields = batch["fields"]
    return [
        (
            record[0],
            [
                {"field": field, "old": None, "new": value}
                for field, value in zip(fields, record[1:], strict=True)
                if value is not None
            ],
        )
        for record in batch["records"]
    ]


async def record_change(
    viewer: Viewer,
    action: str,
    entity: Model,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditOutbox | None:
    """Insert an outbox event for the viewer's change of `entity`.

    Call it inside the transaction that writes the change. `before` is None for a
    created record. An update that changed nothing records no event, and then it
    returns None.
    """
    return await record_event(
        viewer.organization_id,
        viewer.user_id,
        action,
        type(entity).__name__,
        entity.pk,
        before,
        after,
    )


async def record_event(
    organization_id: int,
    actor_id: int | None,
    action: str,
    entity_type: str,
    entity_id: int,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditOutbox | None:
    """Insert an outbox event, for writers without a viewer such as the scans.

    `actor_id` is None for changes that the system makes by itself.
    """
    changes = diff(before, after)
    if before is not None and not changes:
        return None
    event = await AuditOutbox.create(
        organization_id=organization_id,
        actor_id=actor_id,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        changes=changes,
        request_id=current_request_id.get(),
        created_at=datetime.now(UTC),
    )
    mark_pending(organization_id)
    return event


def mark_pending(organization_id: int) -> None:
    """Add the organization to those whose outbox got rows in the current request."""
    pending = pending_organizations.get()
    if pending is not None:
        pending.add(organization_id)
