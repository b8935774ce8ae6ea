"""What an order line earns: sale price − purchase cost − Kaspi's commission − its share of delivery.

The inputs live on the line in whole tenge (`unit_cost` copied when the line is imported,
`commission_percent` and `commission` from the commission table, `delivery_share` of the order's
`deliveryCostForSeller`), so that profit is one SQL expression the reports can sum.
"""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Count, ExpressionWrapper, F, IntegerField, OuterRef, Q, Subquery, Sum

from .models import CommissionRate, KaspiStatus, Order, OrderEntry

# The shop's margins (costs, commission, profit) are for those who may read the sales reports.
SEES_MONEY = "reports.view_reports"

# Orders that are sales: paid, and not cancelled or returned (yet).
SOLD_STATUSES = [KaspiStatus.APPROVED_BY_BANK, KaspiStatus.ACCEPTED_BY_MERCHANT, KaspiStatus.COMPLETED]

# A line's profit in SQL; NULL when its cost is unknown (a line that matched no product).
LINE_COST = ExpressionWrapper(F("unit_cost") * F("quantity"), output_field=IntegerField())
LINE_PROFIT = ExpressionWrapper(
    F("total_price") - F("unit_cost") * F("quantity") - F("commission") - F("delivery_share"),
    output_field=IntegerField(),
)


def default_percent():
    return Decimal(str(settings.KASPI_COMMISSION_PERCENT)).quantize(Decimal("0.01"))


def commission_rates():
    """Category title → percent, the whole table (it is small)."""
    return dict(CommissionRate.objects.values_list("category_title", "percent"))


def commission_amount(total, percent):
    """Kaspi's commission on `total` tenge, in whole tenge (half up)."""
    return int((Decimal(total) * Decimal(percent) / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def shares(amount, weights):
    """`amount` split across `weights` in proportion, whole tenge that add up exactly (largest remainder)."""
    weights = [max(0, w) for w in weights]
    total = sum(weights)
    if not weights or amount <= 0:
        return [0] * len(weights)
    if total == 0:
        weights, total = [1] * len(weights), len(weights)
    exact = [Decimal(amount) * w / total for w in weights]
    parts = [int(x) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: (exact[i] - parts[i], -i), reverse=True)
    for i in by_remainder[: amount - sum(parts)]:
        parts[i] += 1
    return parts


def order_money_refresh(order_id, rates=None):
    """Recompute commission and delivery shares of one order's lines from what is stored now."""
    rates = commission_rates() if rates is None else rates
    default = default_percent()
    with transaction.atomic():
        delivery = Order.objects.filter(pk=order_id).values_list("delivery_cost_for_seller", flat=True).first()
        entries = list(OrderEntry.objects.select_for_update().filter(order_id=order_id).order_by("pk"))
        delivery_parts = shares(delivery or 0, [e.total_price for e in entries])
        changed = []
        for entry, share in zip(entries, delivery_parts, strict=True):
            percent = rates.get(entry.category_title, default)
            values = (percent, commission_amount(entry.total_price, percent), share)
            if values != (entry.commission_percent, entry.commission, entry.delivery_share):
                entry.commission_percent, entry.commission, entry.delivery_share = values
                changed.append(entry)
        OrderEntry.objects.bulk_update(changed, ["commission_percent", "commission", "delivery_share"])
    return len(changed)


def commission_refresh(category_titles=None):
    """After the table changed: lines of these categories (default: all) take the rate it says now."""
    rates, default = commission_rates(), default_percent()
    lines = OrderEntry.objects.all()
    if category_titles is not None:
        lines = lines.filter(category_title__in=list(category_titles))
    changed = []
    for entry in lines.only("pk", "total_price", "category_title", "commission_percent", "commission").iterator(
        chunk_size=2000
    ):
        percent = rates.get(entry.category_title, default)
        amount = commission_amount(entry.total_price, percent)
        if (percent, amount) != (entry.commission_percent, entry.commission):
            entry.commission_percent, entry.commission = percent, amount
            changed.append(entry)
    OrderEntry.objects.bulk_update(changed, ["commission_percent", "commission"], batch_size=500)
    return len(changed)


def with_profit(entries):
    """Order lines annotated with `cost_total` and `profit` (both NULL when the cost is unknown)."""
    return entries.annotate(cost_total=LINE_COST, profit=LINE_PROFIT)


def order_totals(orders):
    """Orders annotated with their lines' `profit_total` and `lines_without_cost` (subqueries: one row per order
    whatever else the query joins)."""
    lines = OrderEntry.objects.filter(order=OuterRef("pk")).order_by().values("order")
    return orders.annotate(
        profit_total=Subquery(lines.annotate(total=Sum(LINE_PROFIT)).values("total")),
        lines_without_cost=Subquery(lines.annotate(count=Count("pk", filter=Q(unit_cost__isnull=True)))
                                    .values("count")),
    )
