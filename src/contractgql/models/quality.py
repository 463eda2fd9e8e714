"""Data quality: required-field rules and the days their signals were sent."""

import enum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from contractgql.models.base import Record

if TYPE_CHECKING:
    from contractgql.models import ContractType, Organization


class ContractField(enum.StrEnum):
    """A contract field that rules can require and the completeness report checks."""

    NUMBER = "number"
    CONTRACT_TYPE = "contract_type"
    OWNER = "owner"
    CONTACT = "contact"
    DESCRIPTION = "description"
    END_DATE = "end_date"
    SIGNED_DATE = "signed_date"
    NOTICE_PERIOD = "notice_period"
    RENEWAL_TERM = "renewal_term"
    AMOUNT = "amount"
    VAT_RATE = "vat_rate"
    SIGNED_DOCUMENT = "signed_document"


class RequiredFieldRule(Record):
    """Fields that contracts of one type, or of every type, must have in some stages"""

    organization: fields.ForeignKeyRelation["Organization"] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.RESTRICT
    )
    organization_id: int
    # Null applies the rule to contracts of every type, and to those without one.
    contract_type: fields.ForeignKeyNullableRelation["ContractType"] = (
        fields.ForeignKeyField(
            "models.ContractType",
            related_name=False,
            null=True,
            on_delete=fields.RESTRICT,
        )
    )
    contract_type_id: int | None
    name = fields.CharField(max_length=200)
    # ContractField values, such as ["notice_period", "owner"].
    required_fields: fields.JSONField[list[str]] = fields.JSONField(default=list)
    # ContractStage values of the contracts the rule applies to.
    stages: fields.JSONField[list[str]] = fields.JSONField(default=list)

    class Meta:
        table = "required_field_rules"
        indexes = (("organization_id", "contract_type_id"),)


class QualityNotificationRun(Model):
    """A local day on which an organization's data quality signals were notified"""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation["Organization"] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    organization_id: int
    day = fields.DateField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "quality_notification_runs"
        unique_together = (("organization", "day"),)
