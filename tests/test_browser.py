"""A manager's morning in a real headless Chromium: log in, edit a price, publish the feed, read
the dashboard, approve a proposed acceptance and see it sent to Kaspi, then hand the Kaspi
Delivery order over and open its waybill; and read the reports and download one of their tables.

On PostgreSQL (the second run of `make test`) the site is the production stack, started as
`make run` starts it: `manage.py serve` (collectstatic, gunicorn with WhiteNoise, the queue
cluster), on the test database. On SQLite it is Django's live server in this process.

Chromium comes from the system (`make test` installs Debian's `chromium` where it can); the test
is skipped, saying why, only when no browser is there. `SCREENSHOT_DIR=docs` keeps the
screenshots the README shows (`make screenshots`).
"""

import csv
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.contrib.auth.models import User
from django.db import connection, connections

from catalog.models import PricingRule, Product
from catalog.services import products_sync
from feeds.models import FeedRun
from feeds.services import feed_build
from orders.changes import status_change_approve, status_change_send
from orders.models import Order, StatusChange
from orders.sync import orders_sync
from purchasing.models import SupplierOrder
from purchasing.tracking import supplier_orders_sync

# The browser asks for Russian, as the shop's staff do: the test reads the same language.
pytestmark = [pytest.mark.browser, pytest.mark.russian, pytest.mark.postgres]
ROOT = Path(__file__).resolve().parent.parent

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
        # The test's queries ran in Playwright's greenlet, on a connection of their own: closed here,
        # or PostgreSQL would keep a session open on the test database as it is dropped.
        connections.close_all()


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


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def site(request, shop, sandbox, settings, tmp_path):
    """The site's address: the production stack on PostgreSQL, the live server otherwise."""
    if connection.vendor != "postgresql":
        yield request.getfixturevalue("live_server").url
        return
    # The stack hashes passwords as production does: store the manager's that way.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    manager = User.objects.get(username="manager")
    manager.set_password("browser-test-pass")
    manager.save()
    database = connection.settings_dict
    address = f"127.0.0.1:{_free_port()}"
    env = {
        **os.environ, "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
                                      f"{database['NAME']}",
        "SECRET_KEY": "browser-test-" + "Zq8Lp3Vx7Nc2Rb6Tw1Md5Hk9Gf4Js0" * 2, "DEBUG": "false",
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),  # the key of the orders made here
        "ALLOWED_HOSTS": "127.0.0.1", "STATIC_ROOT": str(tmp_path / "static"), "FEED_DIR": str(settings.FEED_DIR),
        "FEED_TOKEN": settings.FEED_TOKEN, "KASPI_API_URL": sandbox.kaspi_url, "KASPI_TOKEN": settings.KASPI_TOKEN,
        "KASPI_MERCHANT_ID": settings.KASPI_MERCHANT_ID, "KASPI_COMPANY": settings.KASPI_COMPANY,
        "ALSTYLE_API_URL": sandbox.alstyle_url, "ALSTYLE_TOKEN": settings.ALSTYLE_TOKEN, "KASPI_MIN_INTERVAL": "0",
        "ALSTYLE_MIN_INTERVAL": "0", "SANDBOX_URL": sandbox.url,
        "LANGUAGE_CODE": "ru", "GUNICORN_WORKERS": "2", "Q_WORKERS": "1", "KASPICONNECT_QUIET": "1",
    }
    server = subprocess.Popen([sys.executable, "manage.py", "serve", "--address", address], cwd=ROOT, env=env,
                              start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://{address}"
    try:
        _wait_until_healthy(url, server)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=40)
        _wait_for_other_sessions_to_end()


def _wait_for_other_sessions_to_end(seconds=10):
    """The stack's connections close as its processes end; the test database is dropped after that."""
    query = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    deadline = time.monotonic() + seconds
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(query)
            if not cursor.fetchone()[0]:
                return
            time.sleep(0.2)


def _wait_until_healthy(url, server, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"manage.py serve stopped: {server.stderr.read().decode()[-2000:]}")
        try:
            if requests.get(f"{url}/healthz", timeout=10).status_code == 200:  # database and queue cluster up
                return
        except requests.RequestException:  # not listening yet, or a worker still starting on a busy machine
            pass
        time.sleep(0.3)
    pytest.fail("the production stack did not become healthy in time")


def eventually(check, seconds=20):
    """For what the queue does after a click: true at once in-process, within seconds on the real stack."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_a_manager_runs_the_shop_from_the_browser(site, page, shop, screenshots, settings):
    order, kaspi = shop
    page.set_default_timeout(15000)
    page.goto(f"{site}/admin/login/")
    page.fill("#id_username", "manager")
    page.fill("#id_password", "browser-test-pass")
    page.click("input[type=submit]")
    page.wait_for_selector("#content")
    stylesheet = page.get_attribute("link[rel=stylesheet][href*='admin/css/base']", "href")
    styles = page.request.get(f"{site}{stylesheet}", headers={"Accept-Encoding": "gzip"})
    assert styles.status == 200 and "text/css" in styles.headers["content-type"]  # the admin has its styles

    product = Product.objects.filter(price__gt=0, purchase_price__gt=1, rrp_controlled=False).order_by("sku").first()
    page.goto(f"{site}/admin/catalog/product/?q={product.sku}")
    typed = product.purchase_price + 990  # a manager's price above what the goods cost
    page.fill("input[name='form-0-price']", str(typed))
    page.click("input[name='_save']")
    page.wait_for_selector(".messagelist")
    product.refresh_from_db()
    assert (product.price, product.price_locked) == (typed, True)

    builds = FeedRun.objects.count()
    page.goto(f"{site}/admin/feeds/feedrun/")
    page.select_option("select[name='action']", "build_now")
    page.click("button[name='index']")
    page.wait_for_selector(".messagelist .success")
    assert FeedRun.objects.count() == builds + 1
    assert FeedRun.objects.first().outcome == "published"
    assert f'sku="{product.sku}"' in (settings.FEED_DIR / "kaspi.xml").read_text()

    fetched = page.request.get(f"{site}/feeds/{settings.FEED_TOKEN}/kaspi.xml",
                               headers={"User-Agent": "Kaspi price-list fetcher"})
    assert fetched.status == 200 and fetched.headers["content-type"] == "application/xml; charset=utf-8"

    page.goto(f"{site}/admin/")
    page.wait_for_selector("svg")
    page.screenshot(path=str(screenshots / "dashboard.png"), full_page=True)

    proposal = StatusChange.objects.get(order=order, state="pending")
    assert (proposal.action, proposal.proposed) == ("accept", True)
    page.goto(f"{site}/admin/orders/order/{order.pk}/change/")
    page.click("#approve-change")
    page.wait_for_selector(".messagelist")
    assert eventually(lambda: StatusChange.objects.get(pk=proposal.pk).state == "done")  # sent by the queue
    proposal.refresh_from_db()
    assert kaspi["attributes"]["status"] == "ACCEPTED_BY_MERCHANT"
    page.goto(f"{site}/admin/orders/order/{order.pk}/change/")
    assert proposal.get_state_display() in page.inner_text("#content")

    # A Kaspi Delivery order is handed over with its parcels, not completed by the shop.
    offered = page.eval_on_selector_all("#status-request select[name='action'] option", "os => os.map(o => o.value)")
    assert "assemble" in offered and "complete" not in offered and "accept" not in offered
    page.select_option("#status-request select[name='action']", "assemble")
    page.fill("#status-request input[name='places']", "2")
    page.click("#status-request button[type=submit]")
    page.wait_for_selector("#approve-change")
    page.click("#approve-change")
    page.wait_for_selector(".messagelist")
    assert eventually(lambda: Order.objects.get(pk=order.pk).assembled)
    page.reload()
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


def test_a_manager_reads_the_reports_and_downloads_a_table(site, page, shop, screenshots):
    page.set_default_timeout(15000)
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(f"{site}/admin/login/?next=/admin/reports/")
    page.fill("#id_username", "manager")
    page.fill("#id_password", "browser-test-pass")
    page.click("input[type=submit]")
    page.wait_for_selector("#report-totals")
    page.screenshot(path=str(screenshots / "reports.png"), full_page=True)
    shown = page.locator("#report-top_products tbody tr")
    assert shown.count() > 0 and page.locator("svg.kc-chart").count() == 5

    with page.expect_download() as download:
        page.click("#report-top_products a[href*='format=csv']")
    assert download.value.suggested_filename.startswith("top_products-")
    _header, *rows = csv.reader(Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines())
    assert len(rows) == shown.count() and rows[0][0] == shown.first.locator("td").first.inner_text()

    page.set_viewport_size({"width": 390, "height": 844})  # a phone: the tables scroll inside their boxes
    page.reload()
    page.wait_for_selector("#report-totals")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(screenshots / "reports-phone.png"), full_page=True)


def test_a_senior_approves_a_supplier_order_from_the_browser(site, page, shop, sandbox, screenshots):
    """The Kaspi order is accepted; its supplier order is proposed, approved on its page and sent to Al-Style."""
    order, _kaspi = shop
    proposal = StatusChange.objects.get(order=order, state="pending")
    manager = User.objects.get(username="manager")
    assert status_change_send(change_id=status_change_approve(change=proposal, user=manager, queue=False).pk).state \
        == "done"
    supplier_orders_sync()
    supplier_order = SupplierOrder.objects.get(coverage__order=order, state="proposed")
    page.set_default_timeout(15000)
    page.goto(f"{site}/admin/login/?next=/admin/purchasing/supplierorder/{supplier_order.pk}/change/")
    page.fill("#id_username", "manager")
    page.fill("#id_password", "browser-test-pass")
    page.click("input[type=submit]")
    page.wait_for_selector("#approve-supplier-order")
    page.click("#approve-supplier-order")
    page.wait_for_selector(".messagelist")
    assert eventually(lambda: SupplierOrder.objects.get(pk=supplier_order.pk).state == "sent", seconds=60)
    supplier_order.refresh_from_db()
    made = [o for o in sandbox.state.alstyle_orders if o["external_id"] == order.code]
    assert [o["id"] for o in made] == [supplier_order.alstyle_id]
    page.goto(f"{site}/admin/orders/order/{order.pk}/change/")
    assert str(supplier_order.alstyle_id) in page.inner_text("#content")
    page.screenshot(path=str(screenshots / "supplier-order.png"), full_page=True)


# Each page's tables must fit the page: at a laptop's width without any horizontal scrolling, at a
# phone's width with the page itself never wider than the screen (a list may scroll inside its box).
WIDE, PHONE = {"width": 1440, "height": 900}, {"width": 390, "height": 844}
MEASURE = """() => {
  const page = document.scrollingElement.scrollWidth;
  const tables = [...document.querySelectorAll('#content table')].map(t => {
    const box = t.parentElement.getBoundingClientRect();
    return {id: t.id || t.className || t.parentElement.id, width: Math.round(t.getBoundingClientRect().width),
            room: Math.round(box.width)};
  });
  return {page, view: window.innerWidth, tables};
}"""


def _login(page, site):
    page.goto(f"{site}/admin/login/")
    page.fill("#id_username", "manager")
    page.fill("#id_password", "browser-test-pass")
    page.click("input[type=submit]")
    page.wait_for_selector("#content")


def test_the_lists_and_the_dashboard_fit_a_laptop_and_a_phone(site, page, shop, screenshots):
    order, _kaspi = shop
    page.set_default_timeout(15000)
    _login(page, site)
    pages = {"products": "/admin/catalog/product/", "orders": "/admin/orders/order/", "dashboard": "/admin/",
             "order": f"/admin/orders/order/{order.pk}/change/", "feeds": "/admin/feeds/feedrun/"}
    too_wide = []
    for viewport, suffix in [(WIDE, ""), (PHONE, "-phone")]:
        page.set_viewport_size(viewport)
        for name, path in pages.items():
            page.goto(f"{site}{path}")
            page.wait_for_selector("#content")
            measured = page.evaluate(MEASURE)
            if measured["page"] > measured["view"] + 1:
                too_wide.append((name, viewport["width"], "page", measured["page"]))
            if viewport is WIDE:
                too_wide += [(name, viewport["width"], table["id"], table["width"]) for table in measured["tables"]
                             if table["width"] > table["room"] + 1]
            if name in ("products", "orders"):  # the README shows the two lists, as each width shows them first
                page.screenshot(path=str(screenshots / f"{name}{suffix}.png"))
        if viewport is PHONE:  # the filters come before the rows on a phone
            page.goto(f"{site}/admin/catalog/product/")
            filters = page.eval_on_selector("#changelist-filter", "e => e.getBoundingClientRect().top")
            rows = page.eval_on_selector("#result_list", "e => e.getBoundingClientRect().top")
            if filters > rows:
                too_wide.append(("products", viewport["width"], "filters after the rows", filters))
    assert too_wide == [], "\n".join(map(str, too_wide))


def _request_and_approve(page, site, order, action, **fields):
    """Through the order page's status panel: ask for the change, approve it, wait for Kaspi's answer."""
    page.goto(f"{site}/admin/orders/order/{order.pk}/change/")
    page.select_option("#status-request select[name='action']", action)
    for name, value in fields.items():
        page.fill(f"#status-request input[name='{name}']", value)
    page.click("#status-request button[type=submit]")
    page.wait_for_selector("#approve-change")
    page.click("#approve-change")
    page.wait_for_selector(".messagelist")
    change = StatusChange.objects.filter(order=order).order_by("-pk").first()
    assert eventually(lambda: StatusChange.objects.get(pk=change.pk).state == "done"), change.message


def test_a_manager_completes_an_order_with_the_code_the_sandbox_texted(site, page, shop, sandbox, settings):
    """The two-step completion played in the browser, as in the demo: the code "texted" to the buyer is
    read on the sandbox's page that the order page links to."""
    settings.SANDBOX_URL = sandbox.url  # as `manage.py demo` sets it (the stack gets it from its environment)
    kaspi = sandbox.state.add_order()
    orders_sync(days=1)
    order = Order.objects.get(code=kaspi["attributes"]["code"])
    page.set_default_timeout(15000)
    _login(page, site)
    StatusChange.objects.filter(order=order, state="pending").update(state="rejected")  # the proposal aside
    _request_and_approve(page, site, order, "accept")
    _request_and_approve(page, site, order, "complete")  # no code yet: Kaspi texts the buyer one

    page.goto(f"{site}/admin/orders/order/{order.pk}/change/")
    sms = page.get_attribute("#sandbox-sms a", "href")
    page.goto(sms)
    assert "Sandbox" in page.inner_text("#sandbox-banner")
    code = page.inner_text("#code").strip()
    assert code == sandbox.state.security_codes[order.code]

    _request_and_approve(page, site, order, "complete", security_code=code)
    assert eventually(lambda: Order.objects.get(pk=order.pk).status == "COMPLETED")
    assert kaspi["attributes"]["status"] == "COMPLETED"
