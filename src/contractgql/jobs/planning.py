"""Planning of the scans, per contract and without I/O.

The scan reads a batch of contracts with the stored rows it needs, and these functions
decide which reminders are due, which pending ones are stale, who gets a workflow task
and who may be notified. Because they send no queries, a scan costs a few SQL
statements per batch.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from contractgql.domain.dates import Period, PeriodUnit, notice_deadline
from contractgql.domain.reminders import (
    ContractDates,
    PlannedReminder,
    current_term_start,
    effective_offsets,
    missed_notice,
    next_change,
    schedule,
)
from contractgql.security.policy import ROLES, Policy
from contractgql.security.records import CONFIDENTIAL_READ, CONTRACT_READ

# The reminders table's unique key without the contract: kind, anchor date and the
# offset's count and unit.
ReminderKey = tuple[str, date, int, str]

OWNER = "owner"
PERIOD_UNITS = frozenset(unit.value for unit in PeriodUnit)


class InvalidContract(ValueError):
    """A contract or contract type whose stored reminder settings cannot be used."""


@dataclass(frozen=True)
class ContractRow:
    """The columns of a contract that a scan reads, with its client's name."""

    id: int
    version: int
    name: str
    number: str | None
    client_id: int
    client_name: str
    owner_id: int | None
    contract_type_id: int | None
    confidential: bool
    start_date: date
    end_date: date | None
    notice_count: int | None
    notice_unit: str | None
    auto_renewal: bool
    notice_date: date | None
    reminder_offsets: Any
    renewal_term_count: int | None = None
    renewal_term_unit: str | None = None
    # The end of the first term, when the contract has renewed.
    first_end: date | None = None
    # What the last scan recorded (see Contract.scanned_version).
    scanned_version: int = 0
    next_scan_on: date | None = None

    @property
    def label(self) -> str:
        """Return the number and the name, such as 'C-12 Hosting'."""
        return f"{self.number} {self.name}" if self.number else self.name


@dataclass(frozen=True)
class WorkflowStep:
    """The first step of a contract type's renewal workflow."""

    title: str
    # "owner", or a role whose first active user gets the task.
    assignee: str
    # Days from the reminder's due date to the task's due date.
    days_after: int


@dataclass(frozen=True)
class ContractTypeRules:
    offsets: tuple[Period, ...] | None
    first_step: WorkflowStep | None


@dataclass
class ContractPlan:
    """The reminders one contract should have as of a scan's date."""

    contract: ContractRow
    # Every reminder of the current schedule, due or not, by key.
    planned: dict[ReminderKey, PlannedReminder]
    first_step: WorkflowStep | None
    # The first later day on which a reminder not due today becomes due, if any.
    next_scan_on: date | None = None

    def due(self, today: date) -> list[PlannedReminder]:
        return sorted(r for r in self.planned.values() if r.due_date <= today)


def text(value: object) -> str:
    """Return an enum member's value, or the value as a string.

    Tortoise returns enum members for CharEnumField columns, and the raw SQL of the
    scans takes plain strings.
    """
    return str(value.value) if isinstance(value, enum.Enum) else str(value)


def key_of(planned: PlannedReminder) -> ReminderKey:
    kind, anchor_date, count, unit = planned.key
    return (kind, anchor_date, count, unit)


def parse_offsets(raw: Any, owner: str) -> tuple[Period, ...] | None:
    """Read stored offsets such as [{"count": 3, "unit": "months"}]; None if unset.

    Raise InvalidContract naming `owner` (the contract or type) on any other shape.
    """
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise InvalidContract(f"{owner} has reminder offsets {raw!r}, not a list")
    offsets = []
    for item in raw:
        count = item.get("count") if isinstance(item, dict) else None
        unit = item.get("unit") if isinstance(item, dict) else None
        if (
            not isinstance(count, int)
            or isinstance(count, bool)
            or count < 0
            or unit not in PERIOD_UNITS
        ):
            raise InvalidContract(
                f"{owner} has the reminder offset {item!r}: expected "
                '{"count": <whole number of 0 or more>, "unit": "days", "weeks" or '
                '"months"}'
            )
        offsets.append(Period(count, PeriodUnit(unit)))
    return tuple(offsets)


def parse_first_step(raw: Any, owner: str) -> WorkflowStep | None:
    """Read the first step of a stored renewal workflow; None when it has no steps."""
    if raw is None or raw == []:
        return None
    if not isinstance(raw, list) or not isinstance(raw[0], dict):
        raise InvalidContract(f"{owner} has the renewal workflow {raw!r}, not a list")
    step = raw[0]
    title = step.get("title")
    assignee = step.get("assignee", OWNER)
    days_after = step.get("days_after", 0)
    if not isinstance(title, str) or not title.strip():
        raise InvalidContract(f"{owner} has a first workflow step without a title")
    if assignee != OWNER and assignee not in ROLES:
        raise InvalidContract(
            f"{owner} assigns its first workflow step to {assignee!r}: use 'owner' "
            f"or one of the roles {', '.join(ROLES)}"
        )
    if not isinstance(days_after, int) or isinstance(days_after, bool):
        raise InvalidContract(
            f"{owner} has days_after={days_after!r} in its first workflow step: use "
            "a whole number of days"
        )
    if days_after < 0:
        raise InvalidContract(
            f"{owner} has days_after={days_after} in its first workflow step: use 0 "
            "or more days"
        )
    return WorkflowStep(title.strip()[:300], assignee, days_after)


def type_rules(type_id: int, offsets: Any, workflow: Any) -> ContractTypeRules:
    owner = f"Contract type {type_id}"
    return ContractTypeRules(
        parse_offsets(offsets, owner), parse_first_step(workflow, owner)
    )


def plan_contract(
    contract: ContractRow, rules: ContractTypeRules | None, today: date
) -> ContractPlan:
    """Return the contract's schedule as of `today`, with its missed-notice alert.

    The offsets are the contract's own, else its type's, else the defaults, and
    the notice deadline is computed from the end date and the notice period.
    """
    own = parse_offsets(contract.reminder_offsets, f"Contract {contract.id}")
    notice = None
    if contract.notice_count is not None and contract.notice_unit is not None:
        notice = Period(contract.notice_count, PeriodUnit(contract.notice_unit))
    renewal_term = None
    if contract.renewal_term_count and contract.renewal_term_unit:
        renewal_term = Period(
            contract.renewal_term_count, PeriodUnit(contract.renewal_term_unit)
        )
    # Whether a contract is long counts for its current term, not for the years
    # of renewals since its start.
    term_start = current_term_start(
        contract.start_date, contract.end_date, renewal_term, contract.first_end
    )
    offsets = effective_offsets(
        own,
        rules.offsets if rules else None,
        term_start,
        contract.end_date,
    )
    dates = ContractDates(
        start_date=contract.start_date,
        end_date=contract.end_date,
        notice_deadline=notice_deadline(contract.end_date, notice),
        has_notice_period=notice is not None,
        auto_renewal=contract.auto_renewal,
        notice_date=contract.notice_date,
        offsets=offsets,
    )
    planned = schedule(dates, today)
    alert = missed_notice(dates, today)
    if alert is not None:
        planned.append(alert)
    return ContractPlan(
        contract,
        {key_of(reminder): reminder for reminder in planned},
        rules.first_step if rules else None,
        next_change(dates, today),
    )


@dataclass(frozen=True)
class StoredReminder:
    id: int
    contract_id: int
    key: ReminderKey
    pending: bool
    cancelled: bool


@dataclass
class Changes:
    """The writes of a batch: reminders to cancel, restore and insert."""

    cancel: list[int] = field(default_factory=list)
    restore: list[int] = field(default_factory=list)
    insert: list[tuple[ContractPlan, PlannedReminder]] = field(default_factory=list)


def compare(
    plans: Iterable[ContractPlan], stored: Iterable[StoredReminder], today: date
) -> Changes:
    """Compare the schedules with the stored reminders of the same contracts.

    A pending reminder is stale when its anchor is today or later but the schedule
    has no reminder of its kind on that anchor date any more, because the dates or
    recorded notice changed. A changed list of offsets leaves the reminders of an
    unchanged anchor alone: they were due and have started the term's workflow.
    Reminders whose anchor has passed are history and stay as they are. A cancelled
    reminder that is due under the schedule again, such as after an end date was
    changed and changed back, becomes pending again. Due reminders that do not
    exist yet are inserted.
    """
    by_contract: dict[int, dict[ReminderKey, StoredReminder]] = {}
    for reminder in stored:
        by_contract.setdefault(reminder.contract_id, {})[reminder.key] = reminder

    changes = Changes()
    for plan in plans:
        existing = by_contract.get(plan.contract.id, {})
        anchors = {(kind, anchor_date) for kind, anchor_date, _, _ in plan.planned}
        for key, reminder in existing.items():
            anchor_date = key[1]
            if (
                reminder.pending
                and anchor_date >= today
                and (key[0], anchor_date) not in anchors
            ):
                changes.cancel.append(reminder.id)
        for due in plan.due(today):
            found = existing.get(key_of(due))
            if found is None:
                changes.insert.append((plan, due))
            elif found.cancelled:
                changes.restore.append(found.id)
    return changes


@dataclass(frozen=True)
class Directory:
    """The active people of an organization who may receive tasks and notifications.

    Service accounts are left out because no person reads their notifications.
    """

    # User id to the permissions of the user's roles, in id order.
    permissions: Mapping[int, frozenset[str]]
    # Role to the ids of its active users, lowest id first.
    by_role: Mapping[str, tuple[int, ...]]

    @classmethod
    def build(cls, users: Iterable[tuple[int, list[str]]], policy: Policy) -> Directory:
        permissions: dict[int, frozenset[str]] = {}
        by_role: dict[str, list[int]] = {}
        for user_id, roles in sorted(users):
            permissions[user_id] = policy.permissions_for(frozenset(roles))
            for role in roles:
                by_role.setdefault(role, []).append(user_id)
        return cls(permissions, {role: tuple(ids) for role, ids in by_role.items()})

    def is_active(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.permissions

    def needs_project_check(self, user_id: int) -> bool:
        """Return whether seeing normal contracts depends on project membership."""
        return CONTRACT_READ not in self.permissions.get(user_id, frozenset())


@dataclass(frozen=True)
class Audience:
    """The watchers and project members of a batch's contracts, who may see them."""

    watchers: Mapping[int, tuple[int, ...]]
    # (user id, client id) of project members, whose projects' clients they see.
    project_clients: frozenset[tuple[int, int]]


def may_see(
    directory: Directory, audience: Audience, user_id: int, contract: ContractRow
) -> bool:
    """Return whether the user may see the contract, by the record visibility rules.

    The owner and the watchers see it, roles with confidential read see everything,
    and for a normal contract so do roles with contract read and members of a
    project of its client.
    """
    if user_id == contract.owner_id or user_id in audience.watchers.get(
        contract.id, ()
    ):
        return True
    permissions = directory.permissions.get(user_id, frozenset())
    if CONFIDENTIAL_READ in permissions:
        return True
    if contract.confidential:
        return False
    if CONTRACT_READ in permissions:
        return True
    return (user_id, contract.client_id) in audience.project_clients


def choose_assignee(
    step: WorkflowStep,
    contract: ContractRow,
    directory: Directory,
    audience: Audience,
) -> int | None:
    """Return who gets the step's task, or None to leave it unassigned.

    "owner" means the contract's owner while that user is active. A role means its
    first active user, by id, who may see the contract, so that the task and its
    notification never reveal a contract to someone who may not see it.
    """
    if step.assignee == OWNER:
        return contract.owner_id if directory.is_active(contract.owner_id) else None
    for user_id in directory.by_role.get(step.assignee, ()):
        if may_see(directory, audience, user_id, contract):
            return user_id
    return None


def reminder_recipients(
    contract: ContractRow, directory: Directory, audience: Audience
) -> list[int]:
    """Return the active owner and watchers of the contract, without repeats."""
    candidates = [contract.owner_id, *audience.watchers.get(contract.id, ())]
    recipients: list[int] = []
    for user_id in candidates:
        if directory.is_active(user_id) and user_id not in recipients:
            assert user_id is not None
            recipients.append(user_id)
    return recipients


def task_due_date(reminder_due: date, step: WorkflowStep) -> date:
    return reminder_due + timedelta(days=step.days_after)
