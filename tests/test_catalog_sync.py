"""The catalogue sync through the real client, against the sandbox's Al-Style serving the test's items."""

import pytest
from django.conf import settings as django_settings

from catalog.models import Category, PricingRule, Product
from catalog.services import PriceRefused, SyncError, product_set_price, products_sync, stock_refresh
from jobs.models import JobRun

CATEGORIES = [
    {"id": 1, "name": "Электроника", "left": 1, "right": 4, "level": 1},
    {"id": 2, "name": "Колонки", "left": 2, "right": 3, "level": 2},
]


def items(count, start=100000):
    return [{"article": start + i, "article_pn": f"PN {i}/x", "name": f"Товар {i}", "full_name": f"Товар {i} полный",
             "category": 2, "brand": "Xiaomi" if i % 2 else "HP", "price1": 1000 + i, "price2": 2000 + i,
             "quantity": ">50" if i % 7 == 0 else i % 20, "isnew": 0} for i in range(count)]


class Supplier:
    """The sandbox's Al-Style, serving `items` (250 a page, as Al-Style does) under CATEGORIES."""

    def __init__(self, state):
        self.state = state
        state.alstyle_categories = CATEGORIES
        self.items = items(600)

    @property
    def items(self):
        return self.state.alstyle_products

    @items.setter
    def items(self, value):
        self.state.alstyle_products = value

    @property
    def page_calls(self):
        return sum(request.path == "elements-pagination" for request in self.state.requests)


@pytest.fixture
def fake(sandbox, settings):
    settings.HTTP_RETRIES = 1
    PricingRule.objects.create(name="default", markup_percent=20, rounding="10")
    return Supplier(sandbox.state)


def test_it_imports_the_whole_catalogue_page_by_page(fake):
    run = products_sync()
    assert fake.page_calls == 3
    assert Product.objects.count() == 600
    assert (run.outcome, run.received, run.created, run.updated, run.skipped) == ("ok", 600, 600, 0, 0)
    product = Product.objects.get(article=100007)
    assert (product.sku, product.supplier_stock, product.category.parent_id, product.price) == ("100007", 50, 1, 1210)
    assert Category.objects.get(id=2).name == "Колонки"


def test_it_writes_nothing_on_a_second_sync_without_changes(fake):
    products_sync()
    before = dict(Product.objects.values_list("id", "updated_at"))
    run = products_sync()
    assert (run.created, run.updated, run.unchanged) == (0, 0, 600)
    assert dict(Product.objects.values_list("id", "updated_at")) == before


def test_it_costs_queries_per_page_not_per_item(fake, django_assert_max_num_queries):
    with django_assert_max_num_queries(45):
        products_sync()
    fake.items = items(2400)
    with django_assert_max_num_queries(100):
        products_sync()
    assert Product.objects.count() == 2400


def test_it_keeps_a_managers_edits_across_syncs(fake):
    products_sync()
    Product.objects.filter(article=100001).update(price=777, price_locked=True, manual_stock=3, publish=False)
    fake.items[1]["price1"] = 5000
    fake.items[1]["quantity"] = 99
    run = products_sync()
    assert run.updated == 1
    product = Product.objects.get(article=100001)
    assert (product.price, product.price_locked, product.manual_stock, product.publish) == (777, True, 3, False)
    assert (product.purchase_price, product.supplier_stock) == (5000, 99)


def test_it_marks_vanished_items_unavailable_instead_of_deleting(fake):
    products_sync()
    del fake.items[10]
    run = products_sync()
    assert run.vanished == 1
    assert Product.objects.count() == 600
    assert not Product.objects.get(article=100010).at_supplier
    fake.items.insert(10, items(11)[10])
    products_sync()
    assert Product.objects.get(article=100010).at_supplier


def test_a_mid_sync_failure_changes_nothing(fake):
    products_sync()
    fake.items[0]["price1"] = 99999
    fake.state.alstyle_fail_from_page = 2
    with pytest.raises(SyncError, match="HTTP 500"):
        products_sync()
    assert Product.objects.get(article=100000).purchase_price == 1000
    failed = JobRun.objects.filter(outcome="failed").get()
    assert "HTTP 500" in failed.error and failed.finished


def test_an_empty_catalogue_changes_nothing(fake):
    products_sync()
    fake.items = []
    with pytest.raises(SyncError, match="no usable products"):
        products_sync()
    assert Product.objects.filter(at_supplier=True).count() == 600


def test_it_skips_bad_records_and_the_repeat_of_an_article(fake):
    fake.items = items(260) + [
        {"article": None, "name": "no article"},
        {"article": "PN-1", "name": "text article"},
        {"article": 999001, "name": None, "full_name": None},
        {**items(1)[0], "name": "repeat on a later page"},
        {"article": 999002, "name": "Кабель\x01 & <HDMI>" + "я" * 600, "brand": None, "price1": 1,
         "price2": None, "quantity": ">100"},
        "not even an object",
    ]
    run = products_sync()
    assert (run.received, run.created, run.skipped) == (266, 261, 5)
    assert Product.objects.get(article=100000).name == "Товар 0"
    odd = Product.objects.get(article=999002)
    assert odd.name.startswith("Кабель & <HDMI>") and odd.brand is None and odd.price is None
    assert odd.supplier_stock == 100
    assert "listed twice" in run.notes and "not a number" in run.notes


def test_it_survives_a_categories_failure(fake):
    fake.items = items(10)
    fake.state.alstyle_broken = {"categories"}
    run = products_sync()
    assert run.outcome == "ok" and "categories not refreshed" in run.notes
    assert Category.objects.get(id=2).name == "#2"


def test_the_command_says_in_one_line_when_a_sync_is_already_running(db):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from jobs.locks import job_lock

    with job_lock("supplier"), pytest.raises(CommandError, match="already running"):
        call_command("sync_products")


def test_the_refresh_stock_command_runs_the_cheap_refresh(db, sandbox, capsys):
    from django.core.management import call_command

    products_sync()
    call_command("refresh_stock")
    assert "stock refreshed" in capsys.readouterr().out
    assert JobRun.objects.filter(kind="refresh_stock", outcome="ok").count() == 1


def test_it_keeps_al_styles_partner_price_and_barcode_and_prices_from_the_partner_price(fake):
    fake.items = items(3)
    fake.items[1].update(discountPrice="900", barcode=" 4601234567890 ")
    fake.items[2].update(discountPrice=0, rrp=0)

    products_sync()

    granted, none = Product.objects.get(article=100001), Product.objects.get(article=100002)
    assert (granted.discount_price, granted.barcode, granted.cost, granted.price) == (900, "4601234567890", 900, 1080)
    assert (none.discount_price, none.cost, none.price) == (None, 1002, 1210)


def test_a_stock_refresh_moves_the_partner_price_with_price1(fake):
    fake.items = items(3)
    fake.items[1]["discountPrice"] = 960  # price1 1001: a 4 % partner discount
    products_sync()

    fake.items[1]["price1"] = 1300  # quantity-price carries no discountPrice
    stock_refresh()

    product = Product.objects.get(article=100001)
    assert (product.purchase_price, product.discount_price, product.cost) == (1300, 1247, 1247)


def test_a_new_article_never_takes_a_sku_the_shop_kept_from_its_price_list(fake, store):
    from feeds.services import feed_build

    fake.items = items(2)
    products_sync()
    Product.objects.filter(article=100000).update(kaspi_sku="100005")  # the shop sold it as "100005"
    fake.items = items(2) + items(1, start=100005)

    run = products_sync()

    assert Product.objects.get(article=100005).sku == "100005A"
    assert "SKU 100005 is kept by another product" in run.notes
    assert feed_build().valid


def feed_offer(sku):
    from lxml import etree

    from feeds.services import feed_build

    assert feed_build().valid
    root = etree.parse(str(django_settings.FEED_DIR / "kaspi.xml")).getroot()
    return root.find(f"{{kaspiShopping}}offers/{{kaspiShopping}}offer[@sku='{sku}']")


def test_a_retail_price_the_brand_controls_is_never_undercut(fake, store):
    fake.items = items(2)
    fake.items[0].update(rrp=1, price1=1000, price2=1990)  # the 20 % rule alone would give 1200
    fake.items[1].update(rrp=0, price1=1000, price2=1990)

    products_sync()

    controlled, free = Product.objects.get(article=100000), Product.objects.get(article=100001)
    assert (controlled.rrp_controlled, controlled.price, free.price) == (True, 1990, 1200)
    with pytest.raises(PriceRefused, match="RRP"):
        product_set_price(product=controlled, price=1500, user=None)


def test_marked_down_units_are_never_sold_as_new(fake, store):
    fake.items = items(1)
    fake.items[0].update(quantity=4, quantityMarkdown=3, priceMarkdown=600, multiplicity=5)

    products_sync()

    product = Product.objects.get(article=100000)
    assert (product.supplier_stock, product.markdown_stock, product.markdown_price, product.multiplicity) == (
        4, 3, 600, 5)
    availability = feed_offer(product.sku).find("{kaspiShopping}availabilities/{kaspiShopping}availability")
    assert availability.get("stockCount") == "4"


def test_each_store_takes_its_stock_from_its_own_warehouses(fake, store):
    from catalog.models import Store

    Store.objects.filter(store_id="PP1").update(warehouses="almaty")
    Store.objects.create(store_id="PP2", warehouses="astana", preorder_days=2)
    fake.items = items(1)
    fake.items[0].update(quantity=15, warehouses={"almaty": 12, "astana": 3})

    products_sync()

    offer = feed_offer("100000")
    stores = {a.get("storeId"): (a.get("stockCount"), a.get("preOrder")) for a in
              offer.findall("{kaspiShopping}availabilities/{kaspiShopping}availability")}
    assert stores == {"PP1": ("12", None), "PP2": ("3", "2")}


def test_the_sync_keeps_the_search_text_of_new_and_changed_products(fake):
    from catalog.models import product_search_text

    fake.items = items(2)
    fake.items[0].update(name="НОУТБУК Lenovo", full_name="Ноутбук Lenovo IdeaPad, чёрный", article_pn="82XM-00A")
    products_sync()
    laptop = Product.objects.get(article=100000)
    assert laptop.search_text == f"ноутбук lenovo ideapad, черный\n82xm-00a\n{laptop.barcode}"
    fake.items[1]["name"] = "Ёлочная гирлянда"
    products_sync()
    assert all(p.search_text == product_search_text(p.name, p.full_name, p.article_pn, p.barcode)
               for p in Product.objects.all())
    assert Product.objects.filter(search_text__fold="ЕЛОЧНАЯ").get().article == 100001
