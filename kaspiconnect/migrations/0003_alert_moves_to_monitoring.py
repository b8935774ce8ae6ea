"""The alerts move to the monitoring app: the same table (kaspiconnect_alert), only the model's home changes."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("kaspiconnect", "0002_queue_cache"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="Alert")]),
    ]
