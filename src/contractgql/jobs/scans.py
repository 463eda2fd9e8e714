"""Reminder scans: create every due reminder, task and notification exactly once.

A scan walks an organization's signed, non-archived contracts in batches by id and
compares each contract's reminder schedule, as of the organization's local date,
with the reminders stored. It inserts the due reminders that are missing, marked
late when their due date has passed, cancels pending reminders that the schedule no
longer contains, and for each reminder it inserted itself starts the first step of
the contract type's renewal workflow and notifies the people concerned.

It then records each contract's version and next scan date, the first day on which
one of its reminders becomes due (Contract.scanned_version and next_scan_on). Later
scans skip the contracts whose version is the recorded one and whose next scan date
has not come, so a daily scan reads only the contracts that changed or have
something due.

The unique keys of the reminders, tasks and notifications tables make this
idempotent, whatever the timing: every insert skips rows whose key exists, and a
scan creates tasks and notifications only for the reminders its own statement
inserted. Those inserts run in one transaction per batch, so a scan that dies part
way leaves either all of a batch's rows or none of them, and the next scan finishes
the work. Running scans twice, or on several workers at once, therefore creates
each row once.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q, Subquery
from tortoise.transactions import in_transaction

from contractgql import db
from contractgql.db import Statement
from contractgql.domain.dates import local_today
from contractgql.domain.reminders import PlannedReminder
from contractgql.jobs.inserts import insert_ignoring_conflicts
from contractgql.jobs.messages import reminder_message, task_message
from contractgql.jobs.planning import (
    Audience,
    ContractPlan,
    ContractRow,
    ContractTypeRules,
    Directory,
    InvalidContract,
    StoredReminder,
    choose_assignee,
    compare,
    plan_contract,
    reminder_recipients,
    task_due_date,
    text,
    type_rules,
)
from contractgql.models import (
    Contract,
    ContractStage,
    ContractType,
    ContractWatcher,
    Organization,
    ProjectMember,
    Reminder,
    ReminderStatus,
    Sensitivity,
    Task,
    TaskStatus,
    User,
)
from contractgql.security.policy import Policy

logger = logging.getLogger(__name__)

# Contracts per batch. Each batch costs two queries when nothing changed and about
# seven when it writes, and the scan keeps one batch of rows in memory.
BATCH_SIZE = 1000
# A scan analyzes the tables it writes after inserting more reminders than this and
# than the table held at its last ANALYZE.
ANALYZE_MIN_ROWS = 1000

RenewAndExpire = Callable[[int, date], Awaitable[object]]
# A due reminder that a batch has not found stored, with its contract's plan.
NewReminder = tuple[ContractPlan, PlannedReminder]


@dataclass
class ScanReport:
    """Counts of what scans read and changed."""

    organizations: int = 0
    contracts: int = 0
    reminders_created: int = 0
    # Reminders created after their due date, included in reminders_created.
    late: int = 0
    cancelled: int = 0
    # Cancelled reminders made pending again because they are due once more.
    restored: int = 0
    tasks_created: int = 0
    notifications_created: int = 0
    # Contracts left out because their stored reminder settings are invalid.
    skipped_contracts: int = 0
    failed_organizations: list[int] = field(default_factory=list)

    def add(self, other: ScanReport) -> None:
        for name in (f.name for f in dataclasses.fields(self)):
            if name == "failed_organizations":
                self.failed_organizations.extend(other.failed_organizations)
            else:
                setattr(self, name, getattr(self, name) + getattr(other, name))

    def summary(self) -> str:
        """Return the counts as one log line's worth of text."""
        line = (
            f"{self.organizations} organizations, {self.contracts} contracts, "
            f"{self.reminders_created} reminders created ({self.late} late), "
            f"{self.cancelled} cancelled, {self.restored} restored, "
            f"{self.tasks_created} tasks and {self.notifications_created} "
            "notifications created"
        )
        if self.skipped_contracts:
            line += f", {self.skipped_contracts} contracts skipped as invalid"
        if self.failed_organizations:
            failed = ", ".join(str(org) for org in self.failed_organizations)
            line += f", failed organizations: {failed}"
        return line


class ScanError(Exception):
    """Raised after a scan of every organization when some of them failed."""

    def __init__(self, report: ScanReport) -> None:
        failed = ", ".join(str(org) for org in report.failed_organizations)
        super().__init__(
            f"The scan failed for organizations {failed}, whose errors are logged "
            "above. The other organizations were scanned."
        )
        self.report = report


async def scan_all(
    now: datetime | None = None, *, policy: Policy | None = None, full: bool = False
) -> ScanReport:
    """Renew, expire and scan every organization, each as of its own local date, then
    send the daily e-mail digests that are due. With `full`, plan every signed
    contract again instead of only those not settled (see scan_organization).

    One organization's failure is logged and does not stop the others. Raise
    ScanError at the end when any organization failed, so callers can retry.
    """
    moment = now if now is not None else datetime.now(UTC)
    rules = policy if policy is not None else default_policy()
    renew = renewal_job()
    report = ScanReport()
    organizations = await Organization.all().order_by("id").values("id", "timezone")
    for organization in organizations:
        organization_id = organization["id"]
        report.organizations += 1
        try:
            today = local_today(organization["timezone"], moment)
        except (ZoneInfoNotFoundError, ValueError) as error:
            logger.error(
                "Organization %s has the unknown timezone %r and was not scanned: %s",
                organization_id,
                organization["timezone"],
                error,
            )
            report.failed_organizations.append(organization_id)
            continue
        failed = False
        if renew is not None:
            try:
                await renew(organization_id, today)
            except Exception:
                logger.exception(
                    "Renewing and expiring the contracts of organization %s failed",
                    organization_id,
                )
                failed = True
        try:
            report.add(
                await scan_organization(organization_id, today, policy=rules, full=full)
            )
        except Exception:
            logger.exception("Scanning organization %s failed", organization_id)
            failed = True
        if failed:
            report.failed_organizations.append(organization_id)
    await _send_digests(moment, rules)
    if report.failed_organizations:
        raise ScanError(report)
    return report


async def _send_digests(moment: datetime, policy: Policy) -> None:
    """Send the daily e-mail digests that are due, when e-mail is configured.

    The digest job sends each user at most one a day, so running it with every scan
    is safe. A failure is logged and retried with the next scan.
    """
    from contractgql.notifications.digest import send_daily_digests

    await _notify_quality(moment, policy)
    try:
        run = await send_daily_digests(moment, policy=policy)
    except Exception:
        logger.exception("Sending the daily e-mail digests failed")
        return
    if run.sent or run.failed:
        logger.info("Daily digests: %d sent, %d failed", len(run.sent), len(run.failed))


async def _notify_quality(moment: datetime, policy: Policy) -> None:
    """Notify owners of the day's data quality signals.

    A failure is logged. An organization whose run for the day had started is
    tried again the next day.
    """
    from contractgql.config import load_settings
    from contractgql.quality.notify import notify_quality_signals

    try:
        await notify_quality_signals(moment, load_settings(), policy)
    except Exception:
        logger.exception("Notifying the data quality signals failed")


@functools.cache
def default_policy() -> Policy:
    """Load the policy from CONTRACTGQL_POLICY_DIR, once per process."""
    from contractgql.config import load_settings

    return Policy.load(load_settings().policy_dir)


@functools.cache
def renewal_job() -> RenewAndExpire | None:
    """Return contractgql.jobs.renewals.renew_and_expire, or None while it is missing.

    Only a missing module counts as missing. An error inside it is raised.
    """
    name = "contractgql.jobs.renewals"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name:
            raise
        logger.warning(
            "%s is missing, so scans create reminders but renew and expire no "
            "contracts",
            name,
        )
        return None
    job: RenewAndExpire = module.renew_and_expire
    return job


async def scan_organization(
    organization_id: int,
    today: date,
    *,
    policy: Policy | None = None,
    batch_size: int = BATCH_SIZE,
    contract_ids: Sequence[int] | None = None,
    full: bool = False,
) -> ScanReport:
    """Scan one organization's contracts as of `today`, its local date.

    With `contract_ids`, only those contracts are scanned, as after an edit of their
    dates; the scans of the whole organization still handle contracts that stopped
    being signed. Those skip the contracts that an earlier scan settled, unless
    `full` is set, which plans every signed contract again.
    """
    rules = policy if policy is not None else default_policy()
    report = ScanReport()
    async with db.shared_connection():
        scan = _OrganizationScan(
            organization_id,
            today,
            # Read again for each batch, see scan_batch.
            {},
            await _directory(organization_id, rules),
            report,
            analyzes=Reminder._meta.db.capabilities.dialect == "postgres",
        )
        report.cancelled += await _cancel_inactive_contracts(
            organization_id, today, contract_ids, full=full, batch_size=batch_size
        )
        last_id = 0
        while True:
            batch = await _contract_batch(
                organization_id,
                last_id,
                batch_size,
                contract_ids,
                settled_before=None if full or contract_ids is not None else today,
            )
            if not batch:
                break
            await scan.scan_batch(batch)
            last_id = batch[-1].id
            if len(batch) < batch_size:
                break
        await _follow_reminder_status(organization_id)
    return report


async def _analyzed_rows() -> float:
    """Return PostgreSQL's row estimate of the reminders table."""
    rows = await Reminder._meta.db.execute_query_dict(
        "SELECT reltuples FROM pg_class WHERE oid = 'reminders'::regclass"
    )
    # -1 means never analyzed.
    return max(0.0, float(rows[0]["reltuples"])) if rows else 0.0


async def _follow_reminder_status(organization_id: int) -> None:
    """Cancel the open tasks of cancelled reminders, and reopen those of restored ones.

    A workflow belongs to its reminder: when the contract's dates change so that the
    reminder no longer applies, its tasks no longer apply either.
    """
    cancelled = Reminder.filter(
        organization_id=organization_id, status=ReminderStatus.CANCELLED
    ).values("id")
    await Task.filter(
        organization_id=organization_id,
        status=TaskStatus.OPEN,
        reminder_id__in=Subquery(cancelled),
    ).update(status=TaskStatus.CANCELLED)
    pending = Reminder.filter(
        organization_id=organization_id, status=ReminderStatus.PENDING
    ).values("id")
    await Task.filter(
        organization_id=organization_id,
        status=TaskStatus.CANCELLED,
        reminder_id__in=Subquery(pending),
    ).update(status=TaskStatus.OPEN)


@dataclass
class _OrganizationScan:
    organization_id: int
    today: date
    # Contract type id to its rules, or to the error that makes them unusable.
    types: dict[int, ContractTypeRules | InvalidContract]
    directory: Directory
    report: ScanReport
    # Whether the scan analyzes the tables it writes, which is on PostgreSQL only.
    analyzes: bool = False
    # PostgreSQL's row estimate of the reminders table at its last ANALYZE, read
    # when the scan first inserts, and the scan's count of created reminders then.
    analyzed_rows: float | None = None
    created_at_analyze: int = 0

    async def scan_batch(self, batch: list[ContractRow]) -> None:
        self.report.contracts += len(batch)
        # Read after the batch: a type's offsets changed after this read move its
        # contracts' scanned_version, so settling them fails and the next scan
        # plans them with the new offsets.
        self.types = await _type_rules(self.organization_id)
        plans = [plan for plan in map(self._plan, batch) if plan is not None]
        if not plans:
            return
        changes = compare(plans, await self._stored(plans), self.today)
        now = datetime.now(UTC)
        if changes.cancel:
            self.report.cancelled += await Reminder.filter(
                id__in=changes.cancel, status=ReminderStatus.PENDING
            ).update(status=ReminderStatus.CANCELLED, updated_at=now)
        if changes.restore:
            self.report.restored += await Reminder.filter(
                id__in=changes.restore, status=ReminderStatus.CANCELLED
            ).update(status=ReminderStatus.PENDING, updated_at=now)
        if changes.insert:
            await self._insert(changes.insert, now)
            await self._refresh_statistics()
        await self._settle(plans)

    async def _refresh_statistics(self) -> None:
        """Analyze the tables the scan writes once it has more than doubled them.

        PostgreSQL checks each new task's reminder with a statement that it plans
        once per connection. Planned while the reminders table looked empty, that
        statement reads the whole table for every task, and a first scan of a large
        portfolio then takes minutes more. ANALYZE replaces the plan. Autovacuum
        would do the same, but only after its next run.
        """
        if not self.analyzes:
            return
        if self.analyzed_rows is None:
            self.analyzed_rows = await _analyzed_rows()
        inserted = self.report.reminders_created - self.created_at_analyze
        if inserted <= max(ANALYZE_MIN_ROWS, self.analyzed_rows):
            return
        try:
            await Reminder._meta.db.execute_script(
                "ANALYZE reminders, tasks, notifications"
            )
        except Exception as error:
            # Only the owner of the tables may analyze them. The scan goes on.
            logger.warning("Analyzing the reminders tables failed: %s", error)
            self.analyzes = False
            return
        self.analyzed_rows += inserted
        self.created_at_analyze = self.report.reminders_created

    async def _settle(self, plans: list[ContractPlan]) -> None:
        """Record the version and next scan date of each planned contract.

        This runs after the batch's writes have committed, so a scan that dies
        before it leaves the contracts unsettled, and the next scan plans them
        again. A contract changed since it was read keeps its new version, so the
        next scan plans it again too. Contracts whose recorded values stay the same
        are not written.
        """
        await settle_contracts(
            [
                (
                    plan.contract.id,
                    plan.contract.version,
                    plan.next_scan_on,
                    plan.contract.scanned_version,
                )
                for plan in plans
                if (plan.contract.scanned_version, plan.contract.next_scan_on)
                != (plan.contract.version, plan.next_scan_on)
            ]
        )

    def _plan(self, contract: ContractRow) -> ContractPlan | None:
        rules = None
        if contract.contract_type_id is not None:
            found = self.types.get(contract.contract_type_id)
            if isinstance(found, InvalidContract):
                self._skip(contract, found)
                return None
            rules = found
        try:
            return plan_contract(contract, rules, self.today)
        except (InvalidContract, ValueError) as error:
            self._skip(contract, error)
            return None

    def _skip(self, contract: ContractRow, error: Exception) -> None:
        logger.warning(
            "Contract %s of organization %s was left out of the scan: %s",
            contract.id,
            self.organization_id,
            error,
        )
        self.report.skipped_contracts += 1

    async def _stored(self, plans: list[ContractPlan]) -> list[StoredReminder]:
        """Read the reminders of the batch that a schedule as of today can match."""
        anchors = [key[1] for plan in plans for key in plan.planned]
        lowest_anchor = min([self.today, *anchors])
        rows = await Reminder.filter(
            contract_id__in=[plan.contract.id for plan in plans],
            anchor_date__gte=lowest_anchor,
        ).values(
            "id",
            "contract_id",
            "kind",
            "anchor_date",
            "offset_count",
            "offset_unit",
            "status",
        )
        return [
            StoredReminder(
                id=row["id"],
                contract_id=row["contract_id"],
                key=(
                    text(row["kind"]),
                    row["anchor_date"],
                    row["offset_count"],
                    row["offset_unit"],
                ),
                pending=text(row["status"]) == ReminderStatus.PENDING.value,
                cancelled=text(row["status"]) == ReminderStatus.CANCELLED.value,
            )
            for row in rows
        ]

    async def _insert(self, new: list[NewReminder], now: datetime) -> None:
        """Insert missing reminders, and tasks and notifications for those inserted.

        The three inserts share one transaction, so no reminder is ever stored
        without the tasks and notifications it starts. Rows go in sorted by contract
        and key, so that concurrent scans on PostgreSQL lock the same keys in the
        same order and wait for each other instead of deadlocking.
        """
        new.sort(key=lambda item: (item[0].contract.id, item[1].key))
        plans = {plan.contract.id: plan for plan, _ in new}
        audience = await self._audience(list(plans.values()))
        async with in_transaction() as connection:
            created = await self._insert_reminders(connection, new, now)
            notifications = [
                row
                for reminder_id, plan, due in created
                for row in self._reminder_notifications(
                    reminder_id, plan.contract, due, audience, now
                )
            ]
            tasks = await self._insert_tasks(connection, created, audience, now)
            for task in tasks:
                if task["assignee_id"] is not None:
                    contract = plans[task["contract_id"]].contract
                    notifications.append(self._task_notification(task, contract, now))
            sent = await insert_ignoring_conflicts(
                connection,
                "notifications",
                NOTIFICATION_COLUMNS,
                notifications,
                ("id",),
            )
        self.report.notifications_created += len(sent)

    async def _insert_reminders(
        self, connection: BaseDBAsyncClient, new: list[NewReminder], now: datetime
    ) -> list[tuple[int, ContractPlan, PlannedReminder]]:
        """Insert the reminders; return (id, plan, reminder) of those inserted here."""
        rows = [
            (
                self.organization_id,
                plan.contract.id,
                due.kind,
                due.anchor_date,
                due.offset.count,
                due.offset.unit.value,
                due.due_date,
                due.due_date < self.today,
                ReminderStatus.PENDING.value,
                now,
                now,
            )
            for plan, due in new
        ]
        inserted = await insert_ignoring_conflicts(
            connection,
            "reminders",
            REMINDER_COLUMNS,
            rows,
            ("id", "contract_id", "kind", "anchor_date", "offset_count", "offset_unit"),
        )
        by_key = {(plan.contract.id, due.key): (plan, due) for plan, due in new}
        created = []
        for row in inserted:
            key = (
                row["kind"],
                _as_date(row["anchor_date"]),
                row["offset_count"],
                row["offset_unit"],
            )
            plan, due = by_key[(row["contract_id"], key)]
            created.append((row["id"], plan, due))
            self.report.reminders_created += 1
            if due.due_date < self.today:
                self.report.late += 1
        return created

    async def _insert_tasks(
        self,
        connection: BaseDBAsyncClient,
        created: list[tuple[int, ContractPlan, PlannedReminder]],
        audience: Audience,
        now: datetime,
    ) -> list[dict[str, Any]]:
        """Start the renewal workflow of each term that new reminders opened.

        A term's workflow starts once, from its earliest due reminder: the later
        reminders of the same anchor date remind the people concerned but start
        no second workflow, nor does a reminder whose term already has tasks.
        Returns the inserted tasks.
        """
        with_workflow = {p.contract.id for _, p, _ in created if p.first_step}
        started = await _terms_with_tasks(connection, sorted(with_workflow))
        firsts: dict[tuple[int, date], tuple[int, ContractPlan, PlannedReminder]] = {}
        for item in created:
            _, plan, due = item
            term = (plan.contract.id, due.anchor_date)
            if term in started or plan.first_step is None:
                continue
            if term not in firsts or due.due_date < firsts[term][2].due_date:
                firsts[term] = item
        rows = []
        for reminder_id, plan, due in sorted(firsts.values(), key=lambda i: i[0]):
            step = plan.first_step
            assert step is not None
            contract = plan.contract
            rows.append(
                (
                    self.organization_id,
                    contract.id,
                    reminder_id,
                    0,
                    step.title,
                    choose_assignee(step, contract, self.directory, audience),
                    task_due_date(due.due_date, step),
                    TaskStatus.OPEN.value,
                    now,
                )
            )
        tasks = await insert_ignoring_conflicts(
            connection,
            "tasks",
            TASK_COLUMNS,
            rows,
            ("id", "contract_id", "title", "assignee_id", "due_date"),
        )
        self.report.tasks_created += len(tasks)
        return tasks

    def _reminder_notifications(
        self,
        reminder_id: int,
        contract: ContractRow,
        due: PlannedReminder,
        audience: Audience,
        now: datetime,
    ) -> list[tuple[Any, ...]]:
        title, body = reminder_message(contract, due, self.today)
        source = f"reminder:{reminder_id}"
        return [
            (
                self.organization_id,
                user_id,
                contract.id,
                "reminder",
                source,
                title,
                body,
                now,
            )
            for user_id in reminder_recipients(contract, self.directory, audience)
        ]

    def _task_notification(
        self, task: dict[str, Any], contract: ContractRow, now: datetime
    ) -> tuple[Any, ...]:
        title, body = task_message(contract, task["title"], _as_date(task["due_date"]))
        source = f"task:{task['id']}"
        user_id = task["assignee_id"]
        return (
            self.organization_id,
            user_id,
            contract.id,
            "task",
            source,
            title,
            body,
            now,
        )

    async def _audience(self, plans: list[ContractPlan]) -> Audience:
        ids = [plan.contract.id for plan in plans]
        watchers: dict[int, list[int]] = {}
        rows = await ContractWatcher.filter(contract_id__in=ids).values(
            "contract_id", "user_id"
        )
        for row in sorted(rows, key=lambda row: (row["contract_id"], row["user_id"])):
            watchers.setdefault(row["contract_id"], []).append(row["user_id"])
        project_clients: frozenset[tuple[int, int]] = frozenset()
        staff = [
            user_id
            for plan in plans
            if plan.first_step is not None and plan.first_step.assignee != "owner"
            for user_id in self.directory.by_role.get(plan.first_step.assignee, ())
            if self.directory.needs_project_check(user_id)
        ]
        if staff:
            members = await ProjectMember.filter(
                user_id__in=sorted(set(staff)),
                project__client_id__in=sorted({p.contract.client_id for p in plans}),
            ).values("user_id", "project__client_id")
            project_clients = frozenset(
                (row["user_id"], row["project__client_id"]) for row in members
            )
        return Audience(
            {contract: tuple(users) for contract, users in watchers.items()},
            project_clients,
        )


REMINDER_COLUMNS = (
    "organization_id",
    "contract_id",
    "kind",
    "anchor_date",
    "offset_count",
    "offset_unit",
    "due_date",
    "late",
    "status",
    "created_at",
    "updated_at",
)
TASK_COLUMNS = (
    "organization_id",
    "contract_id",
    "reminder_id",
    "step",
    "title",
    "assignee_id",
    "due_date",
    "status",
    "created_at",
)
NOTIFICATION_COLUMNS = (
    "organization_id",
    "user_id",
    "contract_id",
    "kind",
    "source",
    "title",
    "body",
    "created_at",
)


def _as_date(value: Any) -> date:
    """Return a DATE column's value, which SQLite returns as ISO text."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


async def _terms_with_tasks(
    connection: BaseDBAsyncClient, contract_ids: list[int]
) -> set[tuple[int, date]]:
    """Return (contract id, anchor date) of the terms whose workflow has started."""
    if not contract_ids:
        return set()
    statement = Statement(connection)
    rows = await connection.execute_query_dict(
        "SELECT DISTINCT t.contract_id, r.anchor_date FROM tasks t "
        "JOIN reminders r ON r.id = t.reminder_id "
        f"WHERE {statement.any_of('t.contract_id', contract_ids)}",
        statement.parameters,
    )
    return {(row["contract_id"], _as_date(row["anchor_date"])) for row in rows}


async def _type_rules(
    organization_id: int,
) -> dict[int, ContractTypeRules | InvalidContract]:
    types: dict[int, ContractTypeRules | InvalidContract] = {}
    rows = await ContractType.filter(organization_id=organization_id).values(
        "id", "reminder_offsets", "renewal_workflow"
    )
    for row in rows:
        try:
            types[row["id"]] = type_rules(
                row["id"], row["reminder_offsets"], row["renewal_workflow"]
            )
        except InvalidContract as error:
            types[row["id"]] = error
    return types


async def _directory(organization_id: int, policy: Policy) -> Directory:
    users = await User.filter(
        organization_id=organization_id, is_active=True, is_service_account=False
    ).values_list("id", "roles")
    return Directory.build(((user_id, roles) for user_id, roles in users), policy)


async def _cancel_inactive_contracts(
    organization_id: int,
    today: date,
    contract_ids: Sequence[int] | None = None,
    *,
    full: bool = False,
    batch_size: int = BATCH_SIZE,
) -> int:
    """Cancel pending reminders of contracts no longer signed, or archived.

    As with stale reminders, only those whose anchor is today or later change.
    A contract stops being signed or is archived by a change, which increments
    its version, so apart from a full scan only contracts that no scan has seen
    in their current version are checked, or the given ones. Those are then
    settled, with no next scan date, because scans plan no reminders for them.
    """
    if full:
        inactive = Contract.filter(
            Q(organization_id=organization_id)
            & (Q(archived_at__isnull=False) | ~Q(stage=ContractStage.SIGNED))
        ).values("id")
        return await Reminder.filter(
            organization_id=organization_id,
            status=ReminderStatus.PENDING,
            anchor_date__gte=today,
            contract_id__in=Subquery(inactive),
        ).update(status=ReminderStatus.CANCELLED, updated_at=datetime.now(UTC))

    connection = Contract._meta.db
    cancelled = 0
    last_id = 0
    while True:
        statement = Statement(connection)
        # Parameters in the order of the text, which SQLite's placeholders need.
        organization = statement.parameter(organization_id)
        if contract_ids is None:
            # The condition of the partial index contracts_unscanned, word for
            # word, so that SQLite uses the index too.
            which = "scanned_version <> version"
        else:
            which = statement.any_of("id", list(contract_ids))
        signed = statement.parameter(ContractStage.SIGNED.value)
        after = statement.parameter(last_id)
        size = statement.parameter(batch_size)
        rows = await connection.execute_query_dict(
            "SELECT id, version, scanned_version FROM contracts WHERE "
            f"organization_id = {organization} AND {which} AND (archived_at IS NOT "
            f"NULL OR stage <> {signed}) AND id > {after} ORDER BY id LIMIT {size}",
            statement.parameters,
        )
        if not rows:
            return cancelled
        cancelled += await Reminder.filter(
            organization_id=organization_id,
            status=ReminderStatus.PENDING,
            anchor_date__gte=today,
            contract_id__in=[row["id"] for row in rows],
        ).update(status=ReminderStatus.CANCELLED, updated_at=datetime.now(UTC))
        await settle_contracts(
            [(row["id"], row["version"], None, row["scanned_version"]) for row in rows]
        )
        last_id = rows[-1]["id"]
        if len(rows) < batch_size:
            return cancelled


async def _contract_batch(
    organization_id: int,
    after_id: int,
    size: int,
    contract_ids: Sequence[int] | None = None,
    settled_before: date | None = None,
) -> list[ContractRow]:
    """Read the next batch of signed, non-archived contracts after `after_id`.

    With `settled_before`, the organization's local date, contracts that an earlier
    scan settled are left out: those whose version the scan planned and whose next
    scan date is later than that date, or absent.
    """
    connection = Contract._meta.db
    statement = Statement(connection)
    # SQLite's placeholders are positional, so each use of a value is a parameter.
    conditions = [
        f"c.organization_id = {statement.parameter(organization_id)}",
        f"c.stage = {statement.parameter(ContractStage.SIGNED.value)}",
        "c.archived_at IS NULL",
        f"c.id > {statement.parameter(after_id)}",
    ]
    if contract_ids is not None:
        conditions.append(statement.any_of("c.id", list(contract_ids)))
    if settled_before is not None:
        # Two index scans, each for the first `size` ids after `after_id`: one on
        # the partial index contracts_unscanned, whose condition the first part
        # repeats word for word, and one on next_scan_on. Each part filters the
        # stage itself, so the first `size` ids of the union are the batch. A
        # single OR of both conditions read every contract, and parts without a
        # limit read every unscanned contract for each batch of a first scan.
        # SQLite's placeholders are positional: parameters in the order of the text.
        parts = []
        for condition in ("scanned_version <> version", "next_scan_on <= {today}"):
            organization = statement.parameter(organization_id)
            today = statement.parameter(settled_before) if "today" in condition else ""
            signed = statement.parameter(ContractStage.SIGNED.value)
            after = statement.parameter(after_id)
            limit = statement.parameter(size)
            parts.append(
                "SELECT id FROM (SELECT id FROM contracts WHERE organization_id = "
                f"{organization} AND {condition.format(today=today)} AND stage = "
                f"{signed} AND archived_at IS NULL AND id > {after} ORDER BY id "
                f"LIMIT {limit}) AS part"
            )
        conditions.append(f"c.id IN ({parts[0]} UNION ALL {parts[1]})")
    sql = (
        f"SELECT {CONTRACT_SELECT} FROM contracts c "
        "JOIN clients cl ON cl.id = c.client_id "
        f"WHERE {' AND '.join(conditions)} "
        f"ORDER BY c.id LIMIT {statement.parameter(size)}"
    )
    rows = await connection.execute_query_dict(sql, statement.parameters)
    return [_contract_row(row) for row in rows]


async def settle_contracts(
    rows: Sequence[tuple[int, int, date | None, int]],
) -> None:
    """Store what scans planned: (contract id, version, next scan date, the
    scanned_version read with the contract) for each contract.

    A contract whose version or scanned_version changed since it was read keeps
    its values, so the next scan plans it again: it was edited, or its type's
    offsets changed, which moves scanned_version to a new negative value. The
    writes change neither the version nor updated_at.
    """
    if not rows:
        return
    connection = Contract._meta.db
    if connection.capabilities.dialect == "postgres":
        await connection.execute_query(
            "UPDATE contracts AS c SET scanned_version = u.version, "
            "next_scan_on = u.next_scan_on "
            "FROM unnest($1::bigint[], $2::int[], $3::date[], $4::int[]) "
            "AS u(id, version, next_scan_on, read) "
            "WHERE c.id = u.id AND c.version = u.version "
            "AND c.scanned_version = u.read",
            [
                [row[0] for row in rows],
                [row[1] for row in rows],
                [row[2] for row in rows],
                [row[3] for row in rows],
            ],
        )
        return
    await connection.execute_many(
        "UPDATE contracts SET scanned_version = ?, next_scan_on = ? "
        "WHERE id = ? AND version = ? AND scanned_version = ?",
        [
            [version, next_on, contract_id, version, read]
            for contract_id, version, next_on, read in rows
        ],
    )


CONTRACT_SELECT = ", ".join(
    [
        *(
            f"c.{column}"
            for column in (
                "id",
                "version",
                "name",
                "number",
                "client_id",
                "owner_id",
                "contract_type_id",
                "sensitivity",
                "start_date",
                "end_date",
                "notice_count",
                "notice_unit",
                "auto_renewal",
                "notice_date",
                "reminder_offsets",
                "scanned_version",
                "next_scan_on",
                "renewal_term_count",
                "renewal_term_unit",
            )
        ),
        "cl.name AS client_name",
        # One lookup in the unique index of contract_events per contract.
        "(SELECT MIN(e.term_end) FROM contract_events e WHERE e.contract_id = c.id "
        "AND e.kind = 'renewed') AS first_end",
    ]
)


def _contract_row(row: dict[str, Any]) -> ContractRow:
    """Build a ContractRow from a row as SQLite or asyncpg returns it.

    SQLite returns dates as ISO text, booleans as integers and JSON as text.
    """
    offsets = row["reminder_offsets"]
    if isinstance(offsets, str | bytes):
        offsets = json.loads(offsets)
    end_date = row["end_date"]
    notice_date = row["notice_date"]
    next_scan_on = row["next_scan_on"]
    return ContractRow(
        id=row["id"],
        version=row["version"],
        name=row["name"],
        number=row["number"],
        client_id=row["client_id"],
        client_name=row["client_name"],
        owner_id=row["owner_id"],
        contract_type_id=row["contract_type_id"],
        confidential=row["sensitivity"] == Sensitivity.CONFIDENTIAL.value,
        start_date=_as_date(row["start_date"]),
        end_date=None if end_date is None else _as_date(end_date),
        notice_count=row["notice_count"],
        notice_unit=row["notice_unit"] or None,
        auto_renewal=bool(row["auto_renewal"]),
        notice_date=None if notice_date is None else _as_date(notice_date),
        reminder_offsets=offsets,
        scanned_version=row["scanned_version"],
        next_scan_on=None if next_scan_on is None else _as_date(next_scan_on),
        renewal_term_count=row["renewal_term_count"],
        renewal_term_unit=row["renewal_term_unit"] or None,
        first_end=None if row["first_end"] is None else _as_date(row["first_end"]),
    )
