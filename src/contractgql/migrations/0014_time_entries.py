from tortoise import migrations


class Migration(migrations.Migration):
    dependencies = [('models', '0013_import_jobs')]

    initial = False

    operations: list = []
