from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0009_record_updated_by')]

    initial = False

    operations = [
        ops.AddField(
            model_name='User',
            name='updated_by',
            field=fields.ForeignKeyField('models.User', source_field='updated_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='User',
            name='version',
            field=fields.IntField(default=1, db_default=1),
        ),
    ]
