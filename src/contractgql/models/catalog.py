"""Organization-wide choice lists and catalogues: types, projects, services, tags."""

from typing import TYPE_CHECKING, Any

from tortoise import fields

from contractgql.models.base import Record

if TYPE_CHECKING:
    from contractgql.models import Client, Organization


class ContractType(Record):
    """A managed contract type with its default reminder schedule."""

    organization: fields.ForeignKeyRelation["Organization"] = fields.ForeignKeyField(
        "models.Organization", related_name="contract_types", on_delete=fields.RESTRICT
    )
    organization_id: int
    name = fields.CharField(max_length=100)
    description = fields.TextField(null=True)
    # Reminder offsets before the anchor date, e.g. [{"count": 3, "unit": "months"}].
    reminder_offsets: fields.JSONField[list[dict[str, Any]]] = fields.JSONField(
        default=list
    )

    class Meta:
        table = "contract_types"
        unique_together = (("organization", "name"),)


class Project(Record):
    organization: fields.ForeignKeyRelation["Organization"] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.RESTRICT
    )
    organization_id: int
    client: fields.ForeignKeyRelation["Client"] = fields.ForeignKeyField(
        "models.Client", related_name="projects", on_delete=fields.RESTRICT
    )
    client_id: int
    name = fields.CharField(max_length=300)
    code = fields.CharField(max_length=50, null=True)
    description = fields.TextField(null=True)
    custom_fields: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)

    class Meta:
        table = "projects"


class Service(Record):
    """A catalogue item such as maintenance, a licence, hosting or support hours."""

    organization: fields.ForeignKeyRelation["Organization"] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.RESTRICT
    )
    organization_id: int
    name = fields.CharField(max_length=200)
    code = fields.CharField(max_length=50, null=True)
    description = fields.TextField(null=True)

    class Meta:
        table = "services"


class Tag(Record):
    organization: fields.ForeignKeyRelation["Organization"] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.RESTRICT
    )
    organization_id: int
    name = fields.CharField(max_length=100)
    # A CSS hex colour such as "#d97706".
    color = fields.CharField(max_length=7, default="#6b7280")

    class Meta:
        table = "tags"
        unique_together = (("organization", "name"),)
