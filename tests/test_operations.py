"""The product left alone: the jobs as the queue runs them, the sandbox breaking and mending, the
dashboard and the fake Telegram telling people once each way."""

import pytest
from django.utils import timezone, translation

from catalog.models import PricingRule
from catalog.services import SyncError
from jobs.tasks import run
from monitoring.dashboard import _tiles
from orders.models import StatusChange
from orders.sync import OrderSyncError


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def shop(sandbox, store, settings, admin_request):
    settings.TELEGRAM_API_URL = sandbox.telegram_url
    settings.TELEGRAM_BOT_TOKEN = "42:sandbox-bot"
    settings.TELEGRAM_CHAT_ID = "-100"
    settings.ALERT_EMAILS = []
    settings.HTTP_RETRIES = 0
    PricingRule.objects.create(name="default", markup_percent=20)
    return sandbox, admin_request


def tiles(request):
    return {tile.title: tile for tile in _tiles(request, timezone.now())}


def run_cycle(failing=()):
    """One round of the schedules, the way the cluster runs them; failures are expected to raise."""
    for job in ("sync_products", "sync_orders"):
        if job in failing:
            with pytest.raises((SyncError, OrderSyncError)):
                run(job)
        else:
            run(job)  # a sync that worked queues its own feed build
    run("build_feed")
    run("push_order_statuses")
    run("check_alerts")


def test_a_quiet_shop_syncs_publishes_imports_and_proposes(shop):
    sandbox, request = shop
    run_cycle()
    new_order = sandbox.state.add_order()
    run_cycle()
    assert StatusChange.objects.filter(order__code=new_order["attributes"]["code"], proposed=True).exists()
    colours = {title: tile.colour for title, tile in tiles(request).items()}
    assert colours == {
        "Supplier catalogue, full sync": "green", "Supplier stock and prices": "amber",  # not run in this test
        "Feed built and published": "green", "Kaspi orders imported": "green",
        "Status changes sent to Kaspi": "green", "Alert check": "green",
        "Feed fetched by Kaspi": "green",  # not fetched yet, but not expected yet either: just published
        "Supplier orders at Al-Style": "green",  # runs after each order import
    }


@pytest.mark.parametrize("breakage, tile, job", [
    ("kaspi_token", "Kaspi orders imported", "sync_orders"),
    ("kaspi_down", "Kaspi orders imported", "sync_orders"),
    ("alstyle_token", "Supplier catalogue, full sync", "sync_products"),
    ("alstyle_down", "Supplier catalogue, full sync", "sync_products"),
])
def test_a_broken_api_turns_red_at_once_alerts_once_and_recovers_once(shop, breakage, tile, job):
    sandbox, request = shop
    run_cycle()
    telegram = sandbox.state.telegram_messages
    telegram.clear()
    good = getattr(sandbox.state, breakage)
    setattr(sandbox.state, breakage, "wrong-token" if breakage.endswith("token") else True)

    run_cycle(failing=[job])
    assert tiles(request)[tile].colour == "red"
    for _ in range(4):
        run_cycle(failing=[job])
    problem = [m for m in telegram if "back to normal" not in m["text"] and "approval" not in m["text"].lower()]
    assert len(problem) == 1, telegram

    setattr(sandbox.state, breakage, good)
    run_cycle()
    run_cycle()
    assert tiles(request)[tile].colour == "green"
    recovered = [m for m in telegram if "back to normal" in m["text"]]
    assert len(recovered) == 1, telegram
    assert "wrong-token" not in " ".join(m["text"] for m in telegram)
