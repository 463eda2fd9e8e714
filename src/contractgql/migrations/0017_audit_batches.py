"""Let one outbox event become several audit entries, numbered by outbox_item.

An import writes one outbox event per batch of new contracts, and the recorder
appends one audit entry per contract of it. The entries of an event share its
outbox id, so the unique key moves from outbox_id to (outbox_id, outbox_item).

On SQLite, Tortoise alters the column by rebuilding the table, and the rebuilt
table lacks the unique key on (organization_id, sequence) and the index on
(organization_id, entity_type, entity_id). The last step recreates both.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.migrations.constraints import UniqueConstraint
from tortoise.migrations.schema_editor.base import BaseSchemaEditor

SQLITE_INDEXES = (
    'CREATE UNIQUE INDEX IF NOT EXISTS "uid_audit_log_organiz_9add03" '
    'ON "audit_log" ("organization_id", "sequence")',
    'CREATE INDEX IF NOT EXISTS "idx_audit_log_organiz_9406e1" '
    'ON "audit_log" ("organization_id", "entity_type", "entity_id")',
)


async def restore_sqlite_indexes(apps: object, schema_editor: BaseSchemaEditor) -> None:
    if schema_editor.DIALECT == "sqlite":
        for statement in SQLITE_INDEXES:
            await schema_editor.client.execute_script(statement)


async def keep_indexes(apps: object, schema_editor: BaseSchemaEditor) -> None:
    """Nothing to undo: the indexes belong to the table before this migration too."""

class Migration(migrations.Migration):
    dependencies = [('models', '0016_report_sums')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='AuditLog',
            name='outbox_id',
            field=fields.BigIntField(),
        ),
        ops.AddField(
            model_name='AuditLog',
            name='outbox_item',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddConstraint(
            model_name='AuditLog',
            constraint=UniqueConstraint(fields=('outbox_id', 'outbox_item'), name=None),
        ),
        ops.RunPython(restore_sqlite_indexes, reverse_code=keep_indexes),
    ]
