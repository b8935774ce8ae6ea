"""The product left alone: the jobs as the queue runs them, the sandbox breaking and mending, the
dashboard and the fake Telegram telling people once each way."""

import pytest
from django.utils import timezone, translation

from catalog import tasks as catalog_tasks
from catalog.models import PricingRule
from catalog.services import SyncError
from feeds import tasks as feed_tasks
from monitoring import tasks as alert_tasks
from monitoring.dashboard import _tiles
from orders import tasks as order_tasks
from orders.models import StatusChange
from orders.sync import OrderSyncError


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def shop(sandbox, store, settings, rf, admin_user):
    settings.TELEGRAM_API_URL = sandbox.telegram_url
    settings.TELEGRAM_BOT_TOKEN = "42:sandbox-bot"
    settings.TELEGRAM_CHAT_ID = "-100"
    settings.ALERT_EMAILS = []
    settings.HTTP_RETRIES = 0
    PricingRule.objects.create(name="default", markup_percent=20)
    request = rf.get("/admin/")
    request.user = admin_user
    return sandbox, request


def tiles(request):
    return {tile.title: tile for tile in _tiles(request, timezone.now())}


def run_cycle(failing=()):
    """One round of the schedules, the way the cluster runs them; failures are expected to raise."""
    for task in (catalog_tasks.sync_catalog, order_tasks.sync_orders):
        if task in failing:
            with pytest.raises((SyncError, OrderSyncError)):
                task()
        else:
            task()
    feed_tasks.build_feed()
    order_tasks.push_status_changes()
    alert_tasks.check_alerts()


def test_a_quiet_shop_syncs_publishes_imports_and_proposes(shop):
    sandbox, request = shop
    run_cycle()
    new_order = sandbox.state.add_order()
    run_cycle()
    assert StatusChange.objects.filter(order__code=new_order["attributes"]["code"], proposed=True).exists()
    assert tiles(request)["Orders imported"].colour == "green"
    assert tiles(request)["Feed published"].colour == "green"
    assert tiles(request)["Supplier catalogue"].colour == "green"


@pytest.mark.parametrize("breakage, tile, task", [
    ("kaspi_token", "Orders imported", order_tasks.sync_orders),
    ("kaspi_down", "Orders imported", order_tasks.sync_orders),
    ("alstyle_token", "Supplier catalogue", catalog_tasks.sync_catalog),
    ("alstyle_down", "Supplier catalogue", catalog_tasks.sync_catalog),
])
def test_a_broken_api_turns_red_at_once_alerts_once_and_recovers_once(shop, settings, breakage, tile, task):
    sandbox, request = shop
    run_cycle()
    telegram = sandbox.state.telegram_messages
    telegram.clear()
    good = getattr(sandbox.state, breakage)
    setattr(sandbox.state, breakage, "wrong-token" if breakage.endswith("token") else True)

    run_cycle(failing=[task])
    assert tiles(request)[tile].colour == "red"
    for _ in range(settings.ALERT_FAILURES_IN_A_ROW + 2):
        run_cycle(failing=[task])
    problem = [m for m in telegram if "back to normal" not in m["text"] and "approval" not in m["text"].lower()]
    assert len(problem) == 1, telegram

    setattr(sandbox.state, breakage, good)
    run_cycle()
    run_cycle()
    assert tiles(request)[tile].colour == "green"
    recovered = [m for m in telegram if "back to normal" in m["text"]]
    assert len(recovered) == 1, telegram
    assert "wrong-token" not in " ".join(m["text"] for m in telegram)
