"""Contracts and their links to projects, services, tags and watchers."""

import enum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

from contractgql.domain.dates import PeriodUnit
from contractgql.domain.money import PaymentFrequency
from contractgql.models.base import Record

if TYPE_CHECKING:
    from contractgql.models import (
        Client,
        ContactPerson,
        ContractType,
        Organization,
        Project,
        Service,
        Tag,
        User,
    )


class ContractStage(enum.StrEnum):
    """The recorded stage; the status shown to users also depends on today's date."""

    DRAFT = "draft"
    SIGNED = "signed"
    CANCELLED = "cancelled"


class Sensitivity(enum.StrEnum):
    NORMAL = "normal"
    CONFIDENTIAL = "confidential"


class Contract(Record):
    organization: fields.ForeignKeyRelation["Organization"] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.RESTRICT
    )
    organization_id: int
    client: fields.ForeignKeyRelation["Client"] = fields.ForeignKeyField(
        "models.Client", related_name="contracts", on_delete=fields.RESTRICT
    )
    client_id: int
    contract_type: fields.ForeignKeyNullableRelation["ContractType"] = (
        fields.ForeignKeyField(
            "models.ContractType",
            related_name="contracts",
            null=True,
            on_delete=fields.RESTRICT,
        )
    )
    contract_type_id: int | None
    owner: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User",
        related_name="owned_contracts",
        null=True,
        on_delete=fields.SET_NULL,
    )
    owner_id: int | None
    contact: fields.ForeignKeyNullableRelation["ContactPerson"] = (
        fields.ForeignKeyField(
            "models.ContactPerson",
            related_name="contracts",
            null=True,
            on_delete=fields.SET_NULL,
        )
    )
    contact_id: int | None
    parent: fields.ForeignKeyNullableRelation["Contract"] = fields.ForeignKeyField(
        "models.Contract",
        related_name="children",
        null=True,
        on_delete=fields.RESTRICT,
    )
    parent_id: int | None

    number = fields.CharField(max_length=100, null=True)
    name = fields.CharField(max_length=300)
    description = fields.TextField(null=True)
    stage = fields.CharEnumField(ContractStage, default=ContractStage.SIGNED)
    sensitivity = fields.CharEnumField(Sensitivity, default=Sensitivity.NORMAL)

    start_date = fields.DateField()
    # None means open-ended. The end date is inclusive.
    end_date = fields.DateField(null=True)
    signed_date = fields.DateField(null=True)
    # Derived from end_date and the notice period on every save, kept for filtering.
    notice_deadline = fields.DateField(null=True)

    payment_frequency = fields.CharEnumField(
        PaymentFrequency, default=PaymentFrequency.ONE_OFF
    )
    # Amount per billing period in the currency's minor unit, excluding VAT.
    amount_minor = fields.BigIntField(null=True)
    currency = fields.CharField(max_length=3)
    # Percentages in basis points: 2100 is 21%.
    vat_rate_bp = fields.IntField(null=True)
    indexation_bp = fields.IntField(null=True)
    renewal_price_agreement = fields.TextField(null=True)

    auto_renewal = fields.BooleanField(default=False)
    renewal_term_count = fields.IntField(null=True)
    renewal_term_unit = fields.CharEnumField(PeriodUnit, null=True)
    notice_count = fields.IntField(null=True)
    notice_unit = fields.CharEnumField(PeriodUnit, null=True)
    notice_to_month_end = fields.BooleanField(default=False)
    # Notice that ends the contract: the day it was given or received, and by whom
    # ("client" or "organization"). The end date it takes effect on is computed.
    notice_date = fields.DateField(null=True)
    notice_party = fields.CharField(max_length=20, null=True)
    # Reminder offsets that replace the contract type's, as
    # [{"count": 3, "unit": "months"}], or None to use the type's.
    reminder_offsets: fields.JSONField[list[dict[str, Any]] | None] = fields.JSONField(
        null=True
    )

    custom_fields: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    projects: fields.ManyToManyRelation["Project"] = fields.ManyToManyField(
        "models.Project", related_name="contracts", through="contract_projects"
    )
    services: fields.ManyToManyRelation["Service"] = fields.ManyToManyField(
        "models.Service", related_name="contracts", through="contract_services"
    )
    tags: fields.ManyToManyRelation["Tag"] = fields.ManyToManyField(
        "models.Tag", related_name="contracts", through="contract_tags"
    )
    created_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None

    # What the last reminder scan planned: the version it read, and the first day
    # on which a reminder that was not due then becomes due, null when none will.
    # Scans skip contracts whose version is scanned_version until next_scan_on.
    # Every change increments the version, and 0 is never a version, so a new or
    # changed contract is planned at the next scan.
    scanned_version = fields.IntField(default=0, db_default=0)
    next_scan_on = fields.DateField(null=True)

    class Meta:
        table = "contracts"
        unique_together = (("organization", "number"),)
        # The migration also creates the partial index contracts_unscanned on
        # (organization_id, id) where scanned_version <> version.
        indexes = (
            ("organization_id", "end_date"),
            ("organization_id", "notice_deadline"),
            ("organization_id", "client_id"),
            ("organization_id", "next_scan_on"),
        )


class ContractWatcher(Model):
    """A user who follows a contract. Watchers may see it even when it is confidential."""  # noqa: E501

    id = fields.BigIntField(primary_key=True)
    contract: fields.ForeignKeyRelation["Contract"] = fields.ForeignKeyField(
        "models.Contract", related_name="watchers", on_delete=fields.CASCADE
    )
    contract_id: int
    user: fields.ForeignKeyRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="watching", on_delete=fields.CASCADE
    )
    user_id: int

    class Meta:
        table = "contract_watchers"
        unique_together = (("contract", "user"),)
