"""What a routine order import costs at Kaspi: requests per run with many unfinished orders.

    .venv/bin/python bench/order_requests.py [UNFINISHED] [HISTORY]   (default: 500 3000)

A sandbox Kaspi holds HISTORY orders over 60 days, UNFINISHED of them accepted and waiting for
delivery (spread over those days, as a shop with slow regional deliveries has them). The first
import reads all 60 days; then routine runs follow, as the schedule makes them every few minutes.
Printed: the requests of each routine run, and its time at Kaspi's polite pace (KASPI_MIN_INTERVAL,
0.25 s between requests). The throwaway database lives in a temporary folder.
"""

import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLITE_INTERVAL = 0.25  # the default KASPI_MIN_INTERVAL


def main(unfinished, history):
    with tempfile.TemporaryDirectory(prefix="orders-bench-") as tmp:
        _django(Path(tmp))
        from django.core.management import call_command

        from sandbox.server import SandboxServer

        call_command("migrate", verbosity=0)
        with SandboxServer(port=0, products=300, orders=history, order_days=60, seed=11) as server:
            _configure(server)
            _leave_unfinished(server.state, unfinished)
            rows = _measure(server)
    print(f"{unfinished} unfinished of {history} orders over 60 days")
    print("| run | requests | at 0.25 s a request |")
    print("|---|---:|---:|")
    for name, requests in rows:
        print(f"| {name} | {requests} | {requests * POLITE_INTERVAL:.0f} s |")


def _django(tmp):
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "kaspiconnect.settings",
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
        "FEED_DIR": str(tmp / "feeds"),
        "SECRET_KEY": "bench",
        "KASPICONNECT_QUIET": "1",
    })
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _configure(server):
    from django.conf import settings

    settings.KASPI_API_URL = server.kaspi_url
    settings.KASPI_TOKEN = "sandbox-kaspi-token"
    settings.KASPI_MIN_INTERVAL = 0  # counted, not waited for
    settings.STATE_DIR = Path(settings.FEED_DIR).parent


def _leave_unfinished(state, count):
    """Accepted orders waiting for delivery, drawn from the whole history."""
    rng = random.Random(3)
    for order in rng.sample(state.kaspi_orders, count):
        order["attributes"].update(status="ACCEPTED_BY_MERCHANT", state="DELIVERY")


def _measure(server):
    from orders.sync import orders_sync

    def requests_of(run):
        before = len(server.state.kaspi_requests)
        run()
        return len(server.state.kaspi_requests) - before

    rows = [("first import, 60 days", requests_of(lambda: orders_sync(days=60)))]
    time.sleep(0.01)
    rows.append(("routine run", requests_of(orders_sync)))
    rows.append(("next routine run", requests_of(orders_sync)))
    if _hours_pass():
        rows.append(("routine run when every old open order is due again", requests_of(orders_sync)))
    return rows


def _hours_pass():
    """As if ORDERS_STALE_REFRESH_HOURS had passed since every order was read (where orders keep that time)."""
    from datetime import timedelta

    from django.conf import settings
    from django.db.models import F

    from orders.models import Order

    if not any(field.name == "refreshed_at" for field in Order._meta.fields):
        return False
    hours = timedelta(hours=getattr(settings, "ORDERS_STALE_REFRESH_HOURS", 0), minutes=1)
    Order.objects.update(refreshed_at=F("refreshed_at") - hours)
    return True


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
