"""An order line's profit: sale price − cost copied at import − Kaspi's commission − its share of delivery."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db.models import Sum
from django.urls import reverse

from catalog.models import Product
from catalog.services import products_sync
from common.format import decimal
from orders import money
from orders.models import CommissionRate, Order, OrderEntry
from orders.sync import orders_sync
from tests.conftest import SANDBOX, ReplayedKaspi

CABLES = "Кабели и патч-корды"


@pytest.fixture
def sold(sandbox, kaspi_answers, settings):
    """The sandbox's catalogue and orders, imported by the real jobs, with one category at 15.5 %."""
    products_sync()
    CommissionRate.objects.create(category_title=CABLES, percent=Decimal("15.5"))
    orders_sync(days=SANDBOX["order_days"], client=ReplayedKaspi(kaspi_answers))
    return Order.objects.all()


def by_hand(order):
    """The order's profit from first principles: the product's cost, the table's rate, a share of delivery."""
    lines = list(order.entries.select_related("product").order_by("pk"))
    total_of_lines = sum(line.total_price for line in lines)
    shares = [Decimal(order.delivery_cost_for_seller) * line.total_price / total_of_lines for line in lines]
    assert abs(sum(shares) - order.delivery_cost_for_seller) < 1
    profit = Decimal(0)
    for line, share in zip(lines, shares, strict=True):
        cost = line.product.discount_price or line.product.purchase_price
        percent = Decimal("15.5") if line.category_title == CABLES else Decimal("12.5")
        profit += line.total_price - cost * line.quantity - line.total_price * percent / 100 - share
    return profit


def test_an_orders_profit_is_the_sum_of_its_lines_worked_out_by_hand(sold):
    orders = money.order_totals(sold.filter(delivery_cost_for_seller__gt=0, entries__product__isnull=False)
                                .distinct())
    checked = 0
    for order in orders:
        if order.lines_without_cost:
            continue
        # Whole-tenge rounding of each line's commission and share: at most a tenge per line apart.
        assert abs(order.profit_total - by_hand(order)) <= order.entries.count(), order.code
        checked += 1
    assert checked >= 5
    assert OrderEntry.objects.filter(category_title=CABLES, commission_percent=Decimal("15.5")).exists()


def test_each_orders_delivery_cost_is_shared_exactly_across_its_lines(sold):
    for order in sold.filter(delivery_cost_for_seller__gt=0):
        shared = order.entries.aggregate(total=Sum("delivery_share"))["total"]
        assert shared == order.delivery_cost_for_seller, order.code


def test_the_cost_is_the_one_of_the_day_the_line_came_in(sold, kaspi_answers):
    line = OrderEntry.objects.filter(product__isnull=False).first()
    cost = line.unit_cost
    Product.objects.filter(pk=line.product_id).update(purchase_price=cost * 2, discount_price=None)
    Order.objects.filter(pk=line.order_id).update(entries_loaded=False)  # its lines are read again

    orders_sync(days=SANDBOX["order_days"], client=ReplayedKaspi(kaspi_answers))

    assert Order.objects.get(pk=line.order_id).entries_loaded
    assert OrderEntry.objects.get(pk=line.pk).unit_cost == cost


def test_a_new_commission_rate_recalculates_its_lines_at_once(sold, admin_client):
    line = OrderEntry.objects.exclude(category_title=CABLES).exclude(category_title="").first()

    admin_client.post(reverse("admin:orders_commissionrate_add"),
                      {"category_title": line.category_title, "percent": "7.3"})

    line.refresh_from_db()
    expected = int((Decimal(line.total_price) * Decimal("7.3") / 100).quantize(Decimal(1), ROUND_HALF_UP))
    assert (line.commission_percent, line.commission) == (Decimal("7.3"), expected)


def test_the_order_page_and_list_show_the_profit_with_its_inputs(sold, admin_client):
    order = money.order_totals(sold.filter(entries__product__isnull=False)).first()

    page = admin_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    listing = admin_client.get(reverse("admin:orders_order_changelist")).content.decode()

    shown = f"{order.profit_total:,}".replace(",", "\u00a0")
    assert shown in page and shown in listing
    line = order.entries.first()
    assert f"{decimal(line.commission_percent)} %" in page


def test_shares_add_up_exactly():
    assert money.shares(1000, [1, 1, 1]) == [334, 333, 333]
    assert money.shares(0, [5, 5]) == [0, 0]
    assert money.shares(100, [0, 0]) == [50, 50]
    assert sum(money.shares(2999, [17, 401, 3333, 1])) == 2999


def test_margins_are_shown_only_to_those_who_may_read_the_reports(sold, client):
    from django.contrib.auth.models import Group, User

    order = money.order_totals(sold.filter(entries__product__isnull=False)).first()
    clerk = User.objects.create_user("clerk", password="x", is_staff=True)
    clerk.groups.add(Group.objects.get(name="Заказы"))
    client.force_login(clerk)

    page = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    listing = client.get(reverse("admin:orders_order_changelist")).content.decode()

    assert "unit cost" not in page and "profit" not in page.lower()
    assert "profit" not in listing.lower()
