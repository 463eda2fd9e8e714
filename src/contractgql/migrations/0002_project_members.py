from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ProjectMember',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('project', fields.ForeignKeyField('models.Project', source_field='project_id', db_constraint=True, to_field='id', related_name='members', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='project_memberships', on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'project_members', 'app': 'models', 'unique_together': (('project', 'user'),), 'pk_attr': 'id', 'table_description': 'A user who works on a project. Project staff see the contracts of its client.'},
            bases=['Model'],
        ),
    ]
