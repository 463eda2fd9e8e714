"""Custom field definitions; the values live in each record's custom_fields column."""

import enum
from typing import TYPE_CHECKING

from tortoise import fields

from contractgql.models.base import Record

if TYPE_CHECKING:
    from contractgql.models import Organization


class CustomFieldKind(enum.StrEnum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    BOOLEAN = "boolean"
    CHOICE = "choice"


class CustomFieldEntity(enum.StrEnum):
    CONTRACT = "contract"
    CLIENT = "client"
    PROJECT = "project"


class CustomFieldDefinition(Record):
    organization: fields.ForeignKeyRelation["Organization"] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.RESTRICT
    )
    organization_id: int
    entity = fields.CharEnumField(CustomFieldEntity)
    # Key under which values are stored, e.g. "cost_centre".
    key = fields.CharField(max_length=64)
    label = fields.CharField(max_length=200)
    kind = fields.CharEnumField(CustomFieldKind)
    choices: fields.JSONField[list[str]] = fields.JSONField(default=list)
    required = fields.BooleanField(default=False)

    class Meta:
        table = "custom_field_definitions"
        unique_together = (("organization", "entity", "key"),)
