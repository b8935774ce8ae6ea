"""Killed in the middle: SIGKILL a sync, a feed build (its publish included), an order import and a
status push as real processes, then run the job again. Nothing is lost, nothing is sent twice,
nothing is left "running", and the served feed is always a whole, valid file.

Slow (real processes, several seconds each): `make test-slow`, which CI runs too.
"""

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from feeds.validation import validate_file
from sandbox.server import SandboxServer
from tests.conftest import FIELD_KEY

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


class Shop:
    """The product as separate processes (`manage.py …`) on its own SQLite file and folders, talking to
    a sandbox in this process."""

    def __init__(self, tmp_path, sandbox, **settings):
        self.db_path, self.feed_dir, self.sandbox = tmp_path / "shop.sqlite3", tmp_path / "feeds", sandbox
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("ALSTYLE_", "KASPI_", "FEED_", "DATABASE_"))},
            "DATABASE_URL": f"sqlite:///{self.db_path}", "FEED_DIR": str(self.feed_dir),
            "STATE_DIR": str(tmp_path / "state"), "SECRET_KEY": "crash-test-" + "Lp4Vx8Nc2Rb6Tw1Md5Hk9Gf3Js7Zq0" * 2,
            "FIELD_ENCRYPTION_KEY": FIELD_KEY,
            "ALSTYLE_API_URL": sandbox.alstyle_url, "ALSTYLE_TOKEN": sandbox.state.alstyle_token,
            "KASPI_API_URL": sandbox.kaspi_url, "KASPI_TOKEN": sandbox.state.kaspi_token,
            "KASPI_MERCHANT_ID": "12345", "KASPI_COMPANY": "Crash shop", "FEED_TOKEN": "crash-feed-token-0123456789",
            "HTTP_RETRIES": "0", "HTTP_TIMEOUT": "5", "LANGUAGE_CODE": "en", "KASPICONNECT_QUIET": "1",
            "ALSTYLE_MIN_INTERVAL": "0", "KASPI_MIN_INTERVAL": "0", **settings,
        }
        self.manage("migrate", "--noinput")
        self.python("from catalog.models import PricingRule, Store; Store.objects.create(store_id='PP1', name='M');"
                    "PricingRule.objects.create(name='default', markup_percent=20)")

    def manage(self, *args, **env):
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**self.env, **env},
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    def python(self, code):
        return self.manage("shell", "-v", "0", "-c", code)

    def start(self, *args, **env):
        return subprocess.Popen([sys.executable, "manage.py", *args], cwd=ROOT, env={**self.env, **env},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def query(self, sql):
        with sqlite3.connect(self.db_path, timeout=30) as connection:
            return connection.execute(sql).fetchall()


def kill_when(process, ready, seconds=60):
    """SIGKILL the process (and its group) as soon as `ready()`; False if it ended first."""
    deadline = time.monotonic() + seconds
    while not ready():
        if process.poll() is not None:
            return False
        assert time.monotonic() < deadline, "the moment to kill never came"
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return True


@pytest.fixture
def sandbox():
    server = SandboxServer(port=0, products=1500, orders=200, order_days=30, seed=11).start()
    yield server
    server.stop()


def pages_read(sandbox):
    return sum(request.path == "elements-pagination" for request in sandbox.state.requests)


def test_a_killed_sync_changes_nothing_and_the_next_run_closes_it_and_finishes(tmp_path, sandbox):
    shop = Shop(tmp_path, sandbox, ALSTYLE_MIN_INTERVAL="0.3")
    assert kill_when(shop.start("sync_products"), lambda: pages_read(sandbox) >= 3)
    assert shop.query("select outcome from catalog_syncrun") == [("running",)]
    assert shop.query("select count(*) from catalog_product") == [(0,)]  # read first, then one write

    shop.manage("sync_products", ALSTYLE_MIN_INTERVAL="0")
    runs = shop.query("select outcome, error from catalog_syncrun order by started")
    assert [outcome for outcome, _ in runs] == ["failed", "ok"]
    assert "stopped before it finished" in runs[0][1]
    articles = {product["article"] for product in sandbox.state.alstyle_products if product.get("article")}
    assert shop.query("select count(*) from catalog_product")[0][0] >= len(articles) - 10  # bad records skipped


def test_builds_killed_at_any_moment_never_serve_a_broken_feed(tmp_path, sandbox):
    shop = Shop(tmp_path, sandbox)
    shop.manage("sync_products")
    began = time.monotonic()
    shop.manage("build_feed")
    took = time.monotonic() - began
    served = shop.feed_dir / "kaspi.xml"
    rng = random.Random(3)
    killed = 0
    for _ in range(8):
        build = shop.start("build_feed")
        moment = time.monotonic() + rng.uniform(0.2, took)
        killed += kill_when(build, lambda moment=moment: time.monotonic() >= moment)
        assert validate_file(served) == []  # whole and valid, whatever moment the kill came
    assert killed >= 4

    shop.manage("build_feed")
    assert not list(shop.feed_dir.glob(".build-*"))  # the killed builds' work folders are gone
    assert shop.query("select count(*) from catalog_syncrun where outcome = 'running'") == [(0,)]
    assert validate_file(served) == []


def test_a_killed_import_loses_nothing_and_duplicates_nothing(tmp_path, sandbox):
    shop = Shop(tmp_path, sandbox, KASPI_MIN_INTERVAL="0.02")
    lines_read = lambda: sum(r.path.endswith("/entries") for r in sandbox.state.kaspi_requests)  # noqa: E731
    assert kill_when(shop.start("sync_orders", "--days", "30"), lambda: lines_read() >= 40)

    shop.manage("sync_orders", "--days", "30")
    orders = [order for order in sandbox.state.kaspi_orders]
    assert shop.query("select count(*), count(distinct kaspi_id) from orders_order") == [(len(orders), len(orders))]
    lines = sum(len(order["entries"]) for order in orders)
    assert shop.query("select count(*) from orders_orderentry") == [(lines,)]
    assert [row[0] for row in shop.query("select outcome from catalog_syncrun order by started")] == ["failed", "ok"]


def test_a_killed_push_sends_nothing_twice_and_the_next_push_settles_everything(tmp_path, sandbox):
    shop = Shop(tmp_path, sandbox)
    codes = [sandbox.state.add_order()["attributes"]["code"] for _ in range(8)]
    shop.manage("sync_orders", "--days", "1")
    shop.python(
        "from django.contrib.auth.models import User; from orders.changes import status_change_request,"
        " status_change_approve; from orders.models import Order; boss = User.objects.create_superuser('boss');"
        f"[status_change_approve(change=status_change_request(order=o, action='accept', user=boss), user=boss,"
        f" queue=False) for o in Order.objects.filter(code__in={json.dumps(codes)})]"
    )
    accepted = lambda: sum(p.http_status == 200 for p in sandbox.state.status_posts)  # noqa: E731
    assert kill_when(shop.start("push_order_statuses", KASPI_MIN_INTERVAL="0.4"), lambda: accepted() >= 2)
    left = shop.query("select state from orders_statuschange where requested_by_id is not null and state != 'done'")
    assert left  # the kill came with changes still to send (one of them perhaps "sending")

    shop.manage("push_order_statuses")
    assert shop.query("select state, count(*) from orders_statuschange where requested_by_id is not null "
                      "group by state") == [("done", len(codes))]
    for code in codes:
        assert [p.http_status for p in sandbox.state.status_posts if p.code == code].count(200) == 1, code
