"""The buyers' names, phones and addresses are encrypted at rest, under a key the shop keeps and can rotate."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from common.crypto import is_current, is_token
from common.log import mask_secrets
from common.text import fold, phone_digits
from kaspiconnect.checks import encryption_key
from orders.models import Order
from orders.personal import customer_data_check
from orders.sync import orders_sync

ROOT = Path(__file__).resolve().parent.parent
OLD_KEY, NEW_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()
PHONE = "+77471234567"


def make_order(code, **fields):
    return Order.objects.create(kaspi_id=f"K{code}", code=code, state="NEW", status="APPROVED_BY_BANK",
                                created_at_kaspi=timezone.now(), **fields)


def stored(order, column):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM orders_order WHERE id = %s", [order.pk])
        return cursor.fetchone()[0]


def found(client, query):
    response = client.get(reverse("admin:orders_order_changelist"), {"q": query})
    return set(response.context["cl"].result_list)


def readable_forms(phone):
    digits = phone_digits(phone)
    return [phone, digits, f"{digits[:3]} {digits[3:6]}", digits[3:]]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="reads the SQLite file")
@pytest.mark.django_db(transaction=True)
def test_it_leaves_no_buyers_phone_or_address_readable_in_the_database_file(sandbox, admin_client, tmp_path):
    orders_sync(days=30)
    orders = list(Order.objects.all())
    assert len(orders) > 20 and sum(bool(order.customer_phone) for order in orders) >= 5
    copy = tmp_path / "copy.sqlite3"
    with connection.cursor() as cursor:
        cursor.execute("VACUUM INTO %s", [str(copy)])  # the whole database as one closed file
    content = copy.read_bytes()
    assert b"orders_order" in content
    for order in orders:
        phone = readable_forms(order.customer_phone) if order.customer_phone else []
        # Also the form a search copy would take: folded (single words would be found inside product
        # descriptions: "Ержан" in "содержание").
        for text in [*phone, order.customer_name, order.delivery_address, fold(order.customer_name),
                     fold(order.delivery_address)]:
            assert not text or text.encode() not in content, text
    order = next(order for order in orders if order.delivery_address and order.customer_phone)
    page = admin_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert order.customer_phone in page and order.delivery_address in page and order.customer_name in page
    digits = phone_digits(order.customer_phone)
    assert order in found(admin_client, f"8 ({digits[:3]}) {digits[3:6]}-{digits[6:8]}-{digits[8:]}")
    assert order in found(admin_client, order.customer_name.split()[-1].upper())


def test_it_stores_tokens_and_reads_the_text_back(db):
    order = make_order("1", customer_name="Айгерим Сапарова", customer_phone=PHONE, delivery_address="Алматы, Абая 1")
    assert all(is_token(stored(order, column)) for column in ("customer_name", "customer_phone", "delivery_address"))
    order = Order.objects.get(pk=order.pk)
    assert (order.customer_name, order.customer_phone, order.delivery_address) == (
        "Айгерим Сапарова", PHONE, "Алматы, Абая 1")
    assert PHONE not in stored(order, "phone_hash") and "сапарова" not in stored(order, "customer_search")


def test_a_second_import_encrypts_nothing_again(db, sandbox):
    orders_sync(days=30)
    tokens = {order.pk: stored(order, "customer_phone") for order in Order.objects.all()}
    run = orders_sync(days=30)
    assert run.updated == 0
    assert tokens == {order.pk: stored(order, "customer_phone") for order in Order.objects.all()}


def test_the_order_list_decrypts_only_what_it_shows(admin_client, db):
    make_order("1", customer_name="Айгерим Сапарова", customer_phone=PHONE, delivery_address="Алматы, Абая 1")
    listed = admin_client.get(reverse("admin:orders_order_changelist")).context["cl"].result_list[0]
    assert {"customer_phone", "delivery_address"} <= listed.get_deferred_fields()
    assert "customer_name" not in listed.get_deferred_fields()  # the list shows it


def test_rotation_encrypts_every_row_under_the_new_key_and_the_old_one_can_go(db, settings, admin_client):
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    orders = [make_order(str(n), customer_name=f"Покупатель {n}", customer_phone=f"+7701000000{n}",
                         delivery_address=f"Астана, дом {n}") for n in range(5)]
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    assert customer_data_check() == {"rows": 5, "plain": 0, "old_key": 5}
    assert found(admin_client, "8 701 000 00 03") == {orders[3]}  # found during the change, under the old key
    out = _command("rotate_encryption_key", "--batch-size", "2")
    assert out.count("orders done") == 3 and "5 orders encrypted again" in out
    assert "0 orders encrypted again" in _command("rotate_encryption_key")  # done already: nothing rewritten
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    assert all(is_current(stored(order, "customer_phone")) for order in orders)
    assert [o.customer_name for o in Order.objects.order_by("code")] == [f"Покупатель {n}" for n in range(5)]
    assert found(admin_client, "+7 701 000 00 03") == {orders[3]}
    assert found(admin_client, "покупатель 3") == {orders[3]}
    assert "0 in plain text, 0 under an older key" in _command("rotate_encryption_key", "--check")
    assert encryption_key(None) == []


def test_check_reports_a_plain_row_and_rotation_encrypts_it(db, admin_client):
    order = make_order("1", customer_name="Айгерим", customer_phone=PHONE)
    with connection.cursor() as cursor:  # as a restore of an old backup would leave it
        cursor.execute("UPDATE orders_order SET customer_phone = %s, phone_hash = '' WHERE id = %s", [PHONE, order.pk])
    with pytest.raises(CommandError, match="not under the first key"):
        _command("rotate_encryption_key", "--check")
    assert Order.objects.get(pk=order.pk).customer_phone == PHONE  # still readable meanwhile
    _command("rotate_encryption_key")
    assert is_token(stored(order, "customer_phone"))
    assert found(admin_client, "8 747 123 45 67") == {order}


def test_check_names_the_plain_rows(db):
    order = make_order("1", customer_name="Айгерим")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE orders_order SET delivery_address = 'Алматы' WHERE id = %s", [order.pk])
    out = StringIO()
    with pytest.raises(CommandError):
        _command("rotate_encryption_key", "--check", out=out)
    assert "1 order: 1 in plain text" in out.getvalue()


def test_a_wrong_key_stops_the_start_naming_the_variable(db, settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    make_order("1", customer_phone=PHONE)
    assert encryption_key(None) == []
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    [error] = encryption_key(None)
    assert error.id == "kaspiconnect.E001" and "FIELD_ENCRYPTION_KEY" in error.msg
    with pytest.raises(CommandError, match="FIELD_ENCRYPTION_KEY"):
        _command("rotate_encryption_key")


def test_a_start_with_no_orders_yet_passes_the_key_check(db):
    assert encryption_key(None) == []


def manage(*args, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FIELD_", "DEBUG", "SECRET"))}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={**clean, "KASPICONNECT_QUIET": "1", "SECRET_KEY": "k3Y-x7Qp9Lm2Vb8R" * 4,
                                           "DEBUG": "false", **env})


@pytest.mark.parametrize("env, says", [
    ({}, "FIELD_ENCRYPTION_KEY is not set"),
    ({"FIELD_ENCRYPTION_KEY": "not-a-key"}, "FIELD_ENCRYPTION_KEY is malformed"),
    ({"FIELD_ENCRYPTION_KEYS": f"{NEW_KEY},short"}, "FIELD_ENCRYPTION_KEYS is malformed"),
])
def test_a_real_start_refuses_a_missing_or_malformed_key(env, says):
    result = manage("check", **env)
    assert result.returncode != 0
    assert says in result.stderr and "Traceback" not in result.stderr
    assert NEW_KEY not in result.stderr


def test_the_key_may_come_from_a_file(tmp_path):
    (tmp_path / "key").write_text(NEW_KEY + "\n")
    code = "from django.conf import settings; print(settings.FIELD_ENCRYPTION_KEYS)"
    result = manage("shell", "-v", "0", "-c", code, FIELD_ENCRYPTION_KEY_FILE=str(tmp_path / "key"))
    assert result.stdout.strip() == str([NEW_KEY]), result.stderr


def test_logs_mask_phones_and_the_keys(settings):
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    for phone in (PHONE, "+7 (747) 123-45-67", "8 747 123 45 67", "77471234567", "7471234567", "747 123 45 67",
                  "8+747+123+45+67", "%2B7%28747%29123-45-67"):
        assert mask_secrets(f"buyer {phone} called") == "buyer *** called", phone
    assert mask_secrets("GET /admin/orders/order/?q=8+747+123+45+67 HTTP/1.1") == \
        "GET /admin/orders/order/?q=*** HTTP/1.1"
    assert mask_secrets("order 500162737: 2 × SKU 10479, 83 040 ₸") == "order 500162737: 2 × SKU 10479, 83 040 ₸"
    assert mask_secrets(f"order 123456789, key {NEW_KEY}") == "order 123456789, key ***"


def _command(*args, out=None):
    out = out or StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()
