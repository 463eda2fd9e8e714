from tortoise import migrations


class Migration(migrations.Migration):
    dependencies = [('models', '0014_time_entries')]

    initial = False

    operations: list = []
