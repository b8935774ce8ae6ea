import gzip
import re

import pytest
from django.conf import settings
from lxml import etree

from catalog.models import City, Product, Store
from catalog.offers import Availability, Offer
from feeds import services
from feeds.models import FeedRun
from feeds.services import feed_build, published_run
from feeds.validation import SCHEMA_PATH

NS = {"k": "kaspiShopping"}


def published_feed():
    """The served feed, checked against the XSD by a plain tree validation (not the streaming one)."""
    path = settings.FEED_DIR / "kaspi.xml"
    document = etree.parse(str(path))
    etree.XMLSchema(file=str(SCHEMA_PATH)).assertValid(document)
    assert gzip.decompress((settings.FEED_DIR / "kaspi.xml.gz").read_bytes()) == path.read_bytes()
    return document.getroot()


def offer_element(root, sku):
    return root.find(f"k:offers/k:offer[@sku='{sku}']", NS)


def assert_published(run):
    assert (run.outcome, run.reason, run.validation_errors) == (FeedRun.Outcome.PUBLISHED, "", "")


def test_it_publishes_the_catalogue_with_kaspis_header(store, make_product):
    make_product(sku="A1", name="Колонки Mi", brand="Xiaomi", supplier_stock=12, price=11490)

    run = feed_build()

    assert_published(run)
    root = published_feed()
    assert root.tag == "{kaspiShopping}kaspi_catalog"
    assert root.get("{http://www.w3.org/2001/XMLSchema-instance}schemaLocation") == (
        "kaspiShopping http://kaspi.kz/kaspishopping.xsd"
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", root.get("date"))
    assert [root.findtext("k:company", namespaces=NS), root.findtext("k:merchantid", namespaces=NS)] == [
        "Test shop", "12345",
    ]
    offer = offer_element(root, "A1")
    assert offer.findtext("k:model", namespaces=NS) == "Колонки Mi"
    assert offer.findtext("k:brand", namespaces=NS) == "Xiaomi"
    assert dict(offer.find("k:availabilities/k:availability", NS).attrib) == {
        "available": "yes", "storeId": "PP1", "stockCount": "12",
    }
    assert offer.findtext("k:price", namespaces=NS) == "11490"
    assert (run.offers, run.available_offers, run.valid) == (1, 1, True)
    assert run.bytes == (settings.FEED_DIR / "kaspi.xml").stat().st_size and len(run.sha256) == 64


def test_it_dates_the_feed_in_almaty_time(store, make_product):
    make_product()
    run = feed_build()
    almaty = run.started.astimezone(services.ALMATY)
    assert published_feed().get("date") == almaty.strftime("%Y-%m-%dT%H:%M:%S")


def test_it_escapes_markup_and_strips_control_characters(store, make_product):
    make_product(sku="E1", name='Кабель "USB" <1 m> & адаптер\x07\x0b', brand="Tom & Jerry's <b>")

    feed_build()

    raw = (settings.FEED_DIR / "kaspi.xml").read_text()
    assert "&amp; адаптер" in raw and "&lt;1 m&gt;" in raw and "\x07" not in raw
    offer = offer_element(published_feed(), "E1")
    assert offer.findtext("k:model", namespaces=NS) == 'Кабель "USB" <1 m> & адаптер'
    assert offer.findtext("k:brand", namespaces=NS) == "Tom & Jerry's <b>"


def test_it_omits_an_empty_brand(store, make_product):
    make_product(sku="NB1")
    make_product(sku="B2", brand="Acme")
    make_product(sku="NB3")

    feed_build()

    root = published_feed()
    assert [offer_element(root, sku).find("k:brand", NS) is not None for sku in ("NB1", "B2", "NB3")] == [
        False, True, False,
    ]


def test_it_lists_unpublishable_products_as_unavailable_with_their_last_price(store, make_product):
    make_product(sku="OFF1", publish=False, price=15990, supplier_stock=7)
    make_product(sku="GONE2", at_supplier=False, price=990)

    run = feed_build()

    root = published_feed()
    for sku, price in [("OFF1", "15990"), ("GONE2", "990")]:
        offer = offer_element(root, sku)
        assert dict(offer.find("k:availabilities/k:availability", NS).attrib) == {
            "available": "no", "storeId": "PP1", "stockCount": "0",
        }
        assert offer.findtext("k:price", namespaces=NS) == price
    assert (run.offers, run.available_offers) == (2, 0)


def test_it_leaves_out_never_priced_products(store, make_product):
    make_product(sku="P1")
    make_product(sku="NOPRICE", price=None)

    run = feed_build()

    assert offer_element(published_feed(), "NOPRICE") is None
    assert run.offers == 1


def test_it_writes_city_prices_instead_of_a_single_price(store, make_product):
    City.objects.create(city_id="750000000", name="Almaty")
    City.objects.create(city_id="710000000", name="Astana", price_adjust_percent=10)
    make_product(sku="C1", price=1000)

    feed_build()

    offer = offer_element(published_feed(), "C1")
    assert offer.find("k:price", NS) is None
    prices = offer.findall("k:cityprices/k:cityprice", NS)
    assert [(p.get("cityId"), p.text) for p in prices] == [("750000000", "1000"), ("710000000", "1100")]


def test_it_writes_pre_order_days_only_for_stores_that_have_them(store, make_product):
    Store.objects.create(store_id="PP2", preorder_days=5)
    make_product(sku="PO1", supplier_stock=4)

    feed_build()

    stores = offer_element(published_feed(), "PO1").findall("k:availabilities/k:availability", NS)
    assert [s.attrib for s in stores] == [
        {"available": "yes", "storeId": "PP1", "stockCount": "4"},
        {"available": "yes", "storeId": "PP2", "preOrder": "5", "stockCount": "4"},
    ]


def test_it_writes_each_offer_in_its_own_shape(store, monkeypatch):
    # One element is refilled for every offer: nothing of one offer may leak into the next.
    def offer(sku, brand, stores, city_prices=()):
        return Offer(sku=sku, model=f"Model {sku}", brand=brand, price=500, city_prices=city_prices,
                     availabilities=stores, stock=1)

    two_stores = (Availability("PP1", True, 3, None), Availability("PP2", False, 0, 7))
    one_store = (Availability("PP1", True, 1, None),)
    offers = [
        offer("A", "Acme", two_stores, (("750000000", 510),)),
        offer("B", "", one_store),
        offer("C", "Beta", (Availability("PP1", False, 0, 2),), (("750000000", 520), ("710000000", 530))),
    ]
    monkeypatch.setattr(services, "iter_offers", lambda reserved: iter(offers))

    feed_build()

    xml = (settings.FEED_DIR / "kaspi.xml").read_text()
    published_feed()
    assert (
        '<offer sku="A"><model>Model A</model><brand>Acme</brand><availabilities>'
        '<availability available="yes" storeId="PP1" stockCount="3"/>'
        '<availability available="no" storeId="PP2" preOrder="7" stockCount="0"/></availabilities>'
        '<cityprices><cityprice cityId="750000000">510</cityprice></cityprices></offer>\n'
        '<offer sku="B"><model>Model B</model><availabilities>'
        '<availability available="yes" storeId="PP1" stockCount="1"/></availabilities><price>500</price></offer>\n'
        '<offer sku="C"><model>Model C</model><brand>Beta</brand><availabilities>'
        '<availability available="no" storeId="PP1" preOrder="2" stockCount="0"/></availabilities>'
        '<cityprices><cityprice cityId="750000000">520</cityprice><cityprice cityId="710000000">530</cityprice>'
        "</cityprices></offer>\n"
    ) in xml


def test_it_takes_reserved_units_off_the_published_stock(store, make_product, monkeypatch):
    make_product(sku="R1", supplier_stock=5)
    monkeypatch.setattr(services, "reserved_quantities", lambda: {"R1": 2})

    run = feed_build()

    assert offer_element(published_feed(), "R1").find("k:availabilities/k:availability", NS).get("stockCount") == "3"
    assert run.reserved_units == 2
    assert run.change_sample["reserved"] == {"R1": 2}


@pytest.mark.parametrize("name", ["KASPI_COMPANY", "KASPI_MERCHANT_ID"])
def test_it_fails_naming_a_missing_setting(store, make_product, settings, name):
    make_product()
    setattr(settings, name, "")

    run = feed_build()

    assert (run.outcome, run.reason) == (FeedRun.Outcome.FAILED, f"{name} is not set")
    assert not (settings.FEED_DIR / "kaspi.xml").exists()
    assert run.pk and run.finished and run.duration_ms is not None


def test_it_fails_without_a_store_and_keeps_the_previous_feed(store, make_product):
    make_product()
    feed_build()
    before = (settings.FEED_DIR / "kaspi.xml").read_bytes()
    store.delete()

    run = feed_build()

    assert run.outcome == FeedRun.Outcome.FAILED and "store" in run.reason
    assert (settings.FEED_DIR / "kaspi.xml").read_bytes() == before


def test_it_fails_cleanly_when_the_catalogue_breaks_midway(store, make_product, monkeypatch):
    make_product(sku="OLD1")
    feed_build()
    before = (settings.FEED_DIR / "kaspi.xml").read_bytes()
    offers = list(services.iter_offers())

    def broken(reserved):
        yield offers[0]
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "iter_offers", broken)

    run = feed_build()

    assert (run.outcome, run.reason) == (FeedRun.Outcome.FAILED, "RuntimeError: database went away")
    assert (settings.FEED_DIR / "kaspi.xml").read_bytes() == before
    assert not list(settings.FEED_DIR.glob(".build-*"))
    assert published_run().pk != run.pk


def test_it_never_publishes_an_invalid_feed(store, make_product, monkeypatch):
    make_product(sku="GOOD1")
    feed_build()
    before = (settings.FEED_DIR / "kaspi.xml").read_bytes()
    bad = Offer(
        sku="BAD SKU", model="x", brand="", price=100, city_prices=(),
        availabilities=(Availability("PP1", True, 1, None),), stock=1,
    )
    good = list(services.iter_offers())
    monkeypatch.setattr(services, "iter_offers", lambda reserved: iter([*good, bad]))

    run = feed_build(force=True)

    assert (run.outcome, run.valid) == (FeedRun.Outcome.INVALID, False)
    assert "line 7:" in run.validation_errors and "BAD SKU" in run.validation_errors
    assert "BAD SKU" in run.reason
    assert (settings.FEED_DIR / "kaspi.xml").read_bytes() == before


def test_it_never_publishes_duplicate_skus(store, make_product, monkeypatch):
    make_product(sku="D1")
    make_product(sku="D2")
    offers = list(services.iter_offers())
    monkeypatch.setattr(services, "iter_offers", lambda reserved: iter([*offers, offers[0]]))

    run = feed_build()

    assert run.outcome == FeedRun.Outcome.INVALID
    assert run.reason.endswith("line 8: Element '{kaspiShopping}offer': Duplicate key-sequence ['D1'] in unique "
                               "identity-constraint '{kaspiShopping}uniqueSku'.")
    assert run.offers == 2
    assert not (settings.FEED_DIR / "kaspi.xml").exists()


def test_it_holds_a_feed_with_no_offers(store):
    run = feed_build()

    assert (run.outcome, run.reason) == (FeedRun.Outcome.HELD, "The feed has no offers.")
    assert not (settings.FEED_DIR / "kaspi.xml").exists()
    assert published_run() is None


def test_it_holds_a_feed_that_lost_too_many_available_offers(store, make_product):
    for i in range(10):
        make_product(sku=f"S{i}")
    feed_build()
    before = (settings.FEED_DIR / "kaspi.xml").read_bytes()
    Product.objects.filter(sku__in=["S0", "S1", "S2", "S3"]).update(supplier_stock=0)

    run = feed_build()

    assert run.outcome == FeedRun.Outcome.HELD
    assert "from 10 to 6" in run.reason and "40.0%" in run.reason and "FEED_MAX_DROP_PERCENT (30%)" in run.reason
    assert (settings.FEED_DIR / "kaspi.xml").read_bytes() == before
    assert published_run().available_offers == 10
    assert run.stock_changes == 4  # held runs still say what they would have changed


def test_it_publishes_a_drop_within_the_limit(store, make_product):
    for i in range(10):
        make_product(sku=f"S{i}")
    feed_build()
    Product.objects.filter(sku__in=["S0", "S1", "S2"]).update(publish=False)

    assert_published(feed_build())


def test_it_publishes_a_held_feed_when_forced_and_keeps_the_reason(store, make_product, admin_user):
    for i in range(4):
        make_product(sku=f"S{i}")
    feed_build()
    Product.objects.update(supplier_stock=0)
    assert feed_build().outcome == FeedRun.Outcome.HELD

    run = feed_build(force=True, user=admin_user)

    assert (run.outcome, run.forced, run.user) == (FeedRun.Outcome.PUBLISHED, True, admin_user)
    assert "from 4 to 0" in run.reason
    assert published_run() == run
    assert published_feed().find("k:offers/k:offer/k:availabilities/k:availability", NS).get("available") == "no"


def test_it_summarises_changes_since_the_last_published_feed(store, make_product):
    first = [make_product(sku=f"S{i}", price=1000 + i) for i in range(5)]
    run = feed_build()
    assert (run.added, run.removed, run.price_changes, run.stock_changes) == (5, 0, 0, 0)

    Product.objects.filter(sku="S1").update(price=2000)
    Product.objects.filter(sku="S2").update(supplier_stock=1)
    first[3].delete()
    make_product(sku="S9")

    run = feed_build()

    assert (run.added, run.removed, run.price_changes, run.stock_changes) == (1, 1, 1, 1)
    assert run.change_sample == {
        "added": ["S9"], "removed": ["S3"], "price_changes": [["S1", 1001, 2000]], "stock_changes": [["S2", 5, 1]],
    }
    assert (feed_build().added, FeedRun.objects.first().price_changes) == (0, 0)


def test_it_writes_nothing_public_on_a_dry_run(store, make_product):
    make_product()

    run = feed_build(dry_run=True)

    assert (run.outcome, run.valid, run.offers) == (FeedRun.Outcome.DRY_RUN, True, 1)
    assert list(settings.FEED_DIR.iterdir()) == []
    assert published_run() is None


def test_it_says_on_a_dry_run_what_the_guard_would_do(store):
    run = feed_build(dry_run=True)

    assert (run.outcome, run.reason) == (FeedRun.Outcome.DRY_RUN, "The feed has no offers.")


def test_it_replaces_the_published_files_atomically(store, make_product, monkeypatch):
    make_product(sku="V1", price=100)
    feed_build()
    old = (settings.FEED_DIR / "kaspi.xml").read_bytes()
    Product.objects.update(price=200)
    replaced = []
    real_replace = services.os.replace

    def spy(source, target):
        # Until its own replace, the public file still holds the previous feed, whole.
        if target.name == "kaspi.xml":
            assert target.read_bytes() == old
        assert source.parent.parent == target.parent == settings.FEED_DIR
        replaced.append(target.name)
        real_replace(source, target)

    monkeypatch.setattr(services.os, "replace", spy)

    assert_published(feed_build())
    assert sorted(replaced) == ["kaspi-offers.sqlite3", "kaspi.xml", "kaspi.xml.gz"]
    assert offer_element(published_feed(), "V1").findtext("k:price", namespaces=NS) == "200"
    assert not list(settings.FEED_DIR.glob(".build-*"))


def test_it_streams_many_offers_into_a_valid_feed(store):
    Product.objects.bulk_create(
        Product(article=900000 + i, sku=f"M{i}", name=f"Item {i}", purchase_price=10, price=100 + i,
                supplier_stock=i % 3, brand=None)
        for i in range(3000)
    )

    run = feed_build()

    assert (run.offers, run.available_offers) == (3000, 2000)
    assert len(published_feed().find("k:offers", NS)) == 3000


def test_it_prices_cities_by_the_rules_never_below_the_cost_floor(store, make_product):
    from catalog.models import PricingRule, Rounding

    PricingRule.objects.create(name="default", markup_percent=20, rounding=Rounding.END_990)
    City.objects.create(city_id="750000000", name="Алматы", price_adjust_percent=-20)
    City.objects.create(city_id="710000000", name="Астана", price_adjust_percent=5)
    make_product(sku="C2", purchase_price=32631, price=39990)

    feed_build()

    prices = offer_element(published_feed(), "C2").findall("k:cityprices/k:cityprice", NS)
    assert [(p.get("cityId"), p.text) for p in prices] == [("750000000", "32990"), ("710000000", "41990")]


def test_a_locked_price_keeps_its_city_prices_free_of_the_rules_limits(store, make_product):
    City.objects.create(city_id="750000000", name="Алматы", price_adjust_percent=10)
    make_product(sku="L1", purchase_price=5000, price=20000, price_locked=True, max_price=15000)

    feed_build()

    prices = offer_element(published_feed(), "L1").findall("k:cityprices/k:cityprice", NS)
    assert [p.text for p in prices] == ["22000"]
