from tortoise import migrations


class Migration(migrations.Migration):
    dependencies = [('models', '0012_document_text_and_templates')]

    initial = False

    operations: list = []
