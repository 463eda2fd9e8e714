"""Organization-wide choice lists and catalogues: types, projects, services, tags."""

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

from contractgql.models.base import Record

if TYPE_CHECKING:
    from contractgql.models import Client, Organization, User


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
    # Renewal workflow steps started by a reminder, in order, as
    # [{"title": "Contact the client", "assignee": "owner", "days_after": 0}].
    # "assignee" is "owner" or a role, and "days_after" counts from the completion of
    # the step before (from the reminder's due date for the first step).
    # Nullable because SQLite cannot add a NOT NULL column to an existing table, and
    # None means no workflow, as [] does.
    renewal_workflow: fields.JSONField[list[dict[str, Any]] | None] = fields.JSONField(
        null=True, default=list
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


class ProjectMember(Model):
    """A user who works on a project. Project staff see the contracts of its client."""

    id = fields.BigIntField(primary_key=True)
    project: fields.ForeignKeyRelation["Project"] = fields.ForeignKeyField(
        "models.Project", related_name="members", on_delete=fields.CASCADE
    )
    project_id: int
    user: fields.ForeignKeyRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="project_memberships", on_delete=fields.CASCADE
    )
    user_id: int

    class Meta:
        table = "project_members"
        unique_together = (("project", "user"),)


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
