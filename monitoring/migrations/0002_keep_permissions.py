"""Who could see the alerts still can: the moved model keeps its content type and permissions."""

from django.db import migrations


def move_content_type(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    old = ContentType.objects.filter(app_label="kaspiconnect", model="alert").first()
    if old is None or ContentType.objects.filter(app_label="monitoring", model="alert").exists():
        return  # a new installation: Django makes the new ones
    old.app_label = "monitoring"
    old.save(update_fields=["app_label"])


class Migration(migrations.Migration):

    dependencies = [
        ("monitoring", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(move_content_type, migrations.RunPython.noop),
    ]
