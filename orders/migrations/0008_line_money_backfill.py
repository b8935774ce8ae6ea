"""Lines imported before profit existed: the cost of their product as it is now (the best there is),
the default commission, and their share of the order's delivery cost."""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import migrations


def shares(amount, weights):
    total = sum(weights)
    if not weights or amount <= 0:
        return [0] * len(weights)
    if total == 0:
        weights, total = [1] * len(weights), len(weights)
    exact = [Decimal(amount) * w / total for w in weights]
    parts = [int(x) for x in exact]
    for i in sorted(range(len(exact)), key=lambda i: (exact[i] - parts[i], -i), reverse=True)[: amount - sum(parts)]:
        parts[i] += 1
    return parts


def backfill(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    OrderEntry = apps.get_model("orders", "OrderEntry")
    percent = Decimal(str(settings.KASPI_COMMISSION_PERCENT)).quantize(Decimal("0.01"))
    for order in Order.objects.filter(entries__commission_percent__isnull=True).distinct().iterator():
        entries = list(OrderEntry.objects.filter(order=order).select_related("product").order_by("pk"))
        for entry, share in zip(entries, shares(order.delivery_cost_for_seller, [e.total_price for e in entries]),
                                strict=True):
            product = entry.product
            if entry.unit_cost is None and product is not None:
                cost = product.discount_price if (product.discount_price or 0) > 1 else product.purchase_price
                entry.unit_cost = cost if cost is not None and cost > 1 else None
            entry.commission_percent = percent
            entry.commission = int((Decimal(entry.total_price) * percent / 100).quantize(Decimal(1), ROUND_HALF_UP))
            entry.delivery_share = share
        OrderEntry.objects.bulk_update(entries, ["unit_cost", "commission_percent", "commission", "delivery_share"])


class Migration(migrations.Migration):
    dependencies = [("orders", "0007_money"), ("catalog", "0006_money")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
