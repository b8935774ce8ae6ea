"""The Al-Style client's buying calls: the cart beside the catalogue, one limiter, no repeated changes."""

import json
import re
from datetime import date
from urllib.parse import parse_qs

import pytest
import requests
import responses

from catalog.alstyle import AlstyleClient, AlstyleError, cart_url_for
from common.http import Cause

BASE = "http://alstyle.test/api"
CART = "http://alstyle.test/cart-api"
ATTORNEY = {"ID": "7", "ФИО": "Иванов И. И.", "Основной": "Y"}
CARRIER = {"ID": "3", "Название": "Самовывоз", "Основной": "Y"}


def client(**kwargs):
    return AlstyleClient(base_url=BASE, token="secret-token-123", **kwargs)


def submit(alstyle):
    return alstyle.cart_submit(shipping_date=date(2031, 5, 4), attorney=ATTORNEY, delivery=CARRIER,
                               external_id="KASPI-1", comments="под заказ")


@pytest.mark.parametrize("api, cart", [
    ("https://api.al-style.kz/api", "https://api.al-style.kz/cart-api"),
    ("https://api.al-style.kz/api/", "https://api.al-style.kz/cart-api"),
    ("http://127.0.0.1:8001/alstyle/api", "http://127.0.0.1:8001/alstyle/cart-api"),
    ("https://api.al-style.kz/v2", None),
    ("https://api.al-style.kz", None),
])
def test_it_finds_the_cart_beside_the_catalogue(api, cart):
    assert cart_url_for(api) == cart


def test_it_takes_the_cart_address_from_the_settings_or_beside_the_api_url(settings):
    settings.ALSTYLE_API_URL, settings.ALSTYLE_CART_URL = "https://a.test/api", ""
    assert AlstyleClient().cart_url == "https://a.test/cart-api"
    settings.ALSTYLE_CART_URL = "https://cart.test/basket"
    assert AlstyleClient().cart_url == "https://cart.test/basket"
    assert AlstyleClient(base_url=BASE).cart_url == CART  # a client pointed elsewhere takes its own cart
    assert AlstyleClient(base_url=BASE, cart_url="https://c.test/x/").cart_url == "https://c.test/x"


def test_it_names_the_setting_when_the_cart_cannot_be_found():
    with pytest.raises(AlstyleError, match="ALSTYLE_CART_URL") as error:
        AlstyleClient(base_url="http://alstyle.test/v2", token="t").cart_get()
    assert error.value.cause == Cause.NOT_CONFIGURED and error.value.temporary is False


@pytest.mark.parametrize("setting, says", [
    ({"ALSTYLE_CART_URL": "ftp://cart"}, "ALSTYLE_CART_URL is malformed"),
    ({"ALSTYLE_API_URL": "https://api.al-style.kz/v2"}, "ALSTYLE_CART_URL is not set and cannot be derived"),
])
def test_a_cart_address_that_cannot_work_stops_start_up(setting, says):
    from tests.test_settings import manage

    result = manage("check", **setting)
    assert result.returncode != 0
    assert says in result.stderr and "Traceback" not in result.stderr


def test_a_cart_address_beside_any_api_url_starts():
    from tests.test_settings import manage

    assert manage("check", ALSTYLE_API_URL="http://127.0.0.1:9/alstyle/api").returncode == 0


@responses.activate
def test_it_reads_the_cart_keyed_by_item():
    responses.get(f"{CART}/get", json={"status": True, "data": {
        "9911": {"article": "31547", "label": "Кабель", "price": "1 290", "price2": 1500, "balance": ">50",
                 "quantity": "10", "multiplicity": 5, "total": 12900},
        "9912": {"article": 40001, "label": "Мышь", "price": None, "quantity": 1, "multiplicity": None},
    }}, match=[responses.matchers.query_param_matcher({"access-token": "secret-token-123"})])
    items = client().cart_get()
    assert [(i["item_id"], i["article"], i["quantity"], i["price"]) for i in items] == [
        ("9911", 31547, 10, 1290), ("9912", 40001, 1, None)]
    assert items[0]["label"] == "Кабель" and items[0]["multiplicity"] == 5 and items[0]["balance"] == ">50"


@pytest.mark.parametrize("empty", [[], {}])
@responses.activate
def test_an_empty_cart_comes_as_either_kind_of_nothing(empty):
    responses.get(f"{CART}/get", json={"status": True, "data": empty})
    assert client().cart_get() == []


@responses.activate
def test_it_adds_every_line_in_one_call_and_never_twice():
    responses.get(f"{CART}/add", json={"success": True, "data": [{"hash": "a1"}, {"hash": "b2"}]})
    assert client().cart_add([(31547, 10), (40001, 1)]) == [{"hash": "a1"}, {"hash": "b2"}]
    assert len(responses.calls) == 1
    sent = parse_qs(responses.calls[0].request.url.split("?", 1)[1])
    assert (sent["add"], sent["quantity"]) == (["31547,40001"], ["10,1"])


def test_it_refuses_an_empty_or_non_positive_line():
    for lines in ([], [(31547, 0)]):
        with pytest.raises(ValueError):
            client().cart_add(lines)


@responses.activate
def test_it_submits_the_chosen_entries_as_json_text_and_returns_the_order_id():
    responses.post(f"{CART}/submit", json={"status": True, "data": {"status": "ok", "id": 312113}})
    assert submit(client()) == 312113
    request = responses.calls[0].request
    form = {name: values[0] for name, values in parse_qs(request.body).items()}
    assert form["shipping_date"] == "04.05.2031"
    assert json.loads(form["attorney_json"]) == ATTORNEY and json.loads(form["delivery_json"]) == CARRIER
    assert (form["external_id"], form["comments"]) == ("KASPI-1", "под заказ")
    assert "access-token=secret-token-123" in request.url


@pytest.mark.parametrize("failure, cause", [
    ({"body": requests.Timeout("read timed out")}, Cause.TIMEOUT),
    ({"body": requests.ConnectionError("reset by peer")}, Cause.CONNECTION),
    ({"status": 502, "body": "<html>bad gateway</html>"}, Cause.STATUS),
    ({"status": 200, "body": '{"status": true, "data": {"sta'}, Cause.MALFORMED),
], ids=["timeout", "connection", "502", "cut-answer"])
@responses.activate
def test_it_never_sends_a_submit_again_after_a_lost_answer(failure, cause, settings):
    settings.HTTP_RETRIES = 4
    responses.post(f"{CART}/submit", **failure)
    responses.post(f"{CART}/submit", json={"status": True, "data": {"status": "ok", "id": 2}})
    with pytest.raises(AlstyleError, match="outcome is unknown") as error:
        submit(client())
    assert len(responses.calls) == 1
    assert error.value.cause == cause and error.value.temporary and error.value.maybe_applied
    assert "secret-token-123" not in str(error.value)


@pytest.mark.parametrize("call", [
    lambda c: c.cart_add([(1, 1)]), lambda c: c.cart_remove(1), lambda c: c.cart_clear(), lambda c: c.order_cancel(5),
], ids=["add", "remove", "clear", "cancel"])
@responses.activate
def test_no_change_to_the_cart_is_sent_twice(call):
    responses.get(re.compile(f"{CART}/.*"), body=requests.Timeout("slow"))
    with pytest.raises(AlstyleError, match="outcome is unknown"):
        call(client())
    assert len(responses.calls) == 1


@responses.activate
def test_a_change_refused_as_too_fast_is_sent_again(monkeypatch):
    import time

    waits = []
    monkeypatch.setattr(time, "sleep", waits.append)
    responses.post(f"{CART}/submit", status=403, json={"success": False, "message": "Too many requests", "interval": 5})
    responses.post(f"{CART}/submit", status=200, json={"status": False, "message": "Подождите", "interval": 3})
    responses.post(f"{CART}/submit", json={"status": True, "data": {"status": "ok", "id": 77}})
    assert submit(client()) == 77
    assert len(responses.calls) == 3 and waits == [5, 3]


@responses.activate
def test_a_refused_submit_says_why_and_was_not_carried_out():
    responses.post(f"{CART}/submit", json={"status": False, "message": "Корзина пуста"})
    with pytest.raises(AlstyleError, match="Корзина пуста") as error:
        submit(client())
    assert error.value.temporary is False and error.value.maybe_applied is False
    assert len(responses.calls) == 1


@responses.activate
def test_reads_are_retried_as_before():
    responses.get(f"{CART}/get", body=requests.Timeout("slow"))
    responses.get(f"{CART}/get", json={"status": True, "data": []})
    responses.get(f"{BASE}/orders", status=503)
    responses.get(f"{BASE}/orders", json={"elements": [], "pagination": {"totalCount": 0}})
    assert client().cart_get() == []
    assert client().orders() == ([], {"totalCount": 0})
    assert len(responses.calls) == 4


@responses.activate
def test_it_reads_the_attorneys_and_carriers_with_their_default_flags():
    responses.get(f"{BASE}/user-data", json={"status": True, "data": {
        "Доверенности": [ATTORNEY, {"ID": "8", "Основной": "N"}], "Транспортники": [CARRIER], "bin": "123"}})
    assert client().user_data() == {"attorneys": [ATTORNEY, {"ID": "8", "Основной": "N"}], "carriers": [CARRIER]}


@responses.activate
def test_it_reads_orders_by_type_and_page_and_one_order_with_its_cart():
    page = {"elements": [{"id": 312113, "date": "04.05.2031 10:00", "sum": 12900, "status": "N", "merge_with": None}],
            "pagination": {"totalCount": 41, "totalPages": 3, "currentPage": 2}}
    responses.get(f"{BASE}/orders", json=page,
                  match=[responses.matchers.query_param_matcher({"type": "archive", "page": "2"}, strict_match=False)])
    responses.get(f"{BASE}/order", json={"data": {"id": 312113, "status": "N", "cart": [
        {"article": 31547, "price": 1290, "quantity": 10}]}},
        match=[responses.matchers.query_param_matcher({"id": "312113"}, strict_match=False)])
    responses.get(f"{BASE}/warehouses", json={"almaty": {"name": "Алматы", "city": "Алматы"}})
    elements, pagination = client().orders(type="archive", page=2)
    assert elements[0]["id"] == 312113 and pagination["totalPages"] == 3
    assert client().order(312113)["cart"] == [{"article": 31547, "price": 1290, "quantity": 10}]
    assert client().warehouses()["almaty"]["name"] == "Алматы"
    with pytest.raises(ValueError, match="unknown order type"):
        client().orders(type="all")


@pytest.mark.parametrize("endpoint, body, call", [
    ("cart-api/get", {"status": True, "data": "nothing"}, lambda c: c.cart_get()),
    ("cart-api/get", {"status": True, "data": {"1": {"label": "no article"}}}, lambda c: c.cart_get()),
    ("cart-api/get", {"status": True, "data": {"1": {"article": 5, "quantity": 1, "price": 10**30}}},
     lambda c: c.cart_get()),
    ("cart-api/get", {"status": True}, lambda c: c.cart_get()),
    ("api/user-data", {"status": True, "data": {"Доверенности": []}}, lambda c: c.user_data()),
    ("api/orders", {"elements": {}, "pagination": {}}, lambda c: c.orders()),
    ("api/order", {"data": {"id": 1}}, lambda c: c.order(1)),
    ("api/warehouses", [], lambda c: c.warehouses()),
], ids=["cart-not-object", "item-without-article", "absurd-price", "no-data", "no-carriers", "elements-not-list",
        "order-without-cart", "warehouses-not-object"])
@responses.activate
def test_it_names_a_malformed_answer(endpoint, body, call, settings):
    settings.HTTP_RETRIES = 1
    responses.get(f"http://alstyle.test/{endpoint}", json=body)
    with pytest.raises(AlstyleError) as error:
        call(client())
    assert error.value.cause == Cause.MALFORMED and endpoint in str(error.value)


@pytest.mark.parametrize("data", [{"status": "error", "message": "нет товаров"}, {"status": "ok"}, [], None])
@responses.activate
def test_a_submit_answer_without_an_order_id_may_still_have_ordered(data):
    responses.post(f"{CART}/submit", json={"status": True, "data": data})
    with pytest.raises(AlstyleError, match="no order id") as error:
        submit(client())
    assert error.value.maybe_applied and len(responses.calls) == 1


@responses.activate
def test_catalogue_and_cart_calls_take_turns_from_one_limiter(monkeypatch):
    from catalog import alstyle
    from common import ratelimit

    turns = []  # (name, the moment the limiter let the call go), as the limiter itself reports it

    def recording(name, interval):
        turns.append((name, interval, ratelimit.wait_turn(name, interval)))

    monkeypatch.setattr(alstyle, "wait_turn", recording)
    responses.get(f"{BASE}/categories", json=[])
    responses.get(f"{CART}/get", json={"status": True, "data": []})
    responses.get(f"{CART}/add", json={"success": True, "data": [{"hash": "x"}]})
    responses.get(f"{BASE}/user-data", json={"status": True, "data": {"Доверенности": [], "Транспортники": []}})
    first, second = client(min_interval=0.05), client(min_interval=0.05)  # two clients, one token: one limiter
    first.categories()
    second.cart_get()
    first.cart_add([(1, 5)])
    second.user_data()
    assert {(name, interval) for name, interval, _at in turns} == {("alstyle", 0.05)}
    stamps = [at for _name, _interval, at in turns]
    assert len(stamps) == 4
    assert all(later - earlier >= 0.05 - 1e-6 for earlier, later in zip(stamps, stamps[1:]))
