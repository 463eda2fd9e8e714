from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0006_token_generation')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AuditChainHead',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization_id', fields.BigIntField(unique=True)),
                ('sequence', fields.BigIntField(default=0)),
                ('hash', fields.CharField(max_length=64)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'audit_chain_heads', 'app': 'models', 'pk_attr': 'id', 'table_description': "The last sequence number and hash of an organization's audit chain."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AuditLog',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization_id', fields.BigIntField()),
                ('sequence', fields.BigIntField()),
                ('outbox_id', fields.BigIntField(unique=True)),
                ('actor_id', fields.BigIntField(null=True)),
                ('action', fields.CharField(max_length=100)),
                ('entity_type', fields.CharField(max_length=50)),
                ('entity_id', fields.BigIntField()),
                ('changes', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('request_id', fields.CharField(null=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('prev_hash', fields.CharField(max_length=64)),
                ('hash', fields.CharField(max_length=64)),
            ],
            options={'table': 'audit_log', 'app': 'models', 'unique_together': (('organization_id', 'sequence'),), 'indexes': [Index(fields=['organization_id', 'entity_type', 'entity_id'])], 'pk_attr': 'id', 'table_description': "One entry of an organization's audit chain, numbered from 1 without gaps."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AuditOutbox',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization_id', fields.BigIntField(db_index=True)),
                ('actor_id', fields.BigIntField(null=True)),
                ('action', fields.CharField(max_length=100)),
                ('entity_type', fields.CharField(max_length=50)),
                ('entity_id', fields.BigIntField()),
                ('changes', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('request_id', fields.CharField(null=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'audit_outbox', 'app': 'models', 'pk_attr': 'id', 'table_description': "A change waiting to be appended to its organization's audit log, in id order."},
            bases=['Model'],
        ),
    ]
