"""Pages say things in words: no JSON, no internal ids, no "None", times in Almaty, one number format."""

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from catalog.models import PriceListImport, Product
from common.format import decimal, moment, seconds
from feeds.models import FeedRun
from feeds.services import feed_build
from orders.models import CommissionRate, Order, OrderEntry, OrderEvent

EVENING_UTC = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)  # in Almaty (UTC+5) it is 1 am the next day


def visible_text(html):
    """The page as a reader sees it: no tags, scripts or attribute values."""
    html = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def test_the_build_summary_reads_as_a_table(admin_client, store, make_product):
    kept = make_product(sku="KEPT", name="Ноутбук Lenovo", price=10000)
    gone = make_product(sku="GONE", name="Мышь Logitech")
    feed_build()
    Product.objects.filter(pk=kept.pk).update(price=12990, supplier_stock=2)
    Product.objects.filter(pk=gone.pk).update(price=0)
    make_product(sku="NEW", name="Клавиатура A4Tech")
    run = feed_build()

    page = admin_client.get(reverse("admin:feeds_feedrun_change", args=[run.pk])).content.decode()

    table = page[page.index('<table id="feed-changes">'):]
    table = table[:table.index("</table>")]
    for words in ("Ноутбук Lenovo", "10\u00a0000\u00a0₸", "12\u00a0990\u00a0₸", "5 units", "2 units",
                  "Мышь Logitech", "Клавиатура A4Tech", "not in the feed"):
        assert words in table
    assert reverse("admin:catalog_product_change", args=[kept.pk]) in table
    text = visible_text(page)
    assert "{" not in text and "[[" not in text and '"added"' not in page


def test_a_build_with_no_sample_shows_a_dash(admin_client, db):
    run = FeedRun.objects.create(outcome=FeedRun.Outcome.FAILED, duration_ms=1540)
    page = admin_client.get(reverse("admin:feeds_feedrun_change", args=[run.pk])).content.decode()
    assert "feed-changes" not in page and "{}" not in visible_text(page)
    assert seconds(1.54) in page  # the duration in seconds, not milliseconds


@pytest.fixture
def order(make_product):
    product = make_product(sku="SKU-7", name="Патч-корд TP-Link")
    Product.objects.filter(pk=product.pk).update(sku="SKU-7")
    order = Order.objects.create(kaspi_id="MTAwMDAwMDEyMA==", code="500160673", state="NEW",
                                 status="APPROVED_BY_BANK", total_price=8900, created_at_kaspi=EVENING_UTC)
    OrderEntry.objects.create(order=order, sku="SKU-7", name="Патч-корд TP-Link", product=product, quantity=1,
                              unit_price=8900, total_price=8900)
    OrderEvent.objects.create(order=order, at=EVENING_UTC, status=order.status, state=order.state,
                              text="imported from Kaspi")
    return order


def test_the_order_page_shows_no_internal_ids(admin_client, order):
    entry = order.entries.get()
    page = admin_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    text = visible_text(page)
    assert order.kaspi_id not in page
    assert "None" not in text
    assert f"{entry.product_id} ×" not in text and "Патч-корд TP-Link (SKU-7) × 1" in text
    assert " - " not in text.replace("&rsaquo;", "")  # nothing is a dash, the long one: "—"


@pytest.mark.russian
def test_the_order_page_shows_almaty_time(admin_client, order):
    page = admin_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "2 марта 2026 г. 1:00" in page  # created and the history line, not 1 March 20:00
    assert "20:00" not in page


@pytest.mark.russian
def test_titles_and_breadcrumbs_show_almaty_time(admin_client, db):
    run = FeedRun.objects.create(outcome=FeedRun.Outcome.FAILED, started=EVENING_UTC)
    imported = PriceListImport.objects.create(source="kaspi.xlsx", at=EVENING_UTC)
    assert moment(EVENING_UTC) == "02.03.2026 01:00" and str(imported) == "kaspi.xlsx (02.03.2026 01:00)"
    page = admin_client.get(reverse("admin:feeds_feedrun_change", args=[run.pk])).content.decode()
    title = page[page.index("<title>"):page.index("</title>")]
    breadcrumbs = page[page.index('class="breadcrumbs"'):]
    assert "02.03.2026 01:00" in title and "02.03.2026 01:00" in breadcrumbs[:breadcrumbs.index("</div>")]


@pytest.mark.russian
def test_durations_and_decimals_read_one_way(admin_client, db):
    CommissionRate.objects.create(category_title="Принтеры", percent=Decimal("12.50"))
    page = admin_client.get(reverse("admin:orders_commissionrate_changelist")).content.decode()
    assert decimal(Decimal("12.50")) == "12,5" and ">12,5<" in page and "12,50" not in page
    assert str(CommissionRate.objects.get()) == "Принтеры: 12,5 %"
    assert seconds(1.54) == "1,5 с" and seconds(None) == decimal(None) == moment(None) == "—"
