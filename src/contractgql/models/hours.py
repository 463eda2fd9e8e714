"""Time and material entries on projects, and the caps that contracts set on them."""

import enum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from contractgql.models.base import Record

if TYPE_CHECKING:
    from contractgql.models import Contract, Organization, Project, User


class EntryKind(enum.StrEnum):
    HOURS = "hours"
    MATERIAL = "material"


class EntryStatus(enum.StrEnum):
    # Counts against the contract's caps.
    APPROVED = "approved"
    # Would exceed a cap and waits for a role that may approve overruns.
    PENDING_APPROVAL = "pending_approval"


class CapUnit(enum.StrEnum):
    HOURS = "hours"
    AMOUNT = "amount"


class CapPeriod(enum.StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"
    TERM = "term"


class TimeEntry(Record):
    """Hours worked or material used on a project, under the contract that covers it.

    Hours are stored in hundredths of an hour and amounts in minor units, so sums
    are exact integers on every backend. Deleting an entry sets archived_at.
    """

    organization: fields.ForeignKeyRelation["Organization"] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.RESTRICT
    )
    organization_id: int
    project: fields.ForeignKeyRelation["Project"] = fields.ForeignKeyField(
        "models.Project", related_name="time_entries", on_delete=fields.RESTRICT
    )
    project_id: int
    contract: fields.ForeignKeyRelation["Contract"] = fields.ForeignKeyField(
        "models.Contract", related_name="time_entries", on_delete=fields.RESTRICT
    )
    contract_id: int
    person: fields.ForeignKeyRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.RESTRICT
    )
    person_id: int
    entry_date = fields.DateField()
    kind = fields.CharEnumField(EntryKind, max_length=20)
    hours_hundredths = fields.BigIntField(null=True)
    amount_minor = fields.BigIntField(null=True)
    currency = fields.CharField(max_length=3, null=True)
    description = fields.TextField()
    billable = fields.BooleanField(default=True)
    status = fields.CharEnumField(
        EntryStatus, max_length=20, default=EntryStatus.APPROVED
    )
    approved_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    approved_by_id: int | None
    approved_at = fields.DatetimeField(null=True)

    class Meta:
        table = "time_entries"
        indexes = (("contract_id", "entry_date"), ("project_id", "entry_date"))


class ContractCap(Record):
    """A limit in hours or in an amount per month, quarter, year or the whole term.

    Only approved, billable entries that are not deleted count against it. An
    amount cap counts the material entries in its currency.
    """

    organization: fields.ForeignKeyRelation["Organization"] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.RESTRICT
    )
    organization_id: int
    contract: fields.ForeignKeyRelation["Contract"] = fields.ForeignKeyField(
        "models.Contract", related_name="caps", on_delete=fields.RESTRICT
    )
    contract_id: int
    unit = fields.CharEnumField(CapUnit, max_length=20)
    period = fields.CharEnumField(CapPeriod, max_length=20)
    limit_hundredths = fields.BigIntField(null=True)
    limit_minor = fields.BigIntField(null=True)
    currency = fields.CharField(max_length=3, null=True)
    # Percentage of the limit from which entries warn. Null uses the
    # organization's default.
    warning_percent = fields.IntField(null=True)

    class Meta:
        table = "contract_caps"
        unique_together = (("contract", "unit", "period"),)


class BudgetSettings(Model):
    """An organization's default warning threshold for contract caps."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.OneToOneRelation["Organization"] = fields.OneToOneField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    organization_id: int
    warning_percent = fields.IntField(default=80)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "budget_settings"
