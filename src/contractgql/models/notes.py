"""Free-text notes on a contract, client or project."""

from tortoise import fields

from contractgql.models.base import Record


class Note(Record):
    organization = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.RESTRICT
    )
    author = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    contract = fields.ForeignKeyField(
        "models.Contract", related_name="notes", null=True, on_delete=fields.RESTRICT
    )
    client = fields.ForeignKeyField(
        "models.Client", related_name="notes", null=True, on_delete=fields.RESTRICT
    )
    project = fields.ForeignKeyField(
        "models.Project", related_name="notes", null=True, on_delete=fields.RESTRICT
    )
    body = fields.TextField()

    class Meta:
        table = "notes"
