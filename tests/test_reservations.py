"""Open orders hold stock: the feed publishes what is left, and gets it back when they close."""

import pytest
from lxml import etree

from catalog.models import PricingRule, Product
from catalog.services import products_sync
from feeds.services import feed_build
from feeds.validation import validate_file
from orders.changes import status_change_approve, status_change_request, status_change_send
from orders.models import Order
from orders.stock import reserved_quantities
from orders.sync import orders_sync

NS = {"k": "kaspiShopping"}


@pytest.fixture(autouse=True)
def priced_catalogue(sandbox, store):
    PricingRule.objects.create(name="default", markup_percent=20)
    products_sync()


def published_stock(settings, sku):
    path = settings.FEED_DIR / "kaspi.xml"
    assert validate_file(path) == []
    offer = etree.parse(str(path)).find(f".//k:offer[@sku='{sku}']", NS)
    return int(offer.find(".//k:availability", NS).get("stockCount")), offer.find(".//k:availability", NS).get(
        "available")


def test_an_open_order_holds_stock_until_it_is_cancelled(sandbox, store, settings, admin_user):
    product = Product.objects.filter(supplier_stock__gte=3, supplier_stock__lt=50, price__gt=0,
                                     purchase_price__gt=1).first()
    stock = product.supplier_stock
    feed_build()
    assert published_stock(settings, product.sku) == (stock, "yes")

    kaspi = sandbox.state.add_order(entries=[(product.sku, 2)])
    orders_sync(days=1)
    assert reserved_quantities()[product.sku] == 2
    run = feed_build()
    assert run.outcome == "published" and run.reserved_units >= 2
    assert published_stock(settings, product.sku) == (stock - 2, "yes")

    order = Order.objects.get(code=kaspi["attributes"]["code"])
    change = status_change_request(order=order, action="cancel", reason="BUYER_NOT_REACHABLE", user=admin_user)
    status_change_approve(change=change, user=admin_user, queue=False)
    assert status_change_send(change_id=change.pk).state == "done"
    assert product.sku not in reserved_quantities()
    feed_build()
    assert published_stock(settings, product.sku) == (stock, "yes")


def test_reservations_never_publish_negative_stock(sandbox, store, settings):
    product = Product.objects.filter(supplier_stock__gte=1, supplier_stock__lt=3, price__gt=0,
                                     purchase_price__gt=1).first()
    sandbox.state.add_order(entries=[(product.sku, 5)])
    orders_sync(days=1)
    feed_build()
    assert published_stock(settings, product.sku) == (0, "no")


def test_completed_orders_release_what_they_held(sandbox, store, settings):
    product = Product.objects.filter(supplier_stock__gte=3, supplier_stock__lt=50, price__gt=0).first()
    kaspi = sandbox.state.add_order(entries=[(product.sku, 1)])
    orders_sync(days=1)
    assert reserved_quantities().get(product.sku) == 1
    kaspi["attributes"].update(status="COMPLETED", state="ARCHIVE")
    orders_sync(days=1)
    assert product.sku not in reserved_quantities()
