"""What the background scans produce: reminders, renewal tasks, notifications and the
renewal and expiry events of each contract.

Each table has a unique key that says what one row stands for, so that scans running
twice, or on several workers at once, insert each row exactly once.
"""

import enum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from contractgql.models import Contract, Organization, User


class ReminderKind(enum.StrEnum):
    # Before the notice deadline, for contracts with a notice period or auto-renewal.
    NOTICE = "notice"
    # Before the end date, for contracts without a notice period or auto-renewal.
    END = "end"
    # The periodic review of an open-ended contract.
    REVIEW = "review"
    # The notice deadline of an auto-renewing contract passed without notice.
    MISSED_NOTICE = "missed_notice"


class ReminderStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    # The contract's dates changed, so the anchor no longer applies.
    CANCELLED = "cancelled"


class Reminder(Model):
    """A reminder on a contract, due a given offset before its anchor date."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation["Organization"] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    organization_id: int
    contract: fields.ForeignKeyRelation["Contract"] = fields.ForeignKeyField(
        "models.Contract", related_name="reminders", on_delete=fields.CASCADE
    )
    contract_id: int
    kind = fields.CharEnumField(ReminderKind, max_length=20)
    anchor_date = fields.DateField()
    # The offset before the anchor, such as 3 months. 0 days for an alert.
    offset_count = fields.IntField()
    offset_unit = fields.CharField(max_length=10)
    due_date = fields.DateField()
    # Created after its due date, because the schedule changed or a scan was missed.
    late = fields.BooleanField(default=False)
    status = fields.CharEnumField(
        ReminderStatus, max_length=20, default=ReminderStatus.PENDING
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "reminders"
        unique_together = (
            ("contract", "kind", "anchor_date", "offset_count", "offset_unit"),
        )
        indexes = (("organization_id", "status", "due_date"),)


class TaskStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class Task(Model):
    """A step of a renewal workflow, started by a reminder, with an assignee."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation["Organization"] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    organization_id: int
    contract: fields.ForeignKeyRelation["Contract"] = fields.ForeignKeyField(
        "models.Contract", related_name="tasks", on_delete=fields.CASCADE
    )
    contract_id: int
    reminder: fields.ForeignKeyRelation["Reminder"] = fields.ForeignKeyField(
        "models.Reminder", related_name="tasks", on_delete=fields.CASCADE
    )
    reminder_id: int
    # Position of the step in the contract type's workflow, from 0.
    step = fields.IntField()
    title = fields.CharField(max_length=300)
    assignee: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="tasks", null=True, on_delete=fields.SET_NULL
    )
    assignee_id: int | None
    due_date = fields.DateField()
    status = fields.CharEnumField(TaskStatus, max_length=20, default=TaskStatus.OPEN)
    completed_at = fields.DatetimeField(null=True)
    completed_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    completed_by_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "tasks"
        unique_together = (("reminder", "step"),)
        indexes = (("organization_id", "status", "due_date"),)


class Notification(Model):
    """An in-app message to one user, about a reminder, task or contract event."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation["Organization"] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    organization_id: int
    user: fields.ForeignKeyRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="notifications", on_delete=fields.CASCADE
    )
    user_id: int
    contract: fields.ForeignKeyNullableRelation["Contract"] = fields.ForeignKeyField(
        "models.Contract", related_name=False, null=True, on_delete=fields.CASCADE
    )
    contract_id: int | None
    kind = fields.CharField(max_length=30)
    # What the notification is about, such as "reminder:42", unique per user.
    source = fields.CharField(max_length=100)
    title = fields.CharField(max_length=300)
    body = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)
    read_at = fields.DatetimeField(null=True)
    emailed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "notifications"
        unique_together = (("user", "source"),)
        indexes = (("user_id", "read_at"),)


class ContractEventKind(enum.StrEnum):
    RENEWED = "renewed"
    EXPIRED = "expired"
    NOTICE_GIVEN = "notice_given"
    NOTICE_RECEIVED = "notice_received"


class ContractEvent(Model):
    """A renewal, an expiry or recorded notice, kept as the contract's term history."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation["Organization"] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    organization_id: int
    contract: fields.ForeignKeyRelation["Contract"] = fields.ForeignKeyField(
        "models.Contract", related_name="events", on_delete=fields.CASCADE
    )
    contract_id: int
    kind = fields.CharEnumField(ContractEventKind, max_length=20)
    # The end date of the term the event belongs to, which makes it unique.
    term_end = fields.DateField(null=True)
    new_end_date = fields.DateField(null=True)
    # The day notice was given or received, for notice events.
    occurred_on = fields.DateField()
    # Amounts before and after indexation, in minor units. They are financial values:
    # only callers who may read Contract.amount see them.
    old_amount_minor = fields.BigIntField(null=True)
    new_amount_minor = fields.BigIntField(null=True)
    indexation_bp = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    created_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None

    class Meta:
        table = "contract_events"
        unique_together = (("contract", "kind", "term_end"),)
