from tortoise import migrations
from tortoise.migrations import operations as ops
from contractgql.models.workflow import ContractEventKind, ReminderKind, ReminderStatus, TaskStatus
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0003_api_tokens')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ContractEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('contract', fields.ForeignKeyField('models.Contract', source_field='contract_id', db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='RENEWED: renewed\nEXPIRED: expired\nNOTICE_GIVEN: notice_given\nNOTICE_RECEIVED: notice_received', enum_type=ContractEventKind, max_length=20)),
                ('term_end', fields.DateField(null=True)),
                ('new_end_date', fields.DateField(null=True)),
                ('occurred_on', fields.DateField()),
                ('old_amount_minor', fields.BigIntField(null=True)),
                ('new_amount_minor', fields.BigIntField(null=True)),
                ('indexation_bp', fields.IntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('created_by', fields.ForeignKeyField('models.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'contract_events', 'app': 'models', 'unique_together': (('contract', 'kind', 'term_end'),), 'pk_attr': 'id', 'table_description': "A renewal, an expiry or recorded notice, kept as the contract's term history."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Notification',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='notifications', on_delete=OnDelete.CASCADE)),
                ('contract', fields.ForeignKeyField('models.Contract', source_field='contract_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=30)),
                ('source', fields.CharField(max_length=100)),
                ('title', fields.CharField(max_length=300)),
                ('body', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('read_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('emailed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'notifications', 'app': 'models', 'unique_together': (('user', 'source'),), 'indexes': [Index(fields=['user_id', 'read_at'])], 'pk_attr': 'id', 'table_description': 'An in-app message to one user, about a reminder, task or contract event.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Reminder',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('contract', fields.ForeignKeyField('models.Contract', source_field='contract_id', db_constraint=True, to_field='id', related_name='reminders', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='NOTICE: notice\nEND: end\nREVIEW: review\nMISSED_NOTICE: missed_notice', enum_type=ReminderKind, max_length=20)),
                ('anchor_date', fields.DateField()),
                ('offset_count', fields.IntField()),
                ('offset_unit', fields.CharField(max_length=10)),
                ('due_date', fields.DateField()),
                ('late', fields.BooleanField(default=False)),
                ('status', fields.CharEnumField(default=ReminderStatus.PENDING, description='PENDING: pending\nDONE: done\nCANCELLED: cancelled', enum_type=ReminderStatus, max_length=20)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'reminders', 'app': 'models', 'unique_together': (('contract', 'kind', 'anchor_date', 'offset_count', 'offset_unit'),), 'indexes': [Index(fields=['organization_id', 'status', 'due_date'])], 'pk_attr': 'id', 'table_description': 'A reminder on a contract, due a given offset before its anchor date.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Task',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('contract', fields.ForeignKeyField('models.Contract', source_field='contract_id', db_constraint=True, to_field='id', related_name='tasks', on_delete=OnDelete.CASCADE)),
                ('reminder', fields.ForeignKeyField('models.Reminder', source_field='reminder_id', db_constraint=True, to_field='id', related_name='tasks', on_delete=OnDelete.CASCADE)),
                ('step', fields.IntField()),
                ('title', fields.CharField(max_length=300)),
                ('assignee', fields.ForeignKeyField('models.User', source_field='assignee_id', null=True, db_constraint=True, to_field='id', related_name='tasks', on_delete=OnDelete.SET_NULL)),
                ('due_date', fields.DateField()),
                ('status', fields.CharEnumField(default=TaskStatus.OPEN, description='OPEN: open\nDONE: done\nCANCELLED: cancelled', enum_type=TaskStatus, max_length=20)),
                ('completed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('completed_by', fields.ForeignKeyField('models.User', source_field='completed_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'tasks', 'app': 'models', 'unique_together': (('reminder', 'step'),), 'indexes': [Index(fields=['organization_id', 'status', 'due_date'])], 'pk_attr': 'id', 'table_description': 'A step of a renewal workflow, started by a reminder, with an assignee.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Contract',
            name='notice_date',
            field=fields.DateField(null=True),
        ),
        ops.AddField(
            model_name='Contract',
            name='notice_party',
            field=fields.CharField(null=True, max_length=20),
        ),
        ops.AddField(
            model_name='Contract',
            name='reminder_offsets',
            field=fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AddField(
            model_name='ContractType',
            name='renewal_workflow',
            field=fields.JSONField(null=True, default=list, encoder=JSON_DUMPS, decoder=loads),
        ),
    ]
