"""A run's kind is now its job's name from the registry (the job's command name)."""

from django.db import migrations, models

RENAMED = {"catalog": "sync_products", "stock": "refresh_stock", "orders": "sync_orders",
           "statuses": "push_order_statuses"}


def rename(apps, schema_editor, names):
    JobRun = apps.get_model("jobs", "JobRun")
    for old, new in names.items():
        JobRun.objects.filter(kind=old).update(kind=new)


def forwards(apps, schema_editor):
    rename(apps, schema_editor, RENAMED)


def backwards(apps, schema_editor):
    rename(apps, schema_editor, {new: old for old, new in RENAMED.items()})


class Migration(migrations.Migration):

    dependencies = [
        ("jobs", "0003_skipped_runs"),
    ]

    operations = [
        migrations.AlterField(
            model_name="jobrun",
            name="kind",
            field=models.CharField(db_index=True, max_length=32, verbose_name="job"),
        ),
        migrations.AddIndex(
            model_name="jobrun",
            index=models.Index(fields=["kind", "-started"], name="jobrun_kind_started"),
        ),
        migrations.RunPython(forwards, backwards),
    ]
