import csv
import io
import itertools
import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import lxml.html
import openpyxl
import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.models import Order, OrderEntry
from reports.services import Period, Sums, sales_report

ALMATY = ZoneInfo("Asia/Almaty")
SOLD = {"APPROVED_BY_BANK", "ACCEPTED_BY_MERCHANT", "COMPLETED"}
START, END = date(2026, 3, 1), date(2026, 3, 20)
_codes = itertools.count(1)
URL = "/admin/reports/"


def _at(day, hour=12, minute=0):
    return datetime.combine(day, time(hour, minute), tzinfo=ALMATY)


def _line(sku="A1", *, quantity=1, price=10000, cost=7000, commission=1250, delivery=0, category="Смартфоны",
          name=None):
    return {"sku": sku, "name": name or f"Товар {sku}", "quantity": quantity, "unit_price": price,
            "total_price": price * quantity, "unit_cost": cost, "commission": commission, "delivery_share": delivery,
            "category_title": category}


def _order(*lines, at, status="COMPLETED", reason=""):
    code = str(next(_codes))
    order = Order.objects.create(kaspi_id=f"k{code}", code=code, state="ARCHIVE", status=status, created_at_kaspi=at,
                                 total_price=sum(line["total_price"] for line in lines), cancellation_reason=reason,
                                 entries_loaded=True)
    for n, line in enumerate(lines):
        OrderEntry.objects.create(order=order, kaspi_id=f"{code}-{n}", entry_number=n, **line)
    return order


def _random_orders(seed=5, count=60):
    """Orders of every status around the period, with hand-set costs (some unknown), commissions and
    delivery shares."""
    rng = random.Random(seed)
    statuses = sorted(SOLD) + ["CANCELLED", "RETURNED", "CANCELLING"]
    for _ in range(count):
        day = START + timedelta(days=rng.randint(-5, 25))
        lines = [
            _line(rng.choice("ABCDEFGHIJKLMN") + "1", quantity=rng.randint(1, 3), price=rng.randint(1000, 90000),
                  cost=rng.choice([None, rng.randint(500, 95000)]), commission=rng.randint(0, 9000),
                  delivery=rng.randint(0, 2000), category=rng.choice(["Смартфоны", "Чехлы", ""]))
            for _ in range(rng.randint(1, 3))
        ]
        _order(*lines, at=_at(day, rng.randint(0, 23), rng.randint(0, 59)), status=rng.choice(statuses))


def _sums_by_hand(day_of, keep=lambda line: True):
    """What the report should say, summed in Python over the orders: {bucket: Sums}."""
    found = {}
    for order in Order.objects.prefetch_related("entries"):
        day = order.created_at_kaspi.astimezone(ALMATY).date()
        lines = [line for line in order.entries.all() if keep(line)]
        if order.status not in SOLD or not START <= day <= END or not lines:
            continue
        known = [line.total_price - line.unit_cost * line.quantity - line.commission - line.delivery_share
                 for line in lines if line.unit_cost is not None]
        unknown = [line for line in lines if line.unit_cost is None]
        found[day_of(day)] = found.get(day_of(day), Sums()) + Sums(
            orders=1, units=sum(line.quantity for line in lines), revenue=sum(line.total_price for line in lines),
            profit=sum(known) if known else None, unknown_cost_lines=len(unknown),
            unknown_cost_revenue=sum(line.total_price for line in unknown))
    return found


def test_its_totals_and_days_are_the_sums_over_the_orders_of_the_period(db):
    _random_orders()

    report = sales_report(period=Period(START, END))

    by_hand = _sums_by_hand(lambda day: day)
    assert report.totals == sum(by_hand.values(), Sums())
    assert report.totals.orders > 10 and report.totals.unknown_cost_lines > 0
    assert [day for day, _sums in report.series] == [START + timedelta(days=n) for n in range(20)]
    assert {day: sums for day, sums in report.series if sums != Sums()} == by_hand


def test_its_products_and_categories_add_up_to_the_totals(db):
    _random_orders()

    report = sales_report(period=Period(START, END))

    for sku, _name, sums in report.products:
        assert sums == sum(_sums_by_hand(lambda day: 0, keep=lambda line, sku=sku: line.sku == sku).values(), Sums())
    assert sum((sums.revenue for _title, sums in report.categories)) == report.totals.revenue
    assert sum((sums.profit or 0 for _title, sums in report.categories)) == report.totals.profit
    profits = [sums.profit for _sku, _name, sums in report.top_products]
    assert profits == sorted(profits, reverse=True) and len(profits) == 10
    known = sorted(sums.profit for _sku, _name, sums in report.products if sums.profit is not None)
    assert [sums.profit for _sku, _name, sums in report.bottom_products] == known[:10]


def test_it_counts_orders_by_the_almaty_day_they_were_made(db):
    _order(_line(), at=_at(END, 23, 30))  # 17:30 UTC: still the period's last day
    _order(_line(), at=_at(END + timedelta(days=1), 0, 10))  # the next day in Almaty, the last one in UTC
    _order(_line(), at=_at(START, 0, 5))  # the day before in UTC

    report = sales_report(period=Period(START, END))

    assert report.totals.orders == 2
    assert report.series[0][1].orders == report.series[-1][1].orders == 1


def test_it_groups_by_week_from_monday_and_by_month(db):
    _order(_line(price=1000), at=_at(date(2026, 1, 1)))  # a Thursday
    _order(_line(price=2000), at=_at(date(2026, 1, 5)))  # the next Monday
    _order(_line(price=4000), at=_at(date(2026, 2, 28), 23))

    weeks = sales_report(period=Period(date(2026, 1, 1), date(2026, 2, 28), "week")).series
    months = sales_report(period=Period(date(2026, 1, 1), date(2026, 2, 28), "month")).series

    assert weeks[0][0] == date(2025, 12, 29) and weeks[-1][0] == date(2026, 2, 23) and len(weeks) == 9
    assert [sums.revenue for _day, sums in weeks[:2]] == [1000, 2000]
    assert [(day, sums.revenue) for day, sums in months] == [(date(2026, 1, 1), 3000), (date(2026, 2, 1), 4000)]


def test_it_lists_products_sold_at_a_loss_worst_first(db):
    _order(_line("WIN", price=10000, cost=5000), at=_at(START))
    _order(_line("LOSS", price=10000, cost=9000, commission=1250), _line("WORSE", price=1000, cost=3000),
           at=_at(START))
    _order(_line("UNKNOWN", cost=None), at=_at(START))

    report = sales_report(period=Period(START, END))

    assert [(sku, sums.profit) for sku, _name, sums in report.losing_products] == [("WORSE", -3250), ("LOSS", -250)]
    assert [sku for sku, _name, _sums in report.top_products] == ["WIN", "LOSS", "WORSE"]  # UNKNOWN has no profit
    assert report.products[-1][0] == "UNKNOWN"


def test_a_product_is_one_row_under_whichever_sku_its_lines_came(make_product):
    product = make_product(sku="60001", name="Мышь Logitech M185", kaspi_sku="123456789_987654321")
    before = _order(_line("60001", price=9000, name="Мышь M185 (старое название)"), at=_at(START))
    after = _order(_line("123456789_987654321", price=10000, name="Мышь Logitech M185"), at=_at(START))
    OrderEntry.objects.filter(order__in=[before, after]).update(product=product)
    _order(_line("X1", price=4000, name="Без товара"), _line("X1", price=5000, name="Без товара"), at=_at(START))

    report = sales_report(period=Period(START, END))

    assert [(sku, name, sums.units, sums.revenue) for sku, name, sums in report.products] == [
        ("123456789_987654321", "Мышь Logitech M185", 2, 19000), ("X1", "Без товара", 2, 9000)]


def test_it_counts_cancellations_by_reason_and_the_shops_share_over_30_days(db):
    now = timezone.now()
    for n in range(46):
        _order(_line(), at=now - timedelta(days=n % 29, hours=1))
    for reason in ["MERCHANT_OUT_OF_STOCK", "MERCHANT_OUT_OF_STOCK", "BUYER_NOT_REACHABLE", ""]:
        _order(_line(), at=now - timedelta(days=2), status="CANCELLED", reason=reason)
    _order(_line(), at=now - timedelta(days=31), status="CANCELLED", reason="MERCHANT_OUT_OF_STOCK")  # too old

    report = sales_report(period=Period(timezone.localdate(now) - timedelta(days=60), timezone.localdate(now)),
                          now=now)

    assert report.cancellations == [("MERCHANT_OUT_OF_STOCK", 3, 30000), ("", 1, 10000),
                                    ("BUYER_NOT_REACHABLE", 1, 10000)]
    assert (report.recent_shop_cancelled, report.recent_orders) == (2, 50)
    assert str(report.shop_cancelled_percent) == "4.0" and report.above_kaspi_limit


def test_the_page_shows_the_shops_share_red_above_kaspis_limit(admin_client):
    for n in range(40):
        _order(_line(), at=timezone.now() - timedelta(hours=n))
    _order(_line(), at=timezone.now(), status="CANCELLED", reason="MERCHANT_OUT_OF_STOCK")

    box = _page(admin_client).get_element_by_id("report-cancelled-by-shop")
    assert "kc-over" not in box.get("class") and "2.4\u00a0%" in box.text_content()  # 1 of 41
    assert "1 of 41 orders of the last 30 days; Kaspi's limit is 3 %." in box.text_content()

    _order(_line(), at=timezone.now(), status="CANCELLED", reason="MERCHANT_OUT_OF_STOCK")
    box = _page(admin_client).get_element_by_id("report-cancelled-by-shop")
    assert "kc-over" in box.get("class") and "4.8\u00a0%" in box.text_content()


def _page(client, **query):
    response = client.get(URL, query)
    assert response.status_code == 200
    return lxml.html.fromstring(response.content.decode())


def test_the_page_shows_the_last_30_days_in_whole_tenge_by_default(admin_client):
    today = timezone.localdate()
    _order(_line(price=1234567, cost=1000000, commission=0), at=_at(today, 1))
    _order(_line(price=5000), at=_at(today - timedelta(days=30)))  # the 31st day back: outside
    _order(_line("X", price=1000, cost=None), at=_at(today - timedelta(days=29)))

    response = admin_client.get(URL)
    page = lxml.html.fromstring(response.content.decode())

    assert response.context["report"].period == Period(today - timedelta(days=29), today, "day")
    totals = page.get_element_by_id("report-totals").text_content()
    assert "1\u00a0235\u00a0567\u00a0₸" in totals and "234\u00a0567\u00a0₸" in totals  # revenue, profit
    assert "617\u00a0784\u00a0₸" in totals  # the average of two orders, half up
    assert "Profit leaves out 1 sold line whose cost is unknown (1\u00a0000\u00a0₸ of revenue)." in page.text_content()
    assert len(page.find_class("kc-chart")) == 5
    assert page.get_element_by_id("report-categories") is not None


def test_a_day_at_a_loss_hangs_below_zero_on_the_profit_chart(admin_client):
    _order(_line(price=1000, cost=5000), at=_at(START))
    _order(_line(price=9000, cost=1000), at=_at(START + timedelta(days=1)))

    charts = admin_client.get(URL, {"start": START, "end": END}).context["charts"]

    profit = next(chart["svg"] for chart in charts if chart["title"] == "Profit")
    assert profit.count('<rect class="bar negative"') == 1 and profit.count('<rect class="bar"') == 19


@pytest.mark.parametrize(("start", "end", "error"), [
    (END, START, "The period ends before it starts."),
    (date(2020, 1, 1), date(2026, 1, 1), "A period is at most 1098 days long."),
])
def test_it_refuses_a_period_that_ends_before_it_starts_or_is_too_long(admin_client, start, end, error):
    response = admin_client.get(URL, {"start": start, "end": end, "download": "categories", "format": "csv"})

    assert response.status_code == 200 and "report" not in response.context
    assert error in response.content.decode()


def _downloaded(client, table, file_format):
    response = client.get(URL, {"start": START, "end": END, "download": table, "format": file_format})
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{table}-{START}-{END}.{file_format}"'
    if file_format == "csv":
        return [tuple(row) for row in csv.reader(io.StringIO(response.content.decode("utf-8-sig")))]
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    return list(sheet.iter_rows(values_only=True))


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_every_table_downloads_with_the_rows_the_page_shows(admin_client, file_format):
    _random_orders()
    _order(_line("LOSS", cost=20000), at=_at(START), status="CANCELLED", reason="MERCHANT_OUT_OF_STOCK")
    _order(_line("LOSS", cost=20000), at=_at(START))
    tables = admin_client.get(URL, {"start": START, "end": END}).context["tables"]

    for table in tables:
        assert table.rows, table.name
        header, *rows = _downloaded(admin_client, table.name, file_format)
        assert header == tuple(column.title for column in table.columns)
        if file_format == "csv":
            assert rows == [tuple("" if value is None else str(value) for value in row) for row in table.rows]
        else:  # a spreadsheet keeps no empty text: an empty cell
            assert rows == [tuple(None if value == "" else value for value in row) for row in table.rows]


def test_a_name_that_a_spreadsheet_would_run_stays_text(admin_client):
    _order(_line("F1", name="=HYPERLINK(\"http://x\")"), at=_at(START))

    for file_format in ["csv", "xlsx"]:
        assert _downloaded(admin_client, "top_products", file_format)[1][1] == "'=HYPERLINK(\"http://x\")"


def test_an_unknown_table_or_format_is_not_found(admin_client):
    assert admin_client.get(URL, {"download": "nope", "format": "csv"}).status_code == 404
    assert admin_client.get(URL, {"download": "categories", "format": "pdf"}).status_code == 404


def test_only_staff_allowed_to_see_reports_see_them(client, db):
    clerk = User.objects.create_user("clerk", password="x", is_staff=True)
    client.force_login(clerk)
    assert client.get(URL).status_code == 403
    assert client.get(URL, {"download": "categories", "format": "csv"}).status_code == 403
    assert 'id="reports-link"' not in client.get("/admin/").content.decode()

    clerk.user_permissions.add(Permission.objects.get(codename="view_reports"))
    assert client.get(URL).status_code == 200
    assert 'id="reports-link"' in client.get("/admin/").content.decode()

    client.logout()
    response = client.get(URL)
    assert response.status_code == 302 and response.url.startswith("/admin/login/")


def _bulk_orders(count):
    """`count` orders over the default period, one line each, one in twenty cancelled; bulk-created."""
    now = timezone.now()
    orders = Order.objects.bulk_create([
        Order(kaspi_id=f"bulk{code}", code=f"b{code}", state="ARCHIVE", status="CANCELLED" if i % 20 == 0 else
              "COMPLETED", cancellation_reason="MERCHANT_OUT_OF_STOCK" if i % 20 == 0 else "",
              created_at_kaspi=now - timedelta(hours=i % 600), total_price=1000)
        for i, code in zip(range(count), _codes)
    ])
    OrderEntry.objects.bulk_create([
        OrderEntry(order=order, kaspi_id="0", sku=f"S{i % 300}", name=f"Товар {i % 300}", quantity=1, unit_price=1000,
                   total_price=1000, unit_cost=None if i % 9 == 0 else 600 + i % 700, commission=125,
                   category_title=f"Категория {i % 12}")
        for i, order in enumerate(orders)
    ])


def test_it_costs_the_same_queries_for_1000_orders_as_for_100(admin_client, django_assert_num_queries):
    _bulk_orders(100)
    admin_client.get(URL)  # warm up: what is cached after the first visit is not the page's cost
    with CaptureQueriesContext(connection) as small:
        admin_client.get(URL)
    with django_assert_num_queries(5):
        sales_report(period=Period.default(timezone.localdate()))

    _bulk_orders(900)
    with django_assert_num_queries(len(small)):
        response = admin_client.get(URL)
    assert response.context["report"].totals.orders == 950
    with django_assert_num_queries(len(small)):
        assert admin_client.get(URL, {"download": "top_products", "format": "xlsx"}).status_code == 200
