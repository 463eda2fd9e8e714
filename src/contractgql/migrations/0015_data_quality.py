from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0014_time_entries')]

    initial = False

    operations = [
        ops.CreateModel(
            name='QualityNotificationRun',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('day', fields.DateField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'quality_notification_runs', 'app': 'models', 'unique_together': (('organization', 'day'),), 'pk_attr': 'id', 'table_description': "A local day on which an organization's data quality signals were notified"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RequiredFieldRule',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('updated_by', fields.ForeignKeyField('models.User', source_field='updated_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('version', fields.IntField(default=1)),
                ('archived_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('contract_type', fields.ForeignKeyField('models.ContractType', source_field='contract_type_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('name', fields.CharField(max_length=200)),
                ('required_fields', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('stages', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
            ],
            options={'table': 'required_field_rules', 'app': 'models', 'indexes': [Index(fields=['organization_id', 'contract_type_id'])], 'pk_attr': 'id', 'table_description': 'Fields that contracts of one type, or of every type, must have in some stages'},
            bases=['Record'],
        ),
    ]
