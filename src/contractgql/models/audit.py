"""The audit trail: an outbox written with each change, and the hash-chained log."""

from tortoise import fields
from tortoise.models import Model


class AuditOutbox(Model):
    """A change waiting to be appended to its organization's audit log, in id order."""

    id = fields.BigIntField(primary_key=True)
    organization_id = fields.BigIntField(db_index=True)
    actor_id = fields.BigIntField(null=True)
    action = fields.CharField(max_length=100)
    entity_type = fields.CharField(max_length=50)
    entity_id = fields.BigIntField()
    # A list of {"field", "old", "new"} objects, keyed by GraphQL field names.
    changes: fields.JSONField[list[dict[str, object]]] = fields.JSONField()
    request_id = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "audit_outbox"


class AuditLog(Model):
    """One entry of an organization's audit chain, numbered from 1 without gaps."""

    id = fields.BigIntField(primary_key=True)
    organization_id = fields.BigIntField()
    sequence = fields.BigIntField()
    outbox_id = fields.BigIntField()
    # 0 for an event of one change. A batch event, such as the creations of an
    # import batch, gives one entry per record, numbered from 1.
    outbox_item = fields.IntField(default=0, db_default=0)
    actor_id = fields.BigIntField(null=True)
    action = fields.CharField(max_length=100)
    entity_type = fields.CharField(max_length=50)
    entity_id = fields.BigIntField()
    changes: fields.JSONField[list[dict[str, object]]] = fields.JSONField()
    request_id = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField()
    prev_hash = fields.CharField(max_length=64)
    hash = fields.CharField(max_length=64)

    class Meta:
        table = "audit_log"
        unique_together = (
            ("organization_id", "sequence"),
            ("outbox_id", "outbox_item"),
        )
        indexes = (("organization_id", "entity_type", "entity_id"),)


class AuditChainHead(Model):
    """The last sequence number and hash of an organization's audit chain.

    Recorders update this row first in their transaction, which locks it, so one
    recorder at a time appends to an organization's chain.
    """

    id = fields.BigIntField(primary_key=True)
    organization_id = fields.BigIntField(unique=True)
    sequence = fields.BigIntField(default=0)
    hash = fields.CharField(max_length=64)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "audit_chain_heads"
