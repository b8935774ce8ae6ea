"""The supplier sync end to end against the sandbox's Al-Style, quirks and limits included."""

import pytest

from catalog.models import PricingRule, Product
from catalog.services import SyncError, products_sync, stock_refresh
from jobs.models import JobRun
from sandbox.server import SandboxServer


@pytest.fixture
def big_sandbox(db, settings):
    server = SandboxServer(port=0, products=5000, orders=1, seed=11).start()
    settings.ALSTYLE_API_URL = server.alstyle_url
    PricingRule.objects.create(name="default", markup_percent=20)
    yield server
    server.stop()


def test_it_imports_a_5000_item_catalogue_of_20_pages_completely(big_sandbox):
    run = products_sync()
    pages = [r for r in big_sandbox.state.requests if r.path == "elements-pagination"]
    assert len(pages) == 20
    assert {r.params["limit"] for r in pages} == {"250"}
    articles = {p["article"] for p in big_sandbox.state.alstyle_products if isinstance(p.get("article"), int)}
    assert run.received == 5000
    assert Product.objects.count() == run.created == len(articles) - (run.skipped - 1)
    assert run.skipped >= 1  # the article repeated on a later page, plus unusable records
    second = products_sync()
    assert (second.created, second.updated, second.unchanged) == (0, 0, run.created)


def test_every_imported_sku_is_valid_for_kaspi(big_sandbox):
    import re

    products_sync()
    skus = list(Product.objects.values_list("sku", flat=True))
    assert all(re.fullmatch(r"[A-Za-z0-9]{1,20}", sku) for sku in skus)
    assert len(set(skus)) == len(skus)


def test_it_waits_between_requests_as_the_supplier_demands(db, settings):
    server = SandboxServer(port=0, products=600, orders=1, interval=0.3, seed=3).start()
    try:
        settings.ALSTYLE_API_URL = server.alstyle_url
        settings.ALSTYLE_MIN_INTERVAL = 0.3
        products_sync()
        times = [r.time for r in server.state.requests]
        assert all(later - earlier >= 0.29 for earlier, later in zip(times, times[1:]))
        assert Product.objects.count() > 590
    finally:
        server.stop()


def test_it_rides_out_a_rate_limit_it_was_not_told_about(db, settings):
    server = SandboxServer(port=0, products=600, orders=1, interval=0.2, seed=3).start()
    try:
        settings.ALSTYLE_API_URL = server.alstyle_url
        settings.ALSTYLE_MIN_INTERVAL = 0  # misconfigured: the 403s must be waited out
        products_sync()
        refused = [r for r in server.state.requests if r.path == "elements-pagination"]
        assert len(refused) > 3
        assert Product.objects.count() > 590
    finally:
        server.stop()


def test_a_supplier_failure_mid_walk_changes_nothing(sandbox):
    products_sync()
    before = dict(Product.objects.values_list("article", "supplier_hash"))
    sandbox.state.alstyle_products[0]["price1"] = 123456
    sandbox.state.alstyle_fail_from_page = 2
    with pytest.raises(SyncError):
        products_sync()
    assert dict(Product.objects.values_list("article", "supplier_hash")) == before
    assert JobRun.objects.filter(outcome="failed").count() == 1


def test_a_bad_token_fails_once_with_a_clear_message(sandbox, settings):
    settings.ALSTYLE_TOKEN = "wrong-token-value"
    with pytest.raises(SyncError, match="401") as error:
        products_sync()
    assert "wrong-token-value" not in str(error.value)
    assert len(sandbox.state.requests) == 1


def test_the_stock_refresh_updates_only_changed_rows_in_one_call(sandbox):
    seen = set()  # quantity-price can only hold one entry per article: drop the sandbox's repeat
    sandbox.state.alstyle_products[:] = [p for p in sandbox.state.alstyle_products
                                         if not (p.get("article") in seen or seen.add(p.get("article")))]
    products_sync()
    product = Product.objects.filter(purchase_price__gt=1).first()
    item = next(p for p in sandbox.state.alstyle_products if p.get("article") == product.article)
    item["quantity"] = ">100"
    item["price1"] = product.purchase_price + 10
    sandbox.state.requests.clear()
    run = stock_refresh()
    assert [r.path for r in sandbox.state.requests] == ["quantity-price"]
    assert run.updated == 1
    product.refresh_from_db()
    assert (product.supplier_stock, product.supplier_quantity) == (100, ">100")
    assert stock_refresh().updated == 0


@pytest.mark.parametrize("outage", ["alstyle_empty", "alstyle_fail_from_page"])
def test_a_supplier_outage_leaves_the_published_feed_as_it_was(sandbox, store, outage):
    from feeds.services import feed_build, published_run

    PricingRule.objects.create(name="default", markup_percent=20)
    products_sync()
    first = feed_build()
    assert first.outcome == "published" and first.available_offers > 200
    setattr(sandbox.state, outage, True if outage == "alstyle_empty" else 2)
    with pytest.raises(SyncError):
        products_sync()
    again = feed_build()
    assert again.outcome == "published"
    assert (again.offers, again.available_offers) == (first.offers, first.available_offers)
    assert (again.added, again.removed, again.price_changes, again.stock_changes) == (0, 0, 0, 0)
    assert published_run() == again


def test_a_full_sync_after_a_stock_refresh_restores_what_the_supplier_says(sandbox):
    products_sync()
    product = Product.objects.filter(purchase_price__gt=1).first()
    item = next(p for p in sandbox.state.alstyle_products if p.get("article") == product.article)
    original = (item["quantity"], item["price1"])
    item["quantity"], item["price1"] = 3, product.purchase_price + 500
    stock_refresh()
    item["quantity"], item["price1"] = original
    run = products_sync()
    assert run.updated >= 1
    product.refresh_from_db()
    assert product.purchase_price == original[1]
