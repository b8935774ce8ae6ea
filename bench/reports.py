"""What the reports page costs: seconds and queries at 1,000 and 10,000 orders.

    .venv/bin/python bench/reports.py [N ...]      (default: 1000 10000)

N orders of the last 30 days, one to three lines each over 2,000 SKUs and 40 categories (one line in
twenty without a known cost, one order in ten cancelled), are bulk-created in a throwaway SQLite
database in a temporary folder; the sizes grow one database. Measured, each the median of RUNS
after a warm-up: the report's queries alone (`sales_report`), the page as a superuser opens it, and
one table downloaded as XLSX. The queries must not grow with N.
"""

import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5
SKUS, CATEGORIES = 2000, 40
REASONS = ["MERCHANT_OUT_OF_STOCK", "BUYER_NOT_REACHABLE", "BUYER_CANCELLATION_BY_MERCHANT"]


def main(sizes):
    with tempfile.TemporaryDirectory(prefix="reports-bench-") as tmp:
        _django(Path(tmp))
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        client = _client()
        rows, made = [], 0
        for n in sorted(sizes):
            _orders(made, n - made)
            made = n
            rows += [(n, name, *_measure(run)) for name, run in _runs(client).items()]
    print(f"| orders | what | seconds (median of {RUNS}) | queries |")
    print("|---:|---|---:|---:|")
    for n, name, seconds, queries in rows:
        print(f"| {n:,} | {name} | {seconds:.3f} | {queries} |")


def _django(tmp):
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "kaspiconnect.settings",
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
        "FEED_DIR": str(tmp / "feeds"),
        "STATIC_ROOT": str(tmp / "static"),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "KASPICONNECT_QUIET": "1",
    })
    (tmp / "static").mkdir()  # WhiteNoise wants the folder there, empty is fine
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client's host is allowed
    # Pages render without collectstatic's manifest, as in the tests.
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


def _client():
    from django.contrib.auth.models import User
    from django.test import Client

    client = Client()
    client.force_login(User.objects.create_superuser("bench", "bench@example.kz", "bench"))
    return client


def _orders(first, count):
    from django.utils import timezone

    from orders.models import Order, OrderEntry

    rng = random.Random(first)
    now = timezone.now()
    orders = []
    for code in range(first, first + count):
        cancelled = rng.random() < 0.1
        orders.append(Order(
            kaspi_id=f"bench{code}", code=str(700000 + code), state="ARCHIVE",
            status="CANCELLED" if cancelled else "COMPLETED", cancellation_reason=rng.choice(REASONS) if cancelled
            else "", created_at_kaspi=now - timedelta(seconds=rng.randint(0, 29 * 86400)), entries_loaded=True,
        ))
    orders = Order.objects.bulk_create(orders, batch_size=1000)
    lines = []
    for order in orders:
        for n in range(rng.randint(1, 3)):
            sku, quantity, price = rng.randrange(SKUS), rng.randint(1, 3), rng.randint(1000, 200000)
            lines.append(OrderEntry(
                order=order, kaspi_id=str(n), entry_number=n, sku=f"B{sku}", name=f"Товар {sku}", quantity=quantity,
                unit_price=price, total_price=price * quantity, category_title=f"Категория {sku % CATEGORIES}",
                unit_cost=None if rng.random() < 0.05 else int(price * 0.7), commission=price * quantity // 8,
                delivery_share=rng.choice([0, 0, 500, 1200]),
            ))
    OrderEntry.objects.bulk_create(lines, batch_size=1000)


def _runs(client):
    from django.utils import timezone

    from reports.services import Period, sales_report

    def page(**query):
        response = client.get("/admin/reports/", query)
        assert response.status_code == 200, response.status_code

    return {
        "sales_report()": lambda: sales_report(period=Period.default(timezone.localdate())),
        "the page": page,
        "XLSX download": lambda: page(download="top_products", format="xlsx"),
    }


def _measure(run):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    run()  # warm-up: sessions, content types and templates are cached after the first request
    seconds = []
    for _ in range(RUNS):
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            run()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), len(queries)


if __name__ == "__main__":
    main([int(n) for n in sys.argv[1:]] or [1000, 10000])
