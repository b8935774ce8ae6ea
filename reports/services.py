"""Sales reports: what the shop sold and earned in a period, and what it cancelled, in five queries
however many orders there are.

The money is orders.money's: revenue is the sum of the sold lines' totals (the lines of orders in
SOLD_STATUSES), profit the sum of their LINE_PROFIT, and an order counts once its lines are read. A
line whose cost is unknown adds to revenue, units and orders but not to profit, so the report counts
those lines and their revenue. An order belongs to the Almaty day (TIME_ZONE) Kaspi created it on.
"""

from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Case, Count, F, Max, Q, Sum, Value, When
from django.db.models.functions import Coalesce, TruncDay, TruncMonth, TruncWeek
from django.utils import timezone

from orders.models import KaspiStatus, Order, OrderEntry, StatusChange
from orders.money import LINE_PROFIT, SOLD_STATUSES

GROUPS = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}
DEFAULT_DAYS = 30
TOP = 10
# Kaspi rates a shop on the orders it cancelled by its own fault over 30 days: fewer than 3 % of them.
KASPI_LIMIT_DAYS = 30
KASPI_LIMIT_PERCENT = Decimal(3)
# The shop's fault is a cancellation the shop asked for because of itself: of the reasons it can send
# (StatusChange.Reason), only "out of stock". "Buyer asked to cancel" and "buyer not reachable" are the
# buyer's doing; codes Kaspi sets by itself are not documented, so they do not count until we know them.
SHOP_FAULT_REASONS = [StatusChange.Reason.MERCHANT_OUT_OF_STOCK]

# A product is one row whatever SKU its lines came under (its derived one, the Kaspi SKU the shop kept),
# shown by the SKU the feed publishes for it and its name; lines without a product go by their own SKU.
BY_PRODUCT = {"unlinked_sku": Case(When(product__isnull=True, then=F("sku")), default=Value(""))}
SHOWN = {"shown_sku": Coalesce(Max("product__kaspi_sku"), Max("product__sku"), Max("sku")),
         "shown_name": Coalesce(Max("product__name"), Max("name"))}

SUMS = {
    "orders": Count("order", distinct=True),
    "units": Sum("quantity"),
    "revenue": Sum("total_price"),
    "profit": Sum(LINE_PROFIT),
    "unknown_cost_lines": Count("pk", filter=Q(unit_cost__isnull=True)),
    "unknown_cost_revenue": Sum("total_price", filter=Q(unit_cost__isnull=True)),
}


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # the last day, included
    group: str = "day"  # one bar on the charts per day, week (from Monday) or month

    @classmethod
    def default(cls, today):
        return cls(today - timedelta(days=DEFAULT_DAYS - 1), today)

    def bounds(self):
        """The first moment of the period and the first after it, Almaty time."""
        zone = timezone.get_default_timezone()
        after = self.end + timedelta(days=1)
        return datetime.combine(self.start, time.min, tzinfo=zone), datetime.combine(after, time.min, tzinfo=zone)

    def buckets(self):
        """The first day of each day, week or month the period touches, in order."""
        day = {"day": self.start, "week": self.start - timedelta(days=self.start.weekday()),
               "month": self.start.replace(day=1)}[self.group]
        buckets = []
        while day <= self.end:
            buckets.append(day)
            if self.group == "month":
                day = (day + timedelta(days=31)).replace(day=1)
            else:
                day += timedelta(days=7 if self.group == "week" else 1)
        return buckets


@dataclass(frozen=True)
class Sums:
    orders: int = 0
    units: int = 0
    revenue: int = 0
    profit: int | None = None  # None: no line here has a known cost
    unknown_cost_lines: int = 0
    unknown_cost_revenue: int = 0

    @classmethod
    def of(cls, row):
        return cls(**{name: row[name] if name == "profit" else row[name] or 0 for name in SUMS})

    def __add__(self, other):
        added = {f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self) if f.name != "profit"}
        profit = None if self.profit is None and other.profit is None else (self.profit or 0) + (other.profit or 0)
        return Sums(**added, profit=profit)

    @property
    def average(self):
        """Average order value, whole tenge (half up); None without orders."""
        if not self.orders:
            return None
        return int((Decimal(self.revenue) / self.orders).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Report:
    period: Period
    series: list  # [(first day of the bucket, Sums)], every bucket of the period
    products: list  # [(sku, name, Sums)] a product or a SKU no product has, most profit first, no known cost last
    categories: list  # [(Kaspi category title, Sums)], in the same order
    cancellations: list  # [(reason code, orders, their total)], most orders first
    recent_orders: int  # all orders of the last KASPI_LIMIT_DAYS days, the base of Kaspi's share
    recent_shop_cancelled: int

    @property
    def totals(self):
        return sum((sums for _day, sums in self.series), Sums())

    @property
    def top_products(self):
        return self._priced_products[:TOP]

    @property
    def bottom_products(self):
        """The least profitable first."""
        return self._priced_products[::-1][:TOP]

    @property
    def losing_products(self):
        return [row for row in self._priced_products[::-1] if row[2].profit < 0]

    @property
    def _priced_products(self):
        return [row for row in self.products if row[2].profit is not None]

    @property
    def shop_cancelled_percent(self):
        """The shop's own cancellations, in percent of the orders, to a tenth; None without orders."""
        if not self.recent_orders:
            return None
        return (Decimal(100 * self.recent_shop_cancelled) / self.recent_orders).quantize(Decimal("0.1"))

    @property
    def above_kaspi_limit(self):
        return (self.shop_cancelled_percent or 0) > KASPI_LIMIT_PERCENT


def sales_report(*, period, now=None):
    now = now or timezone.now()
    start, after = period.bounds()
    in_period = {"created_at_kaspi__gte": start, "created_at_kaspi__lt": after}
    lines = OrderEntry.objects.filter(order__status__in=SOLD_STATUSES,
                                      **{f"order__{name}": value for name, value in in_period.items()})
    zone = timezone.get_default_timezone()
    by_bucket = lines.annotate(bucket=GROUPS[period.group]("order__created_at_kaspi", tzinfo=zone))
    found = {timezone.localtime(row["bucket"], zone).date(): Sums.of(row)
             for row in by_bucket.values("bucket").annotate(**SUMS).order_by()}
    most_profit = (F("profit").desc(nulls_last=True),)
    products = (lines.values("product", **BY_PRODUCT).annotate(**SHOWN, **SUMS)
                .order_by(*most_profit, "shown_sku"))
    categories = lines.values("category_title").annotate(**SUMS).order_by(*most_profit, "category_title")
    cancellations = (
        Order.objects.filter(status=KaspiStatus.CANCELLED, **in_period).values("cancellation_reason")
        .annotate(orders=Count("pk"), amount=Sum("total_price")).order_by("-orders", "cancellation_reason")
    )
    recent = Order.objects.filter(created_at_kaspi__gt=now - timedelta(days=KASPI_LIMIT_DAYS),
                                  created_at_kaspi__lte=now)
    shares = recent.aggregate(orders=Count("pk"), shop=Count("pk", filter=Q(
        status=KaspiStatus.CANCELLED, cancellation_reason__in=SHOP_FAULT_REASONS)))
    return Report(
        period=period,
        series=[(day, found.get(day, Sums())) for day in period.buckets()],
        products=[(row["shown_sku"], row["shown_name"], Sums.of(row)) for row in products],
        categories=[(row["category_title"], Sums.of(row)) for row in categories],
        cancellations=[(row["cancellation_reason"], row["orders"], row["amount"]) for row in cancellations],
        recent_orders=shares["orders"],
        recent_shop_cancelled=shares["shop"],
    )
