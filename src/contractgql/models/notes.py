"""Free-text notes on a contract, client or project."""

from typing import TYPE_CHECKING

from tortoise import fields

from contractgql.models.base import Record

if TYPE_CHECKING:
    from contractgql.models import Client, Contract, Organization, Project, User


class Note(Record):
    organization: fields.ForeignKeyRelation["Organization"] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.RESTRICT
    )
    organization_id: int
    author: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    author_id: int | None
    contract: fields.ForeignKeyNullableRelation["Contract"] = fields.ForeignKeyField(
        "models.Contract", related_name="notes", null=True, on_delete=fields.RESTRICT
    )
    contract_id: int | None
    client: fields.ForeignKeyNullableRelation["Client"] = fields.ForeignKeyField(
        "models.Client", related_name="notes", null=True, on_delete=fields.RESTRICT
    )
    client_id: int | None
    project: fields.ForeignKeyNullableRelation["Project"] = fields.ForeignKeyField(
        "models.Project", related_name="notes", null=True, on_delete=fields.RESTRICT
    )
    project_id: int | None
    body = fields.TextField()

    class Meta:
        table = "notes"
