"""Reminders, workflow tasks and the term history of contracts.

Every read is limited to the contracts that the caller may see, in the caller's
organization. The amounts and the indexation of a renewal event are financial
values: they are null for callers who may not read Contract.amount and
Contract.indexation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any
from weakref import WeakKeyDictionary

import strawberry
from strawberry.dataloader import DataLoader
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from contractgql.domain.money import from_minor_units
from contractgql.graphql.context import Info
from contractgql.graphql.relay import Connection, Node, SortKey, paginate
from contractgql.graphql.types.common import PeriodType, period_type
from contractgql.ids import encode_id
from contractgql.models import (
    ContractEvent,
    ContractEventKind,
    Reminder,
    ReminderKind,
    ReminderStatus,
    Task,
    TaskStatus,
)
from contractgql.security.viewer import Viewer
from contractgql.services.notice import NoticeParty, first_ends
from contractgql.services.workflow import visible_reminders, visible_tasks

if TYPE_CHECKING:
    from contractgql.graphql.loaders import Loaders
    from contractgql.graphql.types.contracts import ContractNode
    from contractgql.graphql.types.users import UserNode

ContractRef = Annotated[
    "ContractNode", strawberry.lazy("contractgql.graphql.types.contracts")
]
UserRef = Annotated["UserNode", strawberry.lazy("contractgql.graphql.types.users")]

ReminderKindEnum = strawberry.enum(
    ReminderKind,
    name="ReminderKind",
    description="NOTICE comes before the notice deadline, END before the end date, "
    "REVIEW before the anniversary of an open-ended contract, and MISSED_NOTICE "
    "after the notice deadline of an auto-renewing contract passed without notice.",
)
ReminderStatusEnum = strawberry.enum(
    ReminderStatus,
    name="ReminderStatus",
    description="CANCELLED when the contract's dates changed so that the reminder "
    "no longer applies.",
)
TaskStatusEnum = strawberry.enum(TaskStatus, name="TaskStatus")
ContractEventKindEnum = strawberry.enum(
    ContractEventKind,
    name="ContractEventKind",
    description="NOTICE_GIVEN is notice by the organization, NOTICE_RECEIVED notice "
    "by the client.",
)
NoticePartyEnum = strawberry.enum(
    NoticeParty, name="NoticeParty", description="The party that gave notice."
)

# SQLite allows 32,766 bound variables per statement, so batches stay well below.
MAX_BATCH = 10_000


@strawberry.type(
    name="Reminder",
    description="A reminder on a contract, due an offset before its anchor date.",
)
class ReminderNode(Node):
    pk: strawberry.Private[int]
    contract_pk: strawberry.Private[int]
    kind: ReminderKindEnum  # type: ignore[valid-type]
    anchor_date: date = strawberry.field(
        description="The notice deadline, the end date or the anniversary that the "
        "reminder comes before."
    )
    offset: PeriodType = strawberry.field(
        description="How long before the anchor date the reminder is due."
    )
    due_date: date
    late: bool = strawberry.field(
        description="Whether the reminder was created after its due date, because "
        "the dates changed or a scan was missed."
    )
    status: ReminderStatusEnum  # type: ignore[valid-type]
    created_at: datetime

    @strawberry.field
    def contract(self, info: Info) -> ContractRef:
        return info.context.loaders.contract(self.contract_pk)

    @strawberry.field(description="The tasks of the workflow that it started, by step.")
    def tasks(self, info: Info) -> list[TaskNode]:
        return workflow_loaders(info).reminder_tasks.load(self.pk)


REMINDER_COLUMNS = (
    "id",
    "contract_id",
    "kind",
    "anchor_date",
    "offset_count",
    "offset_unit",
    "due_date",
    "late",
    "status",
    "created_at",
)


def reminder_node(row: dict[str, Any]) -> ReminderNode:
    offset = period_type(row["offset_count"], row["offset_unit"])
    assert offset is not None
    return ReminderNode(
        id=strawberry.ID(encode_id("Reminder", row["id"])),
        pk=row["id"],
        contract_pk=row["contract_id"],
        kind=ReminderKind(row["kind"]),
        anchor_date=row["anchor_date"],
        offset=offset,
        due_date=row["due_date"],
        late=row["late"],
        status=ReminderStatus(row["status"]),
        created_at=row["created_at"],
    )


@strawberry.type(
    name="Task",
    description="A step of a contract's renewal workflow, started by a reminder.",
)
class TaskNode(Node):
    pk: strawberry.Private[int]
    contract_pk: strawberry.Private[int]
    reminder_pk: strawberry.Private[int]
    assignee_pk: strawberry.Private[int | None]
    completed_by_pk: strawberry.Private[int | None]
    step: int = strawberry.field(
        description="Position of the step in the contract type's workflow, from 0."
    )
    title: str
    due_date: date
    status: TaskStatusEnum  # type: ignore[valid-type]
    completed_at: datetime | None
    created_at: datetime

    @strawberry.field
    def contract(self, info: Info) -> ContractRef:
        return info.context.loaders.contract(self.contract_pk)

    @strawberry.field(description="The reminder that started the workflow.")
    def reminder(self, info: Info) -> ReminderNode:
        return workflow_loaders(info).reminder.load(self.reminder_pk)

    @strawberry.field(
        description="The user who should do the task, or null when no active user "
        "fits the step's assignee."
    )
    def assignee(self, info: Info) -> UserRef | None:
        if self.assignee_pk is None:
            return None
        return info.context.loaders.user(self.assignee_pk)

    @strawberry.field
    def completed_by(self, info: Info) -> UserRef | None:
        if self.completed_by_pk is None:
            return None
        return info.context.loaders.user(self.completed_by_pk)


TASK_COLUMNS = (
    "id",
    "contract_id",
    "reminder_id",
    "assignee_id",
    "completed_by_id",
    "step",
    "title",
    "due_date",
    "status",
    "completed_at",
    "created_at",
)


def task_node(row: dict[str, Any]) -> TaskNode:
    return TaskNode(
        id=strawberry.ID(encode_id("Task", row["id"])),
        pk=row["id"],
        contract_pk=row["contract_id"],
        reminder_pk=row["reminder_id"],
        assignee_pk=row["assignee_id"],
        completed_by_pk=row["completed_by_id"],
        step=row["step"],
        title=row["title"],
        due_date=row["due_date"],
        status=TaskStatus(row["status"]),
        completed_at=row["completed_at"],
        created_at=row["created_at"],
    )


@strawberry.type(
    name="ContractEvent",
    description="A renewal, an expiry or recorded notice in a contract's history.",
)
class ContractEventType:
    created_by_pk: strawberry.Private[int | None]
    kind: ContractEventKindEnum  # type: ignore[valid-type]
    term_end: date | None = strawberry.field(
        description="The end date of the term that the event belongs to: the term "
        "that renewed or expired, or the term in which notice was given."
    )
    new_end_date: date | None = strawberry.field(
        description="For a renewal the end date of the new term, for notice the end "
        "date that the notice ends the contract on."
    )
    occurred_on: date = strawberry.field(
        description="The day notice was given. For a renewal or expiry, the day "
        "after the term end, or the day of a renewal by hand made before then."
    )
    old_amount: Decimal | None = strawberry.field(
        description="For a renewal, the amount per billing period before indexation. "
        "Null for callers who may not read Contract.amount."
    )
    new_amount: Decimal | None = strawberry.field(
        description="For a renewal, the amount per billing period after indexation. "
        "Null for callers who may not read Contract.amount."
    )
    indexation: Decimal | None = strawberry.field(
        description="For a renewal, the indexation in percent that was applied. Null "
        "for callers who may not read Contract.indexation."
    )
    created_at: datetime

    @strawberry.field(
        description="The user who recorded the event, or null for the daily scan."
    )
    def created_by(self, info: Info) -> UserRef | None:
        if self.created_by_pk is None:
            return None
        return info.context.loaders.user(self.created_by_pk)


EVENT_COLUMNS = (
    "id",
    "contract_id",
    "kind",
    "term_end",
    "new_end_date",
    "occurred_on",
    "old_amount_minor",
    "new_amount_minor",
    "indexation_bp",
    "created_at",
    "created_by_id",
    "contract__currency",
)


def contract_event(row: dict[str, Any], viewer: Viewer) -> ContractEventType:
    """Build an event, leaving out the financial values the viewer may not read."""
    old_amount = new_amount = indexation = None
    # NOTE: the amounts are in the minor unit of the currency at renewal, and they
    # are shown in the contract's currency today, which differs only after the
    # currency was changed.
    currency = row["contract__currency"]
    if viewer.fields.may_read("Contract", "amount"):
        old_amount = _amount(row["old_amount_minor"], currency)
        new_amount = _amount(row["new_amount_minor"], currency)
    indexation_bp = row["indexation_bp"]
    if viewer.fields.may_read("Contract", "indexation") and indexation_bp is not None:
        indexation = Decimal(indexation_bp).scaleb(-2)
    return ContractEventType(
        created_by_pk=row["created_by_id"],
        kind=ContractEventKind(row["kind"]),
        term_end=row["term_end"],
        new_end_date=row["new_end_date"],
        occurred_on=row["occurred_on"],
        old_amount=old_amount,
        new_amount=new_amount,
        indexation=indexation,
        created_at=row["created_at"],
    )


def _amount(minor: int | None, currency: str) -> Decimal | None:
    return None if minor is None else from_minor_units(minor, currency)


# --- Batch loading ------------------------------------------------------------------


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    unique = sorted(set(ids))
    return [
        unique[start : start + MAX_BATCH] for start in range(0, len(unique), MAX_BATCH)
    ]


class WorkflowLoaders:
    """DataLoaders of one request for the records of this module."""

    def __init__(self, viewer: Viewer) -> None:
        self.viewer = viewer
        org = viewer.organization_id
        self.contract_reminders = self._grouped(
            lambda ids: (
                Reminder.filter(organization_id=org, contract_id__in=ids)
                .order_by("due_date", "id")
                .values(*REMINDER_COLUMNS)
            ),
            "contract_id",
            reminder_node,
        )
        self.contract_tasks = self._grouped(
            lambda ids: (
                Task.filter(organization_id=org, contract_id__in=ids)
                .order_by("due_date", "id")
                .values(*TASK_COLUMNS)
            ),
            "contract_id",
            task_node,
        )
        self.reminder_tasks = self._grouped(
            lambda ids: (
                Task.filter(organization_id=org, reminder_id__in=ids)
                .order_by("step", "id")
                .values(*TASK_COLUMNS)
            ),
            "reminder_id",
            task_node,
        )
        self.contract_events = self._grouped(
            lambda ids: (
                ContractEvent.filter(organization_id=org, contract_id__in=ids)
                .order_by("occurred_on", "id")
                .values(*EVENT_COLUMNS)
            ),
            "contract_id",
            lambda row: contract_event(row, viewer),
        )
        self.reminder: DataLoader[int, ReminderNode | None] = DataLoader(
            self._load_reminders
        )
        self.first_end: DataLoader[int, date | None] = DataLoader(self._load_first_ends)

    @staticmethod
    def _grouped(
        fetch: Callable[[Sequence[int]], Awaitable[list[dict[str, Any]]]],
        key: str,
        build: Callable[[dict[str, Any]], Any],
    ) -> DataLoader[int, list[Any]]:
        async def load(ids: list[int]) -> list[list[Any]]:
            found: dict[int, list[Any]] = defaultdict(list)
            for chunk in _chunks(ids):
                for row in await fetch(chunk):
                    found[row[key]].append(build(row))
            return [found.get(pk, []) for pk in ids]

        return DataLoader(load)

    async def _load_reminders(self, ids: list[int]) -> list[ReminderNode | None]:
        found: dict[int, ReminderNode] = {}
        for chunk in _chunks(ids):
            rows = (
                await visible_reminders(self.viewer)
                .filter(id__in=chunk)
                .values(*REMINDER_COLUMNS)
            )
            found.update((row["id"], reminder_node(row)) for row in rows)
        return [found.get(pk) for pk in ids]

    async def _load_first_ends(self, ids: list[int]) -> list[date | None]:
        found: dict[int, date] = {}
        for chunk in _chunks(ids):
            found.update(await first_ends(list(chunk)))
        return [found.get(pk) for pk in ids]


_request_loaders: WeakKeyDictionary[Loaders, WorkflowLoaders] = WeakKeyDictionary()


def workflow_loaders(info: Info) -> WorkflowLoaders:
    """Return the loaders of the current request, created on first use."""
    loaders = info.context.loaders
    found = _request_loaders.get(loaders)
    if found is None:
        found = WorkflowLoaders(info.context.viewer)
        _request_loaders[loaders] = found
    return found


async def workflow_node(viewer: Viewer, type_name: str, pk: int) -> Node | None:
    """Return the Task or Reminder `pk` if its contract is visible, else None."""
    if type_name == "Task":
        rows = await visible_tasks(viewer).filter(id=pk).values(*TASK_COLUMNS)
        return task_node(rows[0]) if rows else None
    rows = await visible_reminders(viewer).filter(id=pk).values(*REMINDER_COLUMNS)
    return reminder_node(rows[0]) if rows else None


# --- Root connections ---------------------------------------------------------------


@strawberry.input(name="TaskFilter", description="Conditions that every task matches.")
class TaskFilter:
    assigned_to_me: bool | None = strawberry.field(
        default=None,
        description="True for the tasks assigned to the caller, false for all others.",
    )
    status: TaskStatusEnum | None = None  # type: ignore[valid-type]
    due_before: date | None = strawberry.field(
        default=None, description="Only tasks due before this date, not on it."
    )


@strawberry.input(
    name="ReminderFilter", description="Conditions that every reminder matches."
)
class ReminderFilter:
    status: ReminderStatusEnum | None = None  # type: ignore[valid-type]
    due_before: date | None = strawberry.field(
        default=None, description="Only reminders due before this date, not on it."
    )
    kind: ReminderKindEnum | None = None  # type: ignore[valid-type]


_DUE_DATE = SortKey("due_date", "due_date")


async def tasks_connection(
    info: Info, first: int | None, after: str | None, filter: TaskFilter | None
) -> Connection[TaskNode]:
    viewer = info.context.viewer
    scope = visible_tasks(viewer)
    query = scope
    if filter is not None:
        if filter.assigned_to_me is True:
            query = query.filter(assignee_id=viewer.user_id)
        elif filter.assigned_to_me is False:
            query = query.filter(Q(assignee_id=None) | ~Q(assignee_id=viewer.user_id))
        if filter.status is not None:
            query = query.filter(status=filter.status)
        if filter.due_before is not None:
            query = query.filter(due_date__lt=filter.due_before)
    return await _page(info, query, scope, first, after, TASK_COLUMNS, task_node)


async def reminders_connection(
    info: Info, first: int | None, after: str | None, filter: ReminderFilter | None
) -> Connection[ReminderNode]:
    scope = visible_reminders(info.context.viewer)
    query = scope
    if filter is not None:
        if filter.status is not None:
            query = query.filter(status=filter.status)
        if filter.due_before is not None:
            query = query.filter(due_date__lt=filter.due_before)
        if filter.kind is not None:
            query = query.filter(kind=filter.kind)
    return await _page(
        info, query, scope, first, after, REMINDER_COLUMNS, reminder_node
    )


async def _page(
    info: Info,
    query: QuerySet[Any],
    scope: QuerySet[Any],
    first: int | None,
    after: str | None,
    columns: tuple[str, ...],
    build: Callable[[dict[str, Any]], Any],
) -> Connection[Any]:
    async def build_page(rows: list[dict[str, Any]]) -> list[Any]:
        return [build(row) for row in rows]

    return await paginate(
        query,
        scope,
        key=_DUE_DATE,
        descending=False,
        first=first,
        after=after,
        max_page_size=info.context.services.settings.max_page_size,
        columns=columns,
        build=build_page,
    )
