from tortoise import migrations
from tortoise.migrations import operations as ops
from contractgql.models.imports import ImportFormat, ImportStatus
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0012_document_text_and_templates')]

    initial = False

    operations: list[ops.Operation] = [
        ops.CreateModel(
            name='ImportJob',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('created_by', fields.ForeignKeyField('models.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('file_name', fields.CharField(max_length=255)),
                ('stored_path', fields.CharField(max_length=1000)),
                ('file_format', fields.CharEnumField(description='REGISTER: register\nDECP: decp', enum_type=ImportFormat, max_length=20)),
                ('options', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('status', fields.CharEnumField(description='QUEUED: queued\nRUNNING: running\nSUCCEEDED: succeeded\nFAILED: failed\nCANCELLED: cancelled', enum_type=ImportStatus, max_length=20)),
                ('total_rows', fields.IntField(null=True)),
                ('rows_read', fields.IntField(default=0)),
                ('rows_created', fields.IntField(default=0)),
                ('rows_updated', fields.IntField(default=0)),
                ('rows_unchanged', fields.IntField(default=0)),
                ('rows_duplicate', fields.IntField(default=0)),
                ('rows_rejected', fields.IntField(default=0)),
                ('errors', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('warnings', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('failure', fields.TextField(null=True, unique=False)),
                ('cancel_requested', fields.BooleanField(default=False)),
                ('attempts', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'import_jobs', 'app': 'models', 'indexes': [Index(fields=['organization_id', 'created_at'])], 'pk_attr': 'id', 'table_description': 'An import of one file, its status, row counts, rejected rows and warnings.'},
            bases=['Model'],
        ),
    ]
