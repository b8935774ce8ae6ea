"""A manager's morning in a real headless Chromium: log in, edit a price, publish the feed, read
the dashboard, approve a proposed acceptance and see it sent to Kaspi, then hand the Kaspi
Delivery order over and open its waybill.

Chromium comes from the system (`make test` installs Debian's `chromium` where it can); the test
is skipped, saying why, only when no browser is there. `SCREENSHOT_DIR=docs` keeps the
screenshots the README shows (`make screenshots`).
"""

import os
import shutil
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from catalog.models import PricingRule, Product
from catalog.services import products_sync
from feeds.models import FeedRun
from feeds.services import feed_build
from orders.models import Order, StatusChange
from orders.sync import orders_sync

# The browser asks for Russian, as the shop's staff do: the test reads the same language.
pytestmark = [pytest.mark.browser, pytest.mark.russian]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


@pytest.fixture
def page(monkeypatch):
    if not CHROMIUM:
        pytest.skip("no Chromium on this machine (Debian package `chromium`); make test installs it where it can")
    playwright_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API keeps an event loop in this thread; the test's own ORM calls are still sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="ru-RU")
        yield context.new_page()
        browser.close()


@pytest.fixture
def screenshots(tmp_path):
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def shop(transactional_db, sandbox, store):
    """A shop after its first night: catalogue priced, feed published, orders imported."""
    PricingRule.objects.create(name="Общая наценка", markup_percent=15, min_margin_percent=5, rounding="90")
    products_sync()
    feed_build()
    orders_sync(days=30)
    User.objects.create_superuser("manager", "manager@example.kz", "browser-test-pass")
    in_stock = Product.objects.filter(supplier_stock__gte=5, price__gt=0, purchase_price__gt=1, publish=True).first()
    kaspi = sandbox.state.add_order(kaspi_delivery=True, entries=[(in_stock.sku, 1)])
    orders_sync(days=1)
    return Order.objects.get(code=kaspi["attributes"]["code"]), kaspi


def test_a_manager_runs_the_shop_from_the_browser(live_server, page, shop, screenshots, settings):
    order, kaspi = shop
    page.set_default_timeout(15000)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "manager")
    page.fill("#id_password", "browser-test-pass")
    page.click("input[type=submit]")
    page.wait_for_selector("#content")

    product = Product.objects.filter(price__gt=0).order_by("sku").first()
    page.goto(f"{live_server.url}/admin/catalog/product/?q={product.sku}")
    page.fill("input[name='form-0-price']", "12990")
    page.click("input[name='_save']")
    page.wait_for_selector(".messagelist")
    product.refresh_from_db()
    assert (product.price, product.price_locked) == (12990, True)

    builds = FeedRun.objects.count()
    page.goto(f"{live_server.url}/admin/feeds/feedrun/")
    page.select_option("select[name='action']", "build_now")
    page.click("button[name='index']")
    page.wait_for_selector(".messagelist .success")
    assert FeedRun.objects.count() == builds + 1
    assert FeedRun.objects.first().outcome == "published"
    assert f'sku="{product.sku}"' in (settings.FEED_DIR / "kaspi.xml").read_text()

    fetched = page.request.get(f"{live_server.url}/feeds/{settings.FEED_TOKEN}/kaspi.xml",
                               headers={"User-Agent": "Kaspi price-list fetcher"})
    assert fetched.status == 200 and fetched.headers["content-type"] == "application/xml; charset=utf-8"

    page.goto(f"{live_server.url}/admin/")
    page.wait_for_selector("svg")
    page.screenshot(path=str(screenshots / "dashboard.png"), full_page=True)

    proposal = StatusChange.objects.get(order=order, state="pending")
    assert (proposal.action, proposal.proposed) == ("accept", True)
    page.goto(f"{live_server.url}/admin/orders/order/{order.pk}/change/")
    page.click("#approve-change")
    page.wait_for_selector(".messagelist")
    proposal.refresh_from_db()
    assert proposal.state == "done"
    assert kaspi["attributes"]["status"] == "ACCEPTED_BY_MERCHANT"
    page.goto(f"{live_server.url}/admin/orders/order/{order.pk}/change/")
    assert proposal.get_state_display() in page.inner_text("#content")

    # A Kaspi Delivery order is handed over with its parcels, not completed by the shop.
    offered = page.eval_on_selector_all("#status-request select[name='action'] option", "os => os.map(o => o.value)")
    assert "assemble" in offered and "complete" not in offered and "accept" not in offered
    page.select_option("#status-request select[name='action']", "assemble")
    page.fill("#status-request input[name='places']", "2")
    page.click("#status-request button[type=submit]")
    page.wait_for_selector("#approve-change")
    page.click("#approve-change")
    page.wait_for_selector("#waybill-open")
    order.refresh_from_db()
    assert order.assembled and order.waybill_number in page.inner_text("#kaspi-delivery")
    waybill = page.get_attribute("#waybill-open", "href")
    assert waybill == order.waybill
    pdf = page.request.get(waybill)
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.body().startswith(b"%PDF")
    page.screenshot(path=str(screenshots / "order.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.reload()
    page.wait_for_selector("#waybill-open")
    page.screenshot(path=str(screenshots / "order-phone.png"))  # the first screen, as a phone shows it
