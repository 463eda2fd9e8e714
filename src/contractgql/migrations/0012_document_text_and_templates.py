from tortoise import migrations
from tortoise.migrations import operations as ops
from contractgql.models.documents import TextStatus
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0011_documents')]

    initial = False

    operations = [
        ops.CreateModel(
            name='DocumentTemplate',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('name', fields.CharField(max_length=200)),
                ('file_name', fields.CharField(max_length=255)),
                ('size', fields.BigIntField()),
                ('sha256', fields.CharField(max_length=64)),
                ('placeholders', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('created_by', fields.ForeignKeyField('models.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'document_templates', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A DOCX template of an organization, with Jinja placeholders.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DocumentText',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('document', fields.ForeignKeyField('models.Document', source_field='document_id', db_constraint=True, to_field='id', related_name='texts', on_delete=OnDelete.RESTRICT)),
                ('version', fields.OneToOneField('models.DocumentVersion', source_field='version_id', db_constraint=True, to_field='id', related_name='text', on_delete=OnDelete.RESTRICT)),
                ('version_number', fields.IntField()),
                ('text', fields.TextField(unique=False)),
                ('truncated', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'document_texts', 'app': 'models', 'pk_attr': 'id', 'table_description': 'The text extracted from one document version, for the search in documents.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='DocumentVersion',
            name='text_attempts',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='DocumentVersion',
            name='text_error',
            field=fields.CharField(null=True, max_length=1000),
        ),
        ops.AddField(
            model_name='DocumentVersion',
            name='text_extracted_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='DocumentVersion',
            name='text_status',
            field=fields.CharEnumField(default=TextStatus.PENDING, db_index=True, description='PENDING: pending\nDONE: done\nNO_TEXT: no_text\nFAILED: failed\nUNSUPPORTED: unsupported', db_default='pending', enum_type=TextStatus, max_length=20),
        ),
    ]
