"""Who could see the sync runs can see the job runs: the moved model keeps its content type and permissions."""

from django.db import migrations

RENAMES = {"add": "add", "change": "change", "delete": "delete", "view": "view"}


def move_content_type(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    old = ContentType.objects.filter(app_label="catalog", model="syncrun").first()
    if old is None or ContentType.objects.filter(app_label="jobs", model="jobrun").exists():
        return  # a new installation: Django makes the new ones
    old.app_label, old.model = "jobs", "jobrun"
    old.save(update_fields=["app_label", "model"])
    for action in RENAMES:
        Permission.objects.filter(content_type=old, codename=f"{action}_syncrun").update(
            codename=f"{action}_jobrun", name=f"Can {action} job run")


class Migration(migrations.Migration):

    dependencies = [
        ("jobs", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(move_content_type, migrations.RunPython.noop),
    ]
