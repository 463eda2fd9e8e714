"""Time and material entries on projects, checked against the caps of their contract.

An entry names a project and the contract that covers it. That contract must be
linked to the project, signed, not archived, and in force on the entry's date.
An entry that would take a cap past its limit is rejected, unless the request
requests approval (the entry is stored as pending and does not count until a
role with 'time_entry.overrun:approve' approves it) or is made by such a role
with `overrun: APPROVE`.

Each write locks the contract's row first (SELECT ... FOR UPDATE on PostgreSQL,
the database's write lock on SQLite) and only then sums the consumption, so two
concurrent entries cannot both fit into the same remaining hours.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from tortoise.expressions import Subquery
from tortoise.transactions import in_transaction

from contractgql.audit import record_change
from contractgql.domain.budget import reaches_threshold, window_of
from contractgql.domain.money import MoneyError, from_minor_units, to_minor_units
from contractgql.errors import NotFound, PermissionDenied
from contractgql.ids import encode_id
from contractgql.models import (
    CapUnit,
    Contract,
    ContractCap,
    ContractStage,
    EntryKind,
    EntryStatus,
    Notification,
    Project,
    ProjectMember,
    TimeEntry,
    User,
)
from contractgql.security.fields import require_writable
from contractgql.security.records import visible_contracts
from contractgql.security.viewer import Viewer
from contractgql.services.caps import (
    CapUsage,
    consumed,
    hours_value,
    parse_hours,
    warning_percent_of,
)
from contractgql.services.validation import Validator
from contractgql.services.versions import camel_case, check_version, claim_version

ENTRY_WRITE = "time_entry:write"
OWN_PROJECT_ENTRY_WRITE = "time_entry.own_project:write"
OVERRUN_APPROVE = "time_entry.overrun:approve"
MAX_HOURS_PER_ENTRY = Decimal(24)
MAX_DESCRIPTION_LENGTH = 2000
NOTIFICATION_KIND = "cap_warning"
# Input fields whose change can change what an entry consumes.
QUANTITY_FIELDS = frozenset(
    {"contract_id", "date", "hours", "amount", "currency", "billable"}
)


class OverrunAction(enum.Enum):
    """The handling of an entry that would take a cap past its limit."""

    REJECT = "reject"
    REQUEST_APPROVAL = "request_approval"
    APPROVE = "approve"


@dataclass
class EntryResult:
    """A written entry and the caps that reached their warning threshold with it."""

    entry: TimeEntry
    warnings: list[CapUsage] = field(default_factory=list)


@dataclass(frozen=True)
class _CapCheck:
    usage: CapUsage
    # The entry's quantity that counts against the cap, in hundredths of an hour
    # or minor units.
    added: int

    @property
    def exceeded(self) -> bool:
        return self.usage.used + self.added > self.usage.limit


# --- Permissions -----------------------------------------------------------------


async def _require_entry_write(
    viewer: Viewer, project_id: int, person_id: int, action: str
) -> None:
    """Raise PermissionDenied unless the viewer may write this person's entry.

    Roles with 'time_entry:write' write anyone's entries. Roles with only
    'time_entry.own_project:write' write their own entries on projects they are
    members of.
    """
    if viewer.may(ENTRY_WRITE):
        return
    if not viewer.may(OWN_PROJECT_ENTRY_WRITE):
        viewer.require(ENTRY_WRITE, action)
    if person_id != viewer.user_id:
        raise PermissionDenied(
            f"You may {action} only for yourself: your roles have "
            f"{OWN_PROJECT_ENTRY_WRITE!r} but not {ENTRY_WRITE!r}. Leave personId "
            "out, or ask a project manager to record it."
        )
    member = await ProjectMember.filter(
        project_id=project_id, user_id=viewer.user_id
    ).exists()
    if not member:
        raise PermissionDenied(
            f"You may {action} only on projects you are a member of, and you are "
            f"not a member of project {encode_id('Project', project_id)!r}. Ask an "
            "administrator to add you to the project."
        )


def _require_overrun_approval(viewer: Viewer) -> None:
    viewer.require(OVERRUN_APPROVE, "approve an entry beyond a contract's cap")


# --- Validation ------------------------------------------------------------------


async def _validated_columns(
    viewer: Viewer, values: dict[str, Any], validator: Validator
) -> dict[str, Any]:
    """Return the columns of an entry from complete input values, or add errors.

    `values` has every field of the entry, the stored ones merged in for an update.
    """
    columns: dict[str, Any] = {
        "project_id": values["project_id"],
        "contract_id": values["contract_id"],
        "person_id": values["person_id"],
        "entry_date": values["date"],
        "billable": bool(values.get("billable", True)),
    }
    validator.calendar_date(values, "date")
    validator.text(
        values, "description", max_length=MAX_DESCRIPTION_LENGTH, required=True
    )
    columns["description"] = values.get("description")
    _quantity_columns(values, validator, columns)

    project = await Project.filter(
        id=values["project_id"], organization_id=viewer.organization_id
    ).first()
    if project is None or project.archived_at is not None:
        validator.add(
            "project_id",
            "not_found",
            f"Project {encode_id('Project', values['project_id'])!r} was not found "
            "among the active projects of your organization: pick an existing "
            "project.",
        )
    person_found = await User.filter(
        id=values["person_id"], organization_id=viewer.organization_id, is_active=True
    ).exists()
    if not person_found:
        validator.add(
            "person_id",
            "not_found",
            f"User {encode_id('User', values['person_id'])!r} was not found among "
            "the active users of your organization: pick an existing, active user.",
        )
    if project is not None and not validator.has_error("date"):
        await _check_contract(viewer, project, values, validator)
    return columns


def _quantity_columns(
    values: dict[str, Any], validator: Validator, columns: dict[str, Any]
) -> None:
    hours: str | None = values.get("hours")
    amount: str | None = values.get("amount")

    if (hours is None) == (amount is None):
        validator.add(
            "hours",
            "required",
            "Give either hours (for time) or amount (for material), and not both.",
        )
        return
    if hours is not None:
        columns["kind"] = EntryKind.HOURS
        columns["hours_hundredths"] = parse_hours(
            validator, "hours", hours, MAX_HOURS_PER_ENTRY
        )
        columns["amount_minor"] = None
        columns["currency"] = None
        return

    assert amount is not None
    columns["kind"] = EntryKind.MATERIAL
    columns["hours_hundredths"] = None
    currency = (values.get("currency") or "").strip().upper()
    if not currency:
        validator.add(
            "currency",
            "required",
            "A material entry needs a currency: give an ISO 4217 code such as 'EUR'.",
        )
        return

    try:
        columns["amount_minor"] = to_minor_units(amount.strip(), currency)
    except MoneyError as error:
        field_name = "currency" if error.code == "unknown_currency" else "amount"
        validator.add(field_name, error.code, error.message)
        return
    if columns["amount_minor"] == 0:
        validator.add("amount", "out_of_range", "The amount is 0: enter more than 0.")
    columns["currency"] = currency


async def _check_contract(
    viewer: Viewer, project: Project, values: dict[str, Any], validator: Validator
) -> None:
    """Add an error unless the contract covers the project on the entry's date."""
    contract_id = values["contract_id"]
    global_id = encode_id("Contract", contract_id)
    contract = await visible_contracts(viewer).filter(id=contract_id).first()
    if contract is None:
        validator.add(
            "contract_id",
            "not_found",
            f"Contract {global_id!r} was not found in your organization: check the id.",
        )
        return
    label = f"Contract {contract.name!r} ({global_id})"
    linked = await contract.projects.filter(id=project.id).exists()
    day: date = values["date"]
    if not linked:
        validator.add(
            "contract_id",
            "not_linked",
            f"{label} is not linked to project {project.name!r}: link the project "
            "to the contract with changeContractLinks, or pick a contract of this "
            "project.",
        )
    elif contract.archived_at is not None or contract.stage is not ContractStage.SIGNED:
        state = "archived" if contract.archived_at else contract.stage.value
        validator.add(
            "contract_id",
            "not_in_force",
            f"{label} is {state}, so it covers no work: sign the contract first, "
            "or pick a signed contract of this project.",
        )
    elif day < contract.start_date or (
        contract.end_date is not None and day > contract.end_date
    ):
        end = contract.end_date.isoformat() if contract.end_date else "open-ended"
        validator.add(
            "date",
            "not_in_force",
            f"{label} is in force from {contract.start_date} to {end}, and the entry "
            f"date {day} is outside that term: correct the date, or pick the "
            "contract that covers it.",
        )


# --- Caps ------------------------------------------------------------------------


def _added(cap: ContractCap, columns: dict[str, Any]) -> int:
    """Return what an entry with `columns` adds to `cap` once it is approved."""
    if not columns["billable"]:
        return 0
    if cap.unit is CapUnit.HOURS:
        if columns["kind"] is EntryKind.HOURS:
            return int(columns["hours_hundredths"])
        return 0
    if columns["kind"] is EntryKind.MATERIAL and columns["currency"] == cap.currency:
        return int(columns["amount_minor"])
    return 0


async def _check_caps(
    contract: Contract, columns: dict[str, Any], exclude_entry_id: int | None
) -> list[_CapCheck]:
    """Return the caps that the entry counts against, with their use without it."""
    checks = []
    caps = await ContractCap.filter(contract_id=contract.id).order_by("id")
    for cap in caps:
        added = _added(cap, columns)
        if added == 0:
            continue
        window = window_of(
            cap.period, columns["entry_date"], contract.start_date, contract.end_date
        )
        usage = CapUsage(
            cap=cap,
            window=window,
            used=await consumed(cap, window, exclude_entry_id=exclude_entry_id),
            pending=0,
            warning_percent=await warning_percent_of(cap),
        )
        checks.append(_CapCheck(usage, added))
    return checks


def _still_within_before(check: _CapCheck, before: TimeEntry | None) -> bool:
    """Return whether an update adds no more to the cap's period than before.

    Correcting the description of an approved entry in a period that is already
    past its cap must not need a new approval.
    """
    if before is None or before.status is not EntryStatus.APPROVED:
        return False
    old = {
        "billable": before.billable,
        "kind": before.kind,
        "hours_hundredths": before.hours_hundredths,
        "amount_minor": before.amount_minor,
        "currency": before.currency,
    }
    cap = check.usage.cap
    return (
        before.contract_id == cap.contract_id
        and check.usage.window.contains(before.entry_date)
        and check.added <= _added(cap, old)
    )


def _status_for(
    viewer: Viewer,
    checks: list[_CapCheck],
    overrun: OverrunAction,
    before: TimeEntry | None,
) -> tuple[EntryStatus, bool]:
    """Return the entry's status and whether the viewer approves an overrun.

    Raises ValidationError with the code CAP_EXCEEDED for an entry beyond a cap
    that the request neither approves nor sends for approval.
    """
    exceeded = [
        check
        for check in checks
        if check.exceeded and not _still_within_before(check, before)
    ]
    if not exceeded:
        return EntryStatus.APPROVED, False
    if overrun is OverrunAction.APPROVE:
        _require_overrun_approval(viewer)
        return EntryStatus.APPROVED, True
    if overrun is OverrunAction.REQUEST_APPROVAL:
        return EntryStatus.PENDING_APPROVAL, False
    validator = Validator()
    for check in exceeded:
        field_name = "hours" if check.usage.cap.unit is CapUnit.HOURS else "amount"
        validator.add(field_name, "cap_exceeded", _exceeded_message(check))
    validator.raise_if_any()
    raise AssertionError("unreachable: the validator has errors")


def _exceeded_message(check: _CapCheck) -> str:
    usage = check.usage
    cap = usage.cap
    unit = "hours" if cap.unit is CapUnit.HOURS else cap.currency
    return (
        f"The entry adds {usage.quantity(check.added)} {unit} to the {cap.unit.value} "
        f"cap of {usage.quantity(usage.limit)} {unit} per {cap.period.value} for "
        f"{usage.window.label}, of which {usage.quantity(usage.used)} are used and "
        f"{usage.quantity(usage.remaining)} remain. Reduce the entry, send overrun: "
        "REQUEST_APPROVAL to store it for approval, or ask a finance or management "
        "user to approve the overrun."
    )


async def _warn(
    viewer: Viewer, contract: Contract, checks: list[_CapCheck]
) -> list[CapUsage]:
    """Return the caps at or past their threshold, and notify the contract's owner.

    The owner gets one notification per cap, period and threshold. Messages of
    amount caps carry no amount or percentage, because the owner may not be
    allowed to read amounts.
    """
    warnings = []
    for check in checks:
        before = check.usage
        after = CapUsage(
            cap=before.cap,
            window=before.window,
            used=before.used + check.added,
            pending=before.pending,
            warning_percent=before.warning_percent,
        )
        if not reaches_threshold(after.used, after.limit, after.warning_percent):
            continue
        warnings.append(after)
        await _notify_owner(contract, after)
    return warnings


async def _notify_owner(contract: Contract, usage: CapUsage) -> None:
    if contract.owner_id is None:
        return
    owner_active = await User.filter(
        id=contract.owner_id, is_active=True, organization_id=contract.organization_id
    ).exists()
    if not owner_active:
        return
    source = f"cap:{usage.cap.id}:{usage.window.start}:{usage.warning_percent}"
    # The caller holds the contract's lock, so no concurrent entry of this
    # contract can create the same notification between the check and the insert.
    warned = await Notification.filter(
        user_id=contract.owner_id, source=source
    ).exists()
    if warned:
        return
    title, body = warning_message(contract, usage)
    await Notification.create(
        organization_id=contract.organization_id,
        user_id=contract.owner_id,
        contract_id=contract.id,
        kind=NOTIFICATION_KIND,
        source=source,
        title=title,
        body=body,
    )


def warning_message(contract: Contract, usage: CapUsage) -> tuple[str, str]:
    """Return the title and body of a cap warning, without any amount."""
    cap = usage.cap
    label = f"{contract.name} ({contract.number})" if contract.number else contract.name
    title = f"Cap warning: {label}"[:300]
    if cap.unit is CapUnit.HOURS:
        body = (
            f"The hours cap of contract {label!r} per {cap.period.value} has reached "
            f"{usage.percentage}% in {usage.window.label}: "
            f"{usage.quantity(usage.used)} of {usage.quantity(usage.limit)} hours "
            f"are used (warning from {usage.warning_percent}%)."
        )
    else:
        body = (
            f"The material budget of contract {label!r} per {cap.period.value} "
            f"has reached its warning threshold of {usage.warning_percent}% in "
            f"{usage.window.label}."
        )
    return title, body


# --- Writes ----------------------------------------------------------------------


async def _lock_contracts(*contract_ids: int) -> None:
    """Lock the contracts' rows until the transaction ends, in id order.

    PostgreSQL takes row locks with SELECT ... FOR UPDATE. SQLite has no row
    locks: Tortoise sends a transaction's statements over its one connection, so
    concurrent transactions in one process run one after the other.
    """
    for contract_id in sorted(set(contract_ids)):
        await Contract.filter(id=contract_id).select_for_update().first()


async def create_entry(
    viewer: Viewer, values: dict[str, Any], overrun: OverrunAction
) -> EntryResult:
    """Record a time or material entry and check it against the contract's caps."""
    values = {"person_id": viewer.user_id, "billable": True, **values}
    if values["person_id"] is None:
        values["person_id"] = viewer.user_id
    await _require_entry_write(
        viewer, values["project_id"], values["person_id"], "record entries"
    )
    if values.get("amount") is not None:
        require_writable(viewer, "TimeEntry", ["amount"])
    validator = Validator()
    columns = await _validated_columns(viewer, values, validator)
    validator.raise_if_any()

    async with in_transaction():
        await _lock_contracts(columns["contract_id"])
        contract = await Contract.get(id=columns["contract_id"])
        checks = await _check_caps(contract, columns, None)
        status, approving = _status_for(viewer, checks, overrun, None)
        entry = await TimeEntry.create(
            organization_id=viewer.organization_id,
            updated_by_id=viewer.user_id,
            status=status,
            approved_by_id=viewer.user_id if approving else None,
            approved_at=datetime.now(UTC) if approving else None,
            **columns,
        )
        await record_change(
            viewer, "time_entry.create", entry, None, entry_snapshot(entry)
        )
        warnings = []
        if status is EntryStatus.APPROVED:
            warnings = await _warn(viewer, contract, checks)
    return EntryResult(entry, warnings)


async def get_entry(viewer: Viewer, entry_id: int) -> TimeEntry:
    """Return a live entry of a contract the viewer may see, or raise NotFound."""
    entry = await TimeEntry.filter(
        id=entry_id,
        organization_id=viewer.organization_id,
        archived_at=None,
        contract_id__in=Subquery(visible_contracts(viewer).values("id")),
    ).first()
    if entry is None:
        raise NotFound(
            f"Time entry {encode_id('TimeEntry', entry_id)!r} was not found in your "
            "organization: check the id, or whether it was deleted."
        )
    return entry


def _stored_values(entry: TimeEntry) -> dict[str, Any]:
    """Return an entry's stored values in the shape of the input."""
    values: dict[str, Any] = {
        "project_id": entry.project_id,
        "contract_id": entry.contract_id,
        "person_id": entry.person_id,
        "date": entry.entry_date,
        "description": entry.description,
        "billable": entry.billable,
        "hours": None,
        "amount": None,
        "currency": entry.currency,
    }
    if entry.hours_hundredths is not None:
        values["hours"] = str(hours_value(entry.hours_hundredths))
    if entry.amount_minor is not None and entry.currency is not None:
        values["amount"] = str(from_minor_units(entry.amount_minor, entry.currency))
    return values


async def update_entry(
    viewer: Viewer,
    entry_id: int,
    values: dict[str, Any],
    overrun: OverrunAction,
    expected_version: int | None = None,
) -> EntryResult:
    """Correct an entry. Fields left out keep their value.

    Giving hours turns a material entry into an hours entry, and giving an amount
    does the reverse. Raises Conflict, and changes nothing, when
    `expected_version` is given and is not the stored version.
    """
    entry = await get_entry(viewer, entry_id)
    await _require_entry_write(
        viewer, entry.project_id, entry.person_id, "correct entries"
    )
    validator = Validator()
    for name in ("project_id", "contract_id", "date", "description"):
        if name in values and values[name] is None:
            validator.add(
                name,
                "required",
                f"{camel_case(name)} cannot be null: leave it out to keep the "
                "stored value.",
            )
    validator.raise_if_any()
    values = {name: value for name, value in values.items() if value is not None}
    if values.get("hours") is not None:
        values = {**values, "amount": None, "currency": None}
    if values.get("amount") is not None:
        values = {**values, "hours": None}
    merged = {**_stored_values(entry), **values}
    if merged["person_id"] is None:
        merged["person_id"] = entry.person_id
    await _require_entry_write(
        viewer, merged["project_id"], merged["person_id"], "correct entries"
    )
    if entry.amount_minor is not None or merged.get("amount") is not None:
        require_writable(viewer, "TimeEntry", ["amount"])
    columns = await _validated_columns(viewer, merged, validator)

    async def changed(stored: TimeEntry) -> list[str]:
        old = entry_snapshot(stored)
        new = {**old, **_column_snapshot(columns)}
        return sorted(name for name in new if new[name] != old[name])

    validator.raise_if_any()
    await check_version(entry, "Time entry", expected_version, changed)

    async with in_transaction():
        await _lock_contracts(entry.contract_id, columns["contract_id"])
        await claim_version(entry, "Time entry", expected_version, changed)
        stored = await TimeEntry.get(id=entry.id)
        before = entry_snapshot(stored)
        contract = await Contract.get(id=columns["contract_id"])
        checks = await _check_caps(contract, columns, stored.id)
        recheck = bool(QUANTITY_FIELDS & values.keys())
        status = stored.status
        approving = False
        if stored.status is EntryStatus.PENDING_APPROVAL:
            # Its approval was requested already, so a correction that still
            # exceeds the cap keeps it waiting instead of failing.
            if overrun is OverrunAction.REJECT:
                overrun = OverrunAction.REQUEST_APPROVAL
            status, approving = _status_for(viewer, checks, overrun, stored)
        elif recheck:
            status, approving = _status_for(viewer, checks, overrun, stored)
        for name, value in columns.items():
            setattr(stored, name, value)
        stored.status = status
        if approving:
            stored.approved_by_id = viewer.user_id
            stored.approved_at = datetime.now(UTC)
        elif status is EntryStatus.PENDING_APPROVAL:
            stored.approved_by_id = None
            stored.approved_at = None
        stored.updated_by_id = viewer.user_id
        await stored.save()
        await record_change(
            viewer, "time_entry.update", stored, before, entry_snapshot(stored)
        )
        warnings = []
        if status is EntryStatus.APPROVED and recheck:
            warnings = await _warn(viewer, contract, checks)
    return EntryResult(stored, warnings)


async def approve_entry(
    viewer: Viewer, entry_id: int, expected_version: int | None = None
) -> EntryResult:
    """Approve an entry that waits for approval, so that it counts past the cap."""
    _require_overrun_approval(viewer)
    entry = await get_entry(viewer, entry_id)
    if entry.amount_minor is not None:
        require_writable(viewer, "TimeEntry", ["amount"])

    async def changed(stored: TimeEntry) -> list[str]:
        return [] if stored.status is EntryStatus.APPROVED else ["status"]

    await check_version(entry, "Time entry", expected_version, changed)
    if entry.status is not EntryStatus.PENDING_APPROVAL:
        validator = Validator()
        validator.add(
            "id",
            "not_pending",
            f"Time entry {encode_id('TimeEntry', entry.id)!r} is already approved: "
            "only entries that wait for approval can be approved.",
        )
        validator.raise_if_any()

    async with in_transaction():
        await _lock_contracts(entry.contract_id)
        await claim_version(entry, "Time entry", expected_version, changed)
        stored = await TimeEntry.get(id=entry.id)
        before = entry_snapshot(stored)
        contract = await Contract.get(id=stored.contract_id)
        checks = await _check_caps(contract, _entry_columns(stored), stored.id)
        stored.status = EntryStatus.APPROVED
        stored.approved_by_id = viewer.user_id
        stored.approved_at = datetime.now(UTC)
        stored.updated_by_id = viewer.user_id
        await stored.save()
        await record_change(
            viewer, "time_entry.approve", stored, before, entry_snapshot(stored)
        )
        warnings = await _warn(viewer, contract, checks)
    return EntryResult(stored, warnings)


async def delete_entry(
    viewer: Viewer, entry_id: int, expected_version: int | None = None
) -> TimeEntry:
    """Delete an entry: it stays stored for the audit trail but counts no more."""
    entry = await get_entry(viewer, entry_id)
    await _require_entry_write(
        viewer, entry.project_id, entry.person_id, "delete entries"
    )
    if entry.amount_minor is not None:
        require_writable(viewer, "TimeEntry", ["amount"])

    async def changed(stored: TimeEntry) -> list[str]:
        return []

    await check_version(entry, "Time entry", expected_version, changed)
    async with in_transaction():
        await claim_version(entry, "Time entry", expected_version, changed)
        stored = await TimeEntry.get(id=entry.id)
        before = entry_snapshot(stored)
        stored.archived_at = datetime.now(UTC)
        stored.updated_by_id = viewer.user_id
        await stored.save()
        await record_change(viewer, "time_entry.delete", stored, before, None)
    return stored


def _entry_columns(entry: TimeEntry) -> dict[str, Any]:
    return {
        "billable": entry.billable,
        "kind": entry.kind,
        "hours_hundredths": entry.hours_hundredths,
        "amount_minor": entry.amount_minor,
        "currency": entry.currency,
        "entry_date": entry.entry_date,
    }


def _column_snapshot(columns: dict[str, Any]) -> dict[str, Any]:
    entry = TimeEntry(**columns)
    snapshot = entry_snapshot(entry)
    del snapshot["status"], snapshot["approvedBy"]
    return snapshot


def entry_snapshot(entry: TimeEntry) -> dict[str, Any]:
    """Return the audited values of an entry, keyed by GraphQL field name.

    The amount is under `amount`, the field that the policy protects, so the
    history hides it from roles that may not read amounts.
    """
    hours = amount = None
    if entry.hours_hundredths is not None:
        hours = str(hours_value(entry.hours_hundredths))
    if entry.amount_minor is not None and entry.currency is not None:
        amount = str(from_minor_units(entry.amount_minor, entry.currency))
    approved_by = entry.approved_by_id
    return {
        "project": encode_id("Project", entry.project_id),
        "contract": encode_id("Contract", entry.contract_id),
        "person": encode_id("User", entry.person_id),
        "date": entry.entry_date.isoformat(),
        "kind": entry.kind.name,
        "hours": hours,
        "amount": amount,
        "currency": entry.currency,
        "description": entry.description,
        "billable": entry.billable,
        "status": entry.status.name if entry.status else None,
        "approvedBy": None if approved_by is None else encode_id("User", approved_by),
    }
