"""The alerts move here from the project package: the same table (kaspiconnect_alert), rows and all."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("kaspiconnect", "0003_alert_moves_to_monitoring"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Alert",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                                   verbose_name="ID")),
                        ("key", models.CharField(max_length=100, unique=True, verbose_name="problem key")),
                        ("kind", models.CharField(choices=[("job_failing", "job failing"),
                                                           ("feed_not_fetched", "feed not fetched by Kaspi"),
                                                           ("feed_held", "feed held by the safety guard"),
                                                           ("status_failed", "status change refused"),
                                                           ("approval", "approval needed")],
                                                  db_index=True, max_length=20, verbose_name="kind")),
                        ("subject", models.CharField(max_length=255, verbose_name="subject")),
                        ("opened", models.DateTimeField(db_index=True, default=django.utils.timezone.now,
                                                        verbose_name="opened")),
                        ("resolved", models.DateTimeField(blank=True, null=True, verbose_name="resolved")),
                        ("message", models.TextField(verbose_name="last message")),
                        ("undelivered", models.CharField(blank=True, max_length=50,
                                                         verbose_name="not yet delivered to")),
                        ("delivered", models.DateTimeField(blank=True, null=True, verbose_name="last delivered")),
                        ("error", models.TextField(blank=True, verbose_name="delivery error")),
                    ],
                    options={
                        "verbose_name": "alert",
                        "verbose_name_plural": "alerts",
                        "ordering": ["-opened"],
                        "db_table": "kaspiconnect_alert",
                    },
                ),
            ],
        ),
    ]
