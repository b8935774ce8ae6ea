"""`manage.py demo` can be played to the end: the buyer's code on the sandbox's page, Kaspi's fetch
played by the sandbox, a password hint on a restart, and a clear refusal of a taken port."""

import os
import socket
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import lxml.html
import pytest
import requests
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.urls import reverse

from common.sandbox import buyer_sms_url
from feeds.models import FeedFetch
from kaspiconnect.management.commands.demo import Command
from orders.models import Order
from orders.sync import order_import_by_code
from sandbox import server as sandbox_server
from tests.test_orders_admin import from_order_page

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def demo(sandbox, settings):
    """The settings as `manage.py demo` leaves them: the sandbox is the Kaspi API, and says so."""
    settings.SANDBOX_URL = sandbox.url
    return sandbox


@pytest.fixture
def taken_port():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def order_page(admin_client, order):
    return lxml.html.fromstring(admin_client.get(reverse("admin:orders_order_change", args=[order.pk])).content)


# --- the buyer's completion code -----------------------------------------------------------------

def test_the_order_is_completed_with_the_code_on_the_sandbox_page_the_order_page_links_to(
        admin_client, demo, django_capture_on_commit_callbacks):
    kaspi = demo.state.add_order()
    order = order_import_by_code(code=kaspi["attributes"]["code"])
    assert from_order_page(admin_client, order, django_capture_on_commit_callbacks, action="accept").state == "done"
    assert from_order_page(admin_client, order, django_capture_on_commit_callbacks, action="complete").state == "done"

    [link] = order_page(admin_client, order).xpath('//*[@id="sandbox-sms"]/a')
    assert "Sandbox" in link.text_content()
    page = requests.get(link.get("href"), timeout=5)
    assert page.status_code == 200
    document = lxml.html.fromstring(page.content)
    assert "Sandbox, not Kaspi." in document.get_element_by_id("sandbox-banner").text_content()
    code = document.get_element_by_id("code").text_content()
    assert code == demo.state.security_codes[order.code]

    done = from_order_page(admin_client, order, django_capture_on_commit_callbacks, action="complete",
                           security_code=code)
    assert done.state == "done" and kaspi["attributes"]["status"] == "COMPLETED"
    assert Order.objects.get(pk=order.pk).status == "COMPLETED"


def test_the_sandbox_page_waits_for_a_code_not_sent_yet(demo):
    page = requests.get(demo.sms_url("777"), timeout=5)
    assert page.status_code == 404
    assert "No code has been sent for order 777 yet" in page.text and 'http-equiv="refresh"' in page.text


@pytest.mark.parametrize("where", ["no sandbox", "the real Kaspi"])
def test_there_is_no_sandbox_page_outside_the_sandbox(admin_client, sandbox, settings, where):
    kaspi = sandbox.state.add_order()
    order = order_import_by_code(code=kaspi["attributes"]["code"])
    if where == "the real Kaspi":
        settings.SANDBOX_URL = sandbox.url
        settings.KASPI_API_URL = "https://kaspi.kz/shop/api/v2"
    assert buyer_sms_url(order.code) == ""
    assert order_page(admin_client, order).xpath('//*[@id="sandbox-sms"]') == []
    assert admin_client.get(f"/sandbox/sms/{order.code}").status_code == 404  # the shop serves no such page


# --- Kaspi's fetch, played by the sandbox ----------------------------------------------------------

@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("ignore:No directory at")  # the session's live server predates the test's STATIC_ROOT
def test_the_sandbox_fetches_the_feed_as_kaspi(live_server, monkeypatch, settings):
    monkeypatch.setattr(sandbox_server, "FETCH_RETRY_SECONDS", 0.05)
    feed = f"{live_server.url}{reverse('feeds:kaspi', args=[settings.FEED_TOKEN])}"
    with sandbox_server.SandboxServer(port=0, products=10, orders=0) as sandbox:
        sandbox.fetch_feed_every(feed, 60)
        deadline = time.monotonic() + 10
        while not FeedFetch.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    fetch = FeedFetch.objects.by_kaspi().get()  # nothing published yet: answered 503, counted all the same
    assert (fetch.user_agent, fetch.status) == (sandbox_server.KASPI_FETCHER_AGENT, 503)


# --- the admin's password ------------------------------------------------------------------------

def test_a_new_demo_shows_the_admins_password_once(db, monkeypatch):
    monkeypatch.delenv("DEMO_ADMIN_PASSWORD", raising=False)
    out = StringIO()
    Command(stdout=out).prepare_admin()
    password = out.getvalue().split("admin / ")[1].split()[0]
    assert get_user_model().objects.get(username="admin").check_password(password)


def test_a_restarted_demo_says_how_to_get_a_password(db, monkeypatch):
    get_user_model().objects.create_superuser("admin", "admin@example.com", "forgotten-1")
    monkeypatch.delenv("DEMO_ADMIN_PASSWORD", raising=False)
    monkeypatch.setenv("DATABASE_URL", "sqlite:///var/demo.sqlite3")
    out = StringIO()
    Command(stdout=out).prepare_admin()
    said = out.getvalue()
    assert "DEMO_ADMIN_PASSWORD=… make demo" in said
    assert "DATABASE_URL=sqlite:///var/demo.sqlite3 " in said and "manage.py changepassword admin" in said
    assert "forgotten-1" not in said


def test_a_restarted_demo_takes_the_password_from_demo_admin_password(db, monkeypatch):
    get_user_model().objects.create_superuser("admin", "admin@example.com", "forgotten-1")
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "chosen-pw-2")
    out = StringIO()
    Command(stdout=out).prepare_admin()
    assert "password from DEMO_ADMIN_PASSWORD" in out.getvalue()
    assert get_user_model().objects.get(username="admin").check_password("chosen-pw-2")


# --- ports -----------------------------------------------------------------------------------------

def test_the_demo_refuses_a_taken_sandbox_port(taken_port):
    with pytest.raises(CommandError, match=f"cannot start the sandbox on port {taken_port}: .*another demo"):
        call_command("demo", address="127.0.0.1:0", sandbox_port=taken_port)


def test_the_demo_with_a_taken_web_port_exits_non_zero_before_printing_any_url(taken_port, tmp_path):
    env = {**os.environ, "KASPICONNECT_DEMO": "1", "KASPICONNECT_QUIET": "1", "LANGUAGE_CODE": "en",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}", "STATE_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "manage.py", "demo", "--address", f"127.0.0.1:{taken_port}"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert f"cannot serve the demo at 127.0.0.1:{taken_port}" in result.stderr
    assert "Is another demo running?" in result.stderr
    assert "http://" not in result.stdout
    assert not (tmp_path / "demo.sqlite3").exists()  # refused before touching anything
