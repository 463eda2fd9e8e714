"""Columns shared by the editable records of an organization."""

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from contractgql.models import User


class Record(Model):
    """An editable row: timestamps, last editor, a version for locking, soft archive."""

    id = fields.BigIntField(primary_key=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    # The user who made the last change through the API. Imports and scans change
    # rows without a user and leave it as it was. It is null on imported rows, on
    # rows that no user has changed since the column was added, and after that
    # user is deleted.
    updated_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    updated_by_id: int | None
    version = fields.IntField(default=1)
    archived_at = fields.DatetimeField(null=True)

    class Meta:
        abstract = True
