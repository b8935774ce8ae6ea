"""SyncRun is now jobs.JobRun on the same table: drop it from the catalogue's state, keep the rows."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0003_price_lock_source"),
        ("jobs", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="SyncRun")],
            database_operations=[],
        ),
    ]
