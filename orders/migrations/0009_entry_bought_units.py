from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("orders", "0008_line_money_backfill"),
    ]

    operations = [
        migrations.AddField(
            model_name="orderentry",
            name="bought_units",
            field=models.PositiveIntegerField(
                default=0, help_text="Units of this line in a supplier order sent to Al-Style: its stock is down by "
                                     "them already.", verbose_name="bought from the supplier"),
        ),
    ]
