"""Order import through the real Kaspi client against the sandbox."""

from datetime import timedelta

import pytest

from catalog.services import products_sync
from jobs.locks import JobBusy
from jobs.models import JobRun
from orders.models import Order, OrderEntry, StatusChange
from orders.sync import orders_sync, windows

DAY_MS = 24 * 3600 * 1000


def order_list_requests(sandbox):
    return [r for r in sandbox.state.kaspi_requests if r.method == "GET" and r.path == "/orders"]


def assert_kaspi_rules_kept(sandbox):
    for request in order_list_requests(sandbox):
        params = request.params
        assert int(params["page[size]"]) <= 100
        if "filter[orders][code]" not in params:
            low = int(params["filter[orders][creationDate][$ge]"])
            high = int(params["filter[orders][creationDate][$le]"])
            assert 0 <= high - low <= 14 * DAY_MS


def test_windows_never_exceed_fourteen_days():
    from django.utils import timezone

    until = timezone.now()
    parts = list(windows(until - timedelta(days=60), until))
    assert len(parts) == 5
    assert all(high - low < timedelta(days=14) for low, high in parts)
    assert parts[0][0] == until - timedelta(days=60) and parts[-1][1] == until
    assert all(b[0] - a[1] == timedelta(milliseconds=1) for a, b in zip(parts, parts[1:]))


def test_it_imports_every_order_with_its_lines(db, sandbox):
    products_sync()
    run = orders_sync(days=30)
    assert run.outcome == "ok"
    assert Order.objects.count() == len(sandbox.state.kaspi_orders)
    kaspi_entries = sum(len(order["entries"]) for order in sandbox.state.kaspi_orders)
    assert OrderEntry.objects.count() == kaspi_entries
    linked = OrderEntry.objects.filter(product__isnull=False).count()
    assert linked >= kaspi_entries * 0.8
    entry = OrderEntry.objects.filter(product__isnull=False).first()
    assert entry.name and entry.unit_price > 0 and entry.total_price >= entry.unit_price
    order = Order.objects.exclude(customer_phone="").first()
    assert order.customer_name and order.created_at_kaspi
    assert_kaspi_rules_kept(sandbox)


def test_a_second_run_creates_nothing(db, sandbox):
    orders_sync(days=30)
    run = orders_sync(days=30)
    assert (run.created, run.updated) == (0, 0)
    assert Order.objects.count() == len(sandbox.state.kaspi_orders)


def routine_lows(sandbox):
    return {int(r.params["filter[orders][creationDate][$ge]"]) for r in order_list_requests(sandbox)
            if "filter[orders][creationDate][$ge]" in r.params}


def test_the_first_run_reads_the_configured_days_and_later_runs_never_reach_further_back(db, sandbox, settings):
    settings.ORDERS_FIRST_DAYS = 3
    orders_sync()
    first_since = min(routine_lows(sandbox))
    sandbox.state.kaspi_requests.clear()
    orders_sync()
    assert min(routine_lows(sandbox)) >= first_since  # history the first run left out stays out
    assert Order.objects.filter(created_at_kaspi__lt=Order.objects.latest("created_at_kaspi").created_at_kaspi
                                - timedelta(days=3, minutes=1)).count() == 0


def test_a_routine_run_rereads_the_last_fourteen_days_in_one_window_per_state(db, sandbox):
    from django.utils import timezone

    orders_sync(days=30)
    sandbox.state.kaspi_requests.clear()
    started = timezone.now()
    orders_sync()
    [low] = routine_lows(sandbox)
    assert abs(low - int((started - timedelta(days=14)).timestamp() * 1000)) < 60_000
    states = [r.params["filter[orders][state]"] for r in order_list_requests(sandbox)
              if "filter[orders][state]" in r.params]
    assert sorted(set(states)) == sorted(["NEW", "SIGN_REQUIRED", "PICKUP", "DELIVERY", "KASPI_DELIVERY", "ARCHIVE"])


def test_it_records_a_status_changed_at_kaspi(db, sandbox):
    order = sandbox.state.add_order()
    orders_sync(days=2)
    order["attributes"].update(status="CANCELLED", state="ARCHIVE")
    run = orders_sync(days=2)
    assert run.updated == 1
    local = Order.objects.get(code=order["attributes"]["code"])
    assert local.status == "CANCELLED"
    assert local.events.filter(text__contains="→ CANCELLED").exists()


@pytest.mark.parametrize("before, after", [
    ("APPROVED_BY_BANK", "ACCEPTED_BY_MERCHANT"),
    ("CANCELLING", "CANCELLED"),
    ("KASPI_DELIVERY_RETURN_REQUESTED", "RETURNED"),
])
def test_it_refreshes_unfinished_orders_older_than_the_window(db, sandbox, settings, before, after):
    order = sandbox.state.add_order(creationDate=sandbox_ms(days_ago=20), status=before)
    orders_sync(days=25)
    order["attributes"].update(status=after, state="ARCHIVE")
    stale_refresh_period_passes(settings)
    orders_sync(days=1)
    assert Order.objects.get(code=order["attributes"]["code"]).status == after


def stale_refresh_period_passes(settings):
    """As if ORDERS_STALE_REFRESH_HOURS had passed since every order was last read."""
    from django.db.models import F

    Order.objects.update(refreshed_at=F("refreshed_at") - timedelta(hours=settings.ORDERS_STALE_REFRESH_HOURS,
                                                                     minutes=1))


def test_a_finished_order_older_than_the_window_is_not_read_again(db, sandbox):
    order = sandbox.state.add_order(creationDate=sandbox_ms(days_ago=20), status="COMPLETED", state="ARCHIVE")
    orders_sync(days=25)
    sandbox.state.kaspi_requests.clear()
    orders_sync(days=1)
    code = order["attributes"]["code"]
    assert not [r for r in sandbox.state.kaspi_requests if r.params.get("filter[orders][code]") == code]


def sandbox_ms(days_ago):
    from django.utils import timezone

    return int((timezone.now() - timedelta(days=days_ago)).timestamp() * 1000)


def test_it_proposes_accept_or_cancel_for_new_paid_orders(db, sandbox):
    products_sync()
    from catalog.models import Product

    in_stock = Product.objects.filter(supplier_stock__gte=5, publish=True, purchase_price__gt=1).first()
    sold_out = Product.objects.filter(supplier_stock=0).first()
    in_stock.price = sold_out.price = 1000
    in_stock.save()
    sold_out.save()
    good = sandbox.state.add_order(entries=[(in_stock.sku, 1)])
    mixed = sandbox.state.add_order(entries=[(in_stock.sku, 1), (sold_out.sku, 2)])
    hopeless = sandbox.state.add_order(entries=[(sold_out.sku, 1)])
    orders_sync(days=1)
    good_change = StatusChange.objects.get(order__code=good["attributes"]["code"])
    assert (good_change.action, good_change.state, good_change.proposed) == ("accept", "pending", True)
    # Only the short line is cancelled; the rest is accepted once that is done.
    part = StatusChange.objects.get(order__code=mixed["attributes"]["code"])
    assert (part.action, part.reason, part.sku, part.keep_quantity) == (
        "cancel_entry", "MERCHANT_OUT_OF_STOCK", sold_out.sku, 0)
    assert sold_out.sku in part.comment
    whole = StatusChange.objects.get(order__code=hopeless["attributes"]["code"])
    assert (whole.action, whole.reason) == ("cancel", "MERCHANT_OUT_OF_STOCK")
    orders_sync(days=1)
    assert StatusChange.objects.count() == StatusChange.objects.values("order").distinct().count()


def test_a_failed_import_keeps_what_it_stored_and_does_not_move_the_watermark(db, sandbox, settings):
    settings.HTTP_RETRIES = 0
    sandbox.state.kaspi_down = True
    with pytest.raises(Exception, match="503"):
        orders_sync(days=30)
    run = JobRun.objects.get(kind="sync_orders")
    assert run.outcome == "failed" and "503" in run.error
    sandbox.state.kaspi_down = False
    orders_sync(days=30)
    assert Order.objects.count() == len(sandbox.state.kaspi_orders)


def test_it_converges_with_twenty_percent_failures(db, sandbox, settings):
    settings.HTTP_RETRIES = 2
    sandbox.state.fail_rate = 0.2
    for _ in range(6):
        try:
            orders_sync(days=30)
            break
        except Exception:
            continue
    sandbox.state.fail_rate = 0
    orders_sync(days=30)
    assert Order.objects.count() == len(sandbox.state.kaspi_orders)
    assert OrderEntry.objects.count() == sum(len(o["entries"]) for o in sandbox.state.kaspi_orders)
    assert Order.objects.filter(entries_loaded=False).count() == 0


def test_a_second_run_while_one_is_running_is_refused(db, sandbox):
    from jobs.locks import job_lock

    with job_lock("orders-sync"):
        with pytest.raises(JobBusy):
            orders_sync(days=1)


def test_it_names_the_missing_token(db, settings):
    settings.KASPI_TOKEN = ""
    with pytest.raises(Exception, match="KASPI_TOKEN is not set"):
        orders_sync(days=1)


def test_it_imports_3000_orders_over_60_days_within_kaspis_rules(db, settings):
    from django.core.management import call_command

    from sandbox.server import SandboxServer

    server = SandboxServer(port=0, products=300, orders=3000, order_days=60, seed=5).start()
    try:
        settings.KASPI_API_URL = server.kaspi_url
        call_command("sync_orders", "--days", "60")
        assert Order.objects.count() == 3000
        kaspi_lines = [line for order in server.state.kaspi_orders for line in order["entries"]]
        assert {len(order["entries"]) for order in server.state.kaspi_orders} == {1, 2, 3, 4}
        assert any("entryNumber" not in line["attributes"] for line in kaspi_lines)
        assert OrderEntry.objects.count() == len(kaspi_lines)  # every line, numbered or not
        assert_kaspi_rules_kept(server)
        call_command("sync_orders", "--days", "60")
        assert Order.objects.count() == 3000
        assert JobRun.objects.filter(kind="sync_orders").order_by("-started").first().created == 0
    finally:
        server.stop()


def test_it_polls_kaspi_politely(db, sandbox, settings, monkeypatch):
    """Spacing is measured where the client releases each request (the moment the limiter stamps):
    arrival times at the sandbox add the loaded machine's scheduling jitter to what the client controls."""
    from orders import kaspi

    released = []

    def timed_wait_turn(name, interval):
        released.append(wait_turn(name, interval))

    wait_turn = kaspi.wait_turn
    monkeypatch.setattr(kaspi, "wait_turn", timed_wait_turn)
    settings.KASPI_MIN_INTERVAL = 0.05
    orders_sync(days=2)
    assert len(released) == len(sandbox.state.kaspi_requests) > 5
    assert all(later - earlier >= 0.05 - 1e-6 for earlier, later in zip(released, released[1:]))  # float rounding only


def test_the_import_keeps_the_buyers_search_forms(db, sandbox):
    from common.crypto import keyed_phone, keyed_words

    order = sandbox.state.add_order()
    order["attributes"]["customer"].update(name="Сапарова Айгерим", cellPhone="+77471234567")
    orders_sync(days=2)
    local = Order.objects.get(code=order["attributes"]["code"])
    assert (local.customer_search, local.phone_hash) == (keyed_words("сапарова айгерим"), keyed_phone("7471234567"))
    order["attributes"]["customer"].update(name="Сапарова-Ёлкина Айгерим", cellPhone="+7 (705) 000-11-22")
    orders_sync(days=2)
    local.refresh_from_db()
    assert (local.customer_search, local.phone_hash) == (keyed_words("сапарова-елкина айгерим"),
                                                          keyed_phone("7050001122"))
    assert all((o.customer_search, o.phone_hash) == (keyed_words(o.customer_name), keyed_phone(o.customer_phone))
               for o in Order.objects.all())
