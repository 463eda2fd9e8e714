"""Renewal workflows: the tasks that a reminder starts, one step after another.

A contract type lists the steps of its renewal workflow. A reminder starts the first
step, and completing a step's task starts the next one. The tasks table is unique on
reminder and step, so each step starts once however many scans or requests try.
"""

from __future__ import annotations

import functools
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Subquery
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from contractgql.audit import record_change
from contractgql.config import load_settings
from contractgql.errors import (
    FieldError,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from contractgql.ids import encode_id
from contractgql.models import (
    Contract,
    ContractType,
    Notification,
    Reminder,
    Task,
    TaskStatus,
    User,
)
from contractgql.notifications.pubsub import publish
from contractgql.security.policy import Policy
from contractgql.security.records import visible_contracts
from contractgql.security.viewer import Viewer, viewer_for
from contractgql.services.contracts import require_contract_write
from contractgql.services.records import OWNER_ASSIGNEE

logger = logging.getLogger(__name__)

# Users with a step's role that are checked, in id order, for one who can see the
# contract. A step whose role has no such user among them gets no assignee.
MAX_ASSIGNEE_CANDIDATES = 50
MAX_NOTIFICATION_TITLE_LENGTH = 300
NOTIFICATION_KIND = "task"


@functools.cache
def default_policy() -> Policy:
    """Return the policy in CONTRACTGQL_POLICY_DIR, loaded once per process.

    Workers use it to decide who may see a contract. The API passes the policy it
    serves with, which a reload may have changed since.
    """
    return Policy.load(load_settings().policy_dir)


def visible_tasks(viewer: Viewer) -> QuerySet[Task]:
    """Return the tasks of the contracts that the viewer may see."""
    contracts = visible_contracts(viewer).values("id")
    return Task.filter(
        organization_id=viewer.organization_id, contract_id__in=Subquery(contracts)
    )


def visible_reminders(viewer: Viewer) -> QuerySet[Reminder]:
    """Return the reminders of the contracts that the viewer may see."""
    contracts = visible_contracts(viewer).values("id")
    return Reminder.filter(
        organization_id=viewer.organization_id, contract_id__in=Subquery(contracts)
    )


async def start_step(
    reminder: Reminder,
    step_index: int,
    today: date,
    *,
    policy: Policy | None = None,
) -> Task | None:
    """Create the task of step `step_index` of the reminder's renewal workflow.

    The first step is due its days after the reminder's due date, and each later
    step its days after `today`, the day the step before was completed. For
    "owner" the assignee is the contract's owner while active, and for a role the
    first active user with that role, by id, who can see the contract under
    `policy` (by default the policy files). The assignee gets a notification that
    names the task and the contract but no financial value. Returns None when the
    contract's type has no such step or the task already exists.
    """
    started = await _create_step(reminder, step_index, today, policy)
    if started is None:
        return None
    task, notification = started
    if notification is not None:
        await publish(notification)
    return task


async def _create_step(
    reminder: Reminder, step_index: int, today: date, policy: Policy | None
) -> tuple[Task, Notification | None] | None:
    """Insert a step's task and its notification, as `start_step` describes.

    Inside a transaction the inserts run in a savepoint, so a task that exists
    already leaves the transaction usable.
    """
    if step_index < 0:
        return None
    if await Task.filter(reminder_id=reminder.id, step=step_index).exists():
        return None
    contract = await Contract.filter(
        id=reminder.contract_id, organization_id=reminder.organization_id
    ).first()
    if contract is None or contract.contract_type_id is None:
        return None
    workflows: list[list[dict[str, Any]] | None] = await ContractType.filter(
        id=contract.contract_type_id, organization_id=contract.organization_id
    ).values_list("renewal_workflow", flat=True)  # type: ignore[assignment]
    steps = (workflows[0] if workflows else None) or []
    if step_index >= len(steps):
        return None

    step = steps[step_index]
    start = reminder.due_date if step_index == 0 else today
    due_date = start + timedelta(days=int(step["days_after"]))
    assignee_id = await _assignee(contract, step["assignee"], policy)
    try:
        async with in_transaction():
            task = await Task.create(
                organization_id=contract.organization_id,
                contract_id=contract.id,
                reminder_id=reminder.id,
                step=step_index,
                title=step["title"],
                assignee_id=assignee_id,
                due_date=due_date,
            )
            notification = None
            if assignee_id is not None:
                notification = await _notify(task, contract, assignee_id)
    except IntegrityError:
        # Another scan or request started this step first.
        return None
    logger.info(
        "Started step %d of reminder %s on contract %s: task %s for user %s",
        step_index,
        reminder.id,
        contract.id,
        task.id,
        assignee_id,
    )
    return task, notification


async def _assignee(
    contract: Contract, assignee: str, policy: Policy | None
) -> int | None:
    organization_id = contract.organization_id
    if assignee == OWNER_ASSIGNEE:
        if contract.owner_id is None:
            return None
        active = await User.filter(
            id=contract.owner_id, organization_id=organization_id, is_active=True
        ).exists()
        return contract.owner_id if active else None

    users = (
        await User.filter(
            organization_id=organization_id,
            is_active=True,
            is_service_account=False,
        )
        .select_related("organization")
        .order_by("id")
    )
    candidates = [user for user in users if assignee in user.roles]
    policy = policy or default_policy()
    for user in candidates[:MAX_ASSIGNEE_CANDIDATES]:
        viewer = viewer_for(user, policy)
        if await visible_contracts(viewer).filter(id=contract.id).exists():
            return int(user.id)
    return None


async def _notify(task: Task, contract: Contract, user_id: int) -> Notification:
    title = f"New task: {task.title}"[:MAX_NOTIFICATION_TITLE_LENGTH]
    label = f"{contract.name} ({contract.number})" if contract.number else contract.name
    body = (
        f"Task {task.title!r} on contract {label!r} is due on "
        f"{task.due_date.isoformat()}."
    )
    return await Notification.create(
        organization_id=task.organization_id,
        user_id=user_id,
        contract_id=contract.id,
        kind=NOTIFICATION_KIND,
        source=f"task:{task.id}",
        title=title,
        body=body,
    )


async def complete_task(
    viewer: Viewer, task_id: int, *, policy: Policy | None = None
) -> Task:
    """Mark a task done and start the next step of its workflow.

    The assignee may complete a task, and so may everyone who may change its
    contract. Completing a task that is already done changes nothing, and of two
    requests that complete one task at once only one starts the next step.
    """
    task = await visible_tasks(viewer).filter(id=task_id).first()
    if task is None:
        raise NotFound(
            f"Task {encode_id('Task', task_id)!r} was not found: check the id, or "
            "ask the contract's owner to share the contract with you."
        )
    await _check_may_complete(viewer, task)
    if task.status is TaskStatus.CANCELLED:
        raise ValidationError(
            [
                FieldError(
                    "id",
                    "task_cancelled",
                    f"Task {encode_id('Task', task.id)!r} was cancelled because its "
                    "reminder no longer applies, so it cannot be completed.",
                )
            ]
        )
    if task.status is TaskStatus.DONE:
        return task

    notification = None
    async with in_transaction():
        changed = await Task.filter(id=task.id, status=TaskStatus.OPEN).update(
            status=TaskStatus.DONE,
            completed_at=datetime.now(UTC),
            completed_by_id=viewer.user_id,
        )
        if changed:
            await record_change(
                viewer, "task.complete", task, {"status": "open"}, {"status": "done"}
            )
            reminder = await Reminder.get(id=task.reminder_id)
            started = await _create_step(reminder, task.step + 1, viewer.today, policy)
            if started is not None:
                notification = started[1]
    if notification is not None:
        await publish(notification)
    await task.refresh_from_db()
    return task


async def _check_may_complete(viewer: Viewer, task: Task) -> None:
    if viewer.api_token:
        raise PermissionDenied(
            "API tokens may only read, so this token cannot complete tasks: log in "
            "as the task's assignee or as a user who may change the contract."
        )
    if task.assignee_id is not None and task.assignee_id == viewer.user_id:
        return
    contract = await Contract.get(id=task.contract_id)
    require_contract_write(viewer, contract)
