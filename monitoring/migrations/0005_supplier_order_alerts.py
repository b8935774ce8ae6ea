from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("monitoring", "0004_security_log"),
    ]

    operations = [
        migrations.AlterField(
            model_name="alert",
            name="kind",
            field=models.CharField(
                choices=[("job_failing", "job failing"), ("feed_not_fetched", "feed not fetched by Kaspi"),
                         ("feed_held", "feed held by the safety guard"), ("status_failed", "status change refused"),
                         ("approval", "approval needed"), ("supplier_order", "supplier order")],
                db_index=True, max_length=20, verbose_name="kind"),
        ),
    ]
