from tortoise import migrations
from tortoise.migrations import operations as ops
from contractgql.models.hours import CapPeriod, CapUnit, EntryKind, EntryStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0013_import_jobs')]

    initial = False

    operations = [
        ops.CreateModel(
            name='BudgetSettings',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.OneToOneField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('warning_percent', fields.IntField(default=80)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'budget_settings', 'app': 'models', 'pk_attr': 'id', 'table_description': "An organization's default warning threshold for contract caps."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ContractCap',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('updated_by', fields.ForeignKeyField('models.User', source_field='updated_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('version', fields.IntField(default=1)),
                ('archived_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('contract', fields.ForeignKeyField('models.Contract', source_field='contract_id', db_constraint=True, to_field='id', related_name='caps', on_delete=OnDelete.RESTRICT)),
                ('unit', fields.CharEnumField(description='HOURS: hours\nAMOUNT: amount', enum_type=CapUnit, max_length=20)),
                ('period', fields.CharEnumField(description='MONTH: month\nQUARTER: quarter\nYEAR: year\nTERM: term', enum_type=CapPeriod, max_length=20)),
                ('limit_hundredths', fields.BigIntField(null=True)),
                ('limit_minor', fields.BigIntField(null=True)),
                ('currency', fields.CharField(null=True, max_length=3)),
                ('warning_percent', fields.IntField(null=True)),
            ],
            options={'table': 'contract_caps', 'app': 'models', 'unique_together': (('contract', 'unit', 'period'),), 'pk_attr': 'id', 'table_description': 'A limit in hours or in an amount per month, quarter, year or the whole term.'},
            bases=['Record'],
        ),
        ops.CreateModel(
            name='TimeEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('updated_by', fields.ForeignKeyField('models.User', source_field='updated_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('version', fields.IntField(default=1)),
                ('archived_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('project', fields.ForeignKeyField('models.Project', source_field='project_id', db_constraint=True, to_field='id', related_name='time_entries', on_delete=OnDelete.RESTRICT)),
                ('contract', fields.ForeignKeyField('models.Contract', source_field='contract_id', db_constraint=True, to_field='id', related_name='time_entries', on_delete=OnDelete.RESTRICT)),
                ('person', fields.ForeignKeyField('models.User', source_field='person_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('entry_date', fields.DateField()),
                ('kind', fields.CharEnumField(description='HOURS: hours\nMATERIAL: material', enum_type=EntryKind, max_length=20)),
                ('hours_hundredths', fields.BigIntField(null=True)),
                ('amount_minor', fields.BigIntField(null=True)),
                ('currency', fields.CharField(null=True, max_length=3)),
                ('description', fields.TextField(unique=False)),
                ('billable', fields.BooleanField(default=True)),
                ('status', fields.CharEnumField(default=EntryStatus.APPROVED, description='APPROVED: approved\nPENDING_APPROVAL: pending_approval', enum_type=EntryStatus, max_length=20)),
                ('approved_by', fields.ForeignKeyField('models.User', source_field='approved_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('approved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'time_entries', 'app': 'models', 'indexes': [Index(fields=['contract_id', 'entry_date']), Index(fields=['project_id', 'entry_date'])], 'pk_attr': 'id', 'table_description': 'Hours worked or material used on a project, under the contract that covers it.'},
            bases=['Record'],
        ),
    ]
