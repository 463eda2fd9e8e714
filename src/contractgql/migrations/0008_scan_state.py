from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0007_audit')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Contract',
            name='next_scan_on',
            field=fields.DateField(null=True),
        ),
        ops.AddField(
            model_name='Contract',
            name='scanned_version',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddIndex(
            model_name='Contract',
            index=Index(fields=['organization_id', 'next_scan_on']),
        ),
        # The contracts that no scan has planned in their current version. SQLite
        # and PostgreSQL both accept this partial index, which the models cannot
        # declare.
        ops.RunSQL(
            'CREATE INDEX contracts_unscanned ON contracts (organization_id, id) '
            'WHERE scanned_version <> version',
            reverse_sql='DROP INDEX contracts_unscanned',
        ),
    ]
