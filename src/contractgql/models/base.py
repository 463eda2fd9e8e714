"""Columns shared by the editable records of an organization."""

from tortoise import fields
from tortoise.models import Model


class Record(Model):
    """An editable row: timestamps, a version for optimistic locking, soft archive."""

    id = fields.BigIntField(primary_key=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    version = fields.IntField(default=1)
    archived_at = fields.DatetimeField(null=True)

    class Meta:
        abstract = True
