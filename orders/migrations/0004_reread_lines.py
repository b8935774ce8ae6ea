"""Heal installations imported before lines were keyed on Kaspi's own id.

The old import numbered lines from 1 and dropped a line whose number collided (Kaspi numbers from
0 and may leave the number out), then marked the order as loaded. Every order imported that way is
marked again, so the next import reads its lines afresh and replaces the old rows.

Orders already finished before own stock existed settled their goods long ago: their returns are
not added to own stock when the next import shows them.
"""

from django.db import migrations

FINAL_STATUSES = ["COMPLETED", "CANCELLED", "RETURNED"]


def mark_for_reread(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    OrderEntry = apps.get_model("orders", "OrderEntry")
    legacy = OrderEntry.objects.filter(kaspi_id__isnull=True).values("order_id")
    Order.objects.filter(entries_loaded=True, pk__in=legacy).update(entries_loaded=False)
    # An order whose every line was lost has no row to show for it: read those again too.
    Order.objects.filter(entries_loaded=True, entries__isnull=True).update(entries_loaded=False)
    Order.objects.filter(status__in=FINAL_STATUSES).update(stock_taken_back=True, own_units_released=True)


class Migration(migrations.Migration):

    dependencies = [
        ("orders", "0003_every_kaspi_field"),
    ]

    operations = [
        migrations.RunPython(mark_for_reread, migrations.RunPython.noop),
    ]
