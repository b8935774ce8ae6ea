"""The sandbox's Al-Style buying calls over real HTTP: the shared cart, submit, orders and their statuses."""

import json
import time
from datetime import date, timedelta

import pytest
import requests

from sandbox.server import SandboxServer

TOKEN = "sandbox-alstyle-token"


@pytest.fixture
def srv():
    server = SandboxServer(port=0, products=300, orders=1, seed=7).start()
    yield server
    server.stop()


def api(srv, endpoint, token=TOKEN, **params):
    return requests.get(f"{srv.alstyle_url}/{endpoint}", params={"access-token": token, **params}, timeout=5)


def cart(srv, endpoint, **params):
    return requests.get(f"{srv.alstyle_cart_url}/{endpoint}", params={"access-token": TOKEN, **params}, timeout=5)


def buyable(srv, count=1, *, stock=20):
    """Ordinary items to buy: a real price, no partner price, no multiplicity, `stock` units."""
    products = [p for p in srv.state.alstyle_products if p.get("name") and p.get("price1", 0) > 1][:count]
    for product in products:
        product.update(quantity=stock, multiplicity=None, discountPrice=0)
    return products


def user_data(srv):
    return api(srv, "user-data").json()["data"]


def submit(srv, *, shipping_date=None, attorney=None, delivery=None, external_id="KASPI-1", method="post"):
    entries = user_data(srv)
    fields = {
        "shipping_date": (shipping_date or date.today() + timedelta(days=1)).strftime("%d.%m.%Y"),
        "attorney_json": json.dumps(attorney or entries["Доверенности"][0], ensure_ascii=False),
        "delivery_json": json.dumps(delivery or entries["Транспортники"][0], ensure_ascii=False),
        "external_id": external_id,
        "comments": "для заказа Kaspi",
    }
    return requests.request(method, f"{srv.alstyle_cart_url}/submit", params={"access-token": TOKEN}, data=fields,
                            timeout=5)


def add(srv, *lines):
    articles, quantities = zip(*lines)
    return cart(srv, "add", add=",".join(map(str, articles)), quantity=",".join(map(str, quantities))).json()


def ordered(srv, *lines):
    assert add(srv, *lines)["success"] is True
    body = submit(srv).json()
    assert body["status"] is True, body
    return body["data"]["id"]


def listed(srv, kind):
    return {order["id"]: order for order in api(srv, "orders", type=kind).json()["elements"]}


# --- the account -------------------------------------------------------------------------------


def test_it_offers_two_attorneys_and_two_carriers_one_of_each_the_default(srv):
    data = user_data(srv)

    assert [len(data["Доверенности"]), len(data["Транспортники"])] == [2, 2]
    assert [e["Основной"] for e in data["Доверенности"]] == [True, False]
    assert sum(e["Основной"] for e in data["Транспортники"]) == 1


def test_it_lists_its_warehouses(srv):
    assert {"almaty", "astana"} <= set(api(srv, "warehouses").json())


# --- the cart ----------------------------------------------------------------------------------


def test_an_empty_cart_is_an_empty_list(srv):
    assert cart(srv, "get").json() == {"status": True, "data": []}


def test_the_cart_holds_what_was_added_with_the_partners_price(srv):
    plain, discounted = buyable(srv, 2)
    discounted["discountPrice"] = discounted["price1"] - 100

    answer = add(srv, (plain["article"], 2), (discounted["article"], 1))
    items = cart(srv, "get").json()["data"]

    assert answer["success"] is True and len(answer["data"]) == 2 and "hash" in answer["data"][0]
    by_article = {item["article"]: item for item in items.values()}
    assert by_article[plain["article"]] == {
        "article": plain["article"], "label": plain["name"], "price": plain["price1"], "price2": plain["price2"],
        "balance": 20, "quantity": 2, "multiplicity": None, "total": plain["price1"] * 2}
    assert by_article[discounted["article"]]["price"] == discounted["price1"] - 100


def test_adding_an_article_again_adds_to_its_line(srv):
    product, = buyable(srv)

    add(srv, (product["article"], 2))
    add(srv, (product["article"], 3))

    assert [item["quantity"] for item in cart(srv, "get").json()["data"].values()] == [5]


@pytest.mark.parametrize("spoil, says", [
    (lambda p: 1, "Unknown article"),
    (lambda p: p.update(multiplicity=5) or p["article"], "sold in multiples of 5"),
    (lambda p: p.update(price1=1) or p["article"], "has no price"),
    (lambda p: p.update(quantity=2) or p["article"], "Not enough stock"),
    (lambda p: p.update(quantity=">2") or p["article"], "Not enough stock"),
], ids=["unknown", "not-a-multiple", "price-on-request", "short", "more-than-too-little"])
def test_it_refuses_a_line_it_cannot_sell_and_adds_none_of_the_call(srv, spoil, says):
    good, bad = buyable(srv, 2)

    body = add(srv, (good["article"], 1), (spoil(bad), 3))

    assert body["status"] is False and says in body["message"]
    assert cart(srv, "get").json()["data"] == []


def test_a_multiple_of_the_multiplicity_is_accepted(srv):
    product, = buyable(srv)
    product["multiplicity"] = 5

    assert add(srv, (product["article"], 10))["success"] is True


def test_it_needs_as_many_quantities_as_articles(srv):
    product, = buyable(srv)

    response = cart(srv, "add", add=f"{product['article']},{product['article'] + 1}", quantity="1")

    assert response.status_code == 400


def test_it_removes_one_article_and_clears_the_rest(srv):
    first, second = buyable(srv, 2)
    add(srv, (first["article"], 1), (second["article"], 1))

    assert cart(srv, "remove", item=first["article"]).json()["success"] is True
    assert [i["article"] for i in cart(srv, "get").json()["data"].values()] == [second["article"]]
    assert cart(srv, "remove", item=first["article"]).json()["status"] is False  # gone already
    assert cart(srv, "clear").json() == {"status": True, "data": True}
    assert cart(srv, "get").json()["data"] == []


def test_someone_else_can_put_an_item_in_the_shared_cart(srv):
    mine, theirs = buyable(srv, 2)
    add(srv, (mine["article"], 1))

    srv.state.alstyle_foreign_cart_item(theirs["article"], 4)

    assert {(i["article"], i["quantity"]) for i in cart(srv, "get").json()["data"].values()} == {
        (mine["article"], 1), (theirs["article"], 4)}


# --- submit --------------------------------------------------------------------------------------


def test_a_submit_orders_the_cart_empties_it_and_keeps_the_external_id_to_itself(srv):
    first, second = buyable(srv, 2)
    add(srv, (first["article"], 2), (second["article"], 1))

    body = submit(srv, external_id="KASPI-777").json()

    order_id = body["data"]["id"]
    assert body == {"status": True, "data": {"status": "ok", "id": order_id}}
    assert cart(srv, "get").json()["data"] == []
    total = first["price1"] * 2 + second["price1"]
    shown = listed(srv, "index")[order_id]
    assert shown["status"] == "N" and shown["sum"] == total and shown["merge_with"] is None
    assert set(shown) == {"id", "date", "date_status", "sum", "status", "merge_with"}
    detail = api(srv, "order", id=order_id).json()["data"]
    assert "external_id" not in detail and "KASPI-777" not in json.dumps(detail, ensure_ascii=False)
    assert [(line["article"], line["price"], line["quantity"]) for line in detail["cart"]] == [
        (first["article"], first["price1"], 2), (second["article"], second["price1"], 1)]
    assert srv.state.alstyle_find_order(order_id)["external_id"] == "KASPI-777"


def test_order_ids_are_not_consecutive(srv):
    product, = buyable(srv)

    first, second = ordered(srv, (product["article"], 1)), ordered(srv, (product["article"], 1))

    assert second > first + 1


@pytest.mark.parametrize("change, says", [
    ({"shipping_date": date.today() - timedelta(days=1)}, "in the past"),
    ({"attorney": {"ID": "d-1", "ФИО": "Чужой", "Основной": True}}, "attorney_json"),
    ({"delivery": {"ID": "t-7"}}, "delivery_json"),
], ids=["past-date", "unknown-attorney", "partial-carrier"])
def test_a_submit_needs_a_date_ahead_and_entries_of_user_data(srv, change, says):
    product, = buyable(srv)
    add(srv, (product["article"], 1))

    body = submit(srv, **change).json()

    assert body["status"] is False and says in body["message"]
    assert len(cart(srv, "get").json()["data"]) == 1  # nothing ordered, the cart as it was


def test_a_submit_without_a_date_is_refused(srv):
    product, = buyable(srv)
    add(srv, (product["article"], 1))

    response = requests.post(f"{srv.alstyle_cart_url}/submit", params={"access-token": TOKEN}, data={}, timeout=5)

    assert response.json() == {"status": False, "message": "shipping_date is required as DD.MM.YYYY"}


def test_a_submit_is_a_post_and_of_a_cart_with_something_in_it(srv):
    assert submit(srv).json() == {"status": False, "message": "The cart is empty"}
    product, = buyable(srv)
    add(srv, (product["article"], 1))

    assert submit(srv, method="get").status_code == 405


def test_it_remembers_the_submitted_form(srv):
    product, = buyable(srv)
    add(srv, (product["article"], 1))
    submit(srv, external_id="KASPI-9")

    sent = [r for r in srv.state.requests if r.path == "cart-api/submit"][-1]

    assert sent.params["external_id"] == "KASPI-9" and sent.params["access-token"] == TOKEN
    assert json.loads(sent.params["attorney_json"]) == user_data(srv)["Доверенности"][0]


# --- orders over time --------------------------------------------------------------------------------


def test_an_order_moves_from_awaiting_payment_to_shipped_and_paid_as_time_passes(srv):
    product, = buyable(srv)
    order_id = ordered(srv, (product["article"], 1))
    seen = []
    for minutes, kind in ((0, "index"), (30, "current"), (90, "current"), (24 * 60, "archive")):
        srv.state.alstyle_advance_orders(minutes)
        seen.append((listed(srv, kind)[order_id]["status"], api(srv, "order", id=order_id).json()["data"]["status"]))

    assert seen == [("N", "N"), ("SV", "SV"), ("OK", "OK"), ("F", "F")]
    assert order_id not in listed(srv, "index")


def test_the_status_date_follows_the_last_change(srv):
    from datetime import datetime

    product, = buyable(srv)
    order_id = ordered(srv, (product["article"], 1))
    placed = listed(srv, "index")[order_id]

    srv.state.alstyle_advance_orders(45)
    moved = listed(srv, "current")[order_id]

    assert placed["date_status"] == placed["date"] == moved["date"]
    at = {name: datetime.strptime(moved[name], "%d.%m.%Y %H:%M:%S") for name in ("date", "date_status")}
    assert at["date_status"] - at["date"] == timedelta(minutes=30)  # it became ready 30 minutes in


def test_al_style_may_cancel_an_order_itself(srv):
    product, = buyable(srv)
    srv.state.alstyle_supplier_cancels_next = 1
    cancelled, kept = ordered(srv, (product["article"], 1)), ordered(srv, (product["article"], 1))

    srv.state.alstyle_advance_orders(30)

    assert listed(srv, "canceled")[cancelled]["status"] == "DA"
    assert listed(srv, "current")[kept]["status"] == "SV"


def test_an_order_can_be_cancelled_until_it_ships(srv):
    product, = buyable(srv)
    early, late = ordered(srv, (product["article"], 1)), None
    assert cart(srv, "cancel", order=early).json() == {"status": True}
    assert listed(srv, "canceled")[early]["status"] == "DA"
    assert cart(srv, "cancel", order=early).json()["status"] is False  # once is enough

    late = ordered(srv, (product["article"], 1))
    srv.state.alstyle_advance_orders(120)
    body = cart(srv, "cancel", order=late).json()

    assert body["status"] is False and "can no longer be cancelled (status OK)" in body["message"]
    assert cart(srv, "cancel", order=1).status_code == 404


def test_an_order_merged_into_another_shows_where_it_went(srv):
    product, other = buyable(srv, 2)
    first, second = ordered(srv, (product["article"], 1)), ordered(srv, (other["article"], 2))

    srv.state.alstyle_merge_order(first, into=second)

    merged = listed(srv, "archive")[first]
    assert (merged["status"], merged["merge_with"]) == ("Un", second)
    assert len(api(srv, "order", id=second).json()["data"]["cart"]) == 2


def test_the_history_pages_by_type_and_every_order_is_in_exactly_one_type(srv):
    kinds = {}
    for kind in ("index", "current", "archive", "canceled"):
        first = api(srv, "orders", type=kind).json()
        pages = [first] + [api(srv, "orders", type=kind, page=n).json()
                           for n in range(2, first["pagination"]["totalPages"] + 1)]
        kinds[kind] = [o for page in pages for o in page["elements"]]
        assert len(kinds[kind]) == first["pagination"]["totalCount"]
    archive = api(srv, "orders", type="archive").json()
    ids = {kind: [o["id"] for o in orders] for kind, orders in kinds.items()}

    assert archive["pagination"]["totalPages"] >= 2 and len(archive["elements"]) == 20
    assert sorted(i for found in ids.values() for i in found) == sorted(o["id"] for o in srv.state.alstyle_orders)
    assert api(srv, "orders").json()["elements"] == api(srv, "orders", type="index").json()["elements"]
    assert ids["archive"] == sorted(ids["archive"], reverse=True)  # the newest first
    assert {o["status"] for o in kinds["archive"]} == {"F", "Un"} and {o["status"] for o in kinds["canceled"]} == {"DA"}
    assert any(o["merge_with"] in ids["archive"] for o in kinds["archive"] if o["status"] == "Un")
    assert api(srv, "orders", type="archive", page=99).json()["elements"] == []
    assert api(srv, "orders", type="all").status_code == 400


def test_an_unknown_order_is_not_found(srv):
    assert api(srv, "order", id=1).status_code == 404
    assert api(srv, "order").status_code == 400


# --- the limits and faults the catalogue has ----------------------------------------------------------


def test_the_cart_shares_the_catalogues_one_request_per_interval(srv):
    srv.state.alstyle_interval = 0.3

    statuses = [api(srv, "categories").status_code, cart(srv, "get").status_code, api(srv, "user-data").status_code]
    time.sleep(0.3)

    assert statuses == [200, 403, 403]
    assert cart(srv, "get").status_code == 200


def test_cart_calls_need_the_token_and_fail_like_the_rest(srv):
    product, = buyable(srv)
    bad_token = requests.get(f"{srv.alstyle_cart_url}/get", params={"access-token": "stolen"}, timeout=5)
    srv.state.alstyle_broken = {"cart-api/add"}
    broken = cart(srv, "add", add=product["article"], quantity=1)
    srv.state.alstyle_broken = set()
    srv.state.fail_rate, srv.state.fault_kinds = 1.0, ("502",)
    failed = cart(srv, "add", add=product["article"], quantity=1)
    srv.state.fail_rate = 0
    srv.state.alstyle_down = True
    down = cart(srv, "get")
    srv.state.alstyle_down = False

    assert [bad_token.status_code, broken.status_code, failed.status_code, down.status_code] == [401, 500, 502, 503]
    assert cart(srv, "get").json()["data"] == []  # none of them added anything


def test_a_slow_fault_still_adds(srv):
    product, = buyable(srv)
    srv.state.fail_rate, srv.state.fault_kinds, srv.state.slow_seconds = 1.0, ("slow",), 0.3

    with pytest.raises(requests.Timeout):
        requests.get(f"{srv.alstyle_cart_url}/add", params={"access-token": TOKEN, "add": product["article"],
                                                             "quantity": 1}, timeout=0.1)
    srv.state.fail_rate = 0

    assert len(cart(srv, "get").json()["data"]) == 1


def test_a_late_submit_answer_comes_after_the_order_was_made(srv):
    product, = buyable(srv)
    add(srv, (product["article"], 1))
    srv.state.alstyle_submit_answers_late, srv.state.slow_seconds = True, 0.3
    before = len(srv.state.alstyle_orders)

    started = time.monotonic()
    body = submit(srv).json()

    assert time.monotonic() - started >= 0.3 and body["status"] is True
    assert len(srv.state.alstyle_orders) == before + 1 and srv.state.alstyle_submit_answers_late is False


def test_a_submit_may_be_carried_out_and_never_answered(srv):
    product, = buyable(srv)
    add(srv, (product["article"], 1))
    srv.state.alstyle_submit_answers_late, srv.state.drop_seconds = "drop", 0.1
    before = len(srv.state.alstyle_orders)

    with pytest.raises(requests.ConnectionError):
        submit(srv)

    assert len(srv.state.alstyle_orders) == before + 1 and cart(srv, "get").json()["data"] == []


# --- the project's client against it ---------------------------------------------------------------


def test_the_client_buys_through_the_sandbox_with_the_cart_beside_the_api(sandbox):
    from catalog.alstyle import AlstyleClient

    product, = buyable(sandbox)
    client = AlstyleClient()
    entries = client.user_data()
    attorney = next(e for e in entries["attorneys"] if e["Основной"])
    carrier = next(e for e in entries["carriers"] if e["Основной"])

    client.cart_add([(product["article"], 2)])
    assert [(i["article"], i["quantity"], i["price"]) for i in client.cart_get()] == [
        (product["article"], 2, product["price1"])]
    order_id = client.cart_submit(shipping_date=date.today() + timedelta(days=2), attorney=attorney,
                                  delivery=carrier, external_id="KASPI-42")
    elements, pagination = client.orders()

    assert client.cart_url == sandbox.alstyle_cart_url
    assert elements[0]["id"] == order_id and pagination["currentPage"] == 1
    assert client.order(order_id)["cart"][0]["quantity"] == 2
    assert client.cart_get() == []
    assert "almaty" in client.warehouses()
    client.order_cancel(order_id)
    assert order_id in [o["id"] for o in client.orders(type="canceled")[0]]


def test_the_client_sees_a_late_submit_as_unknown_and_finds_the_order_by_reading_back(sandbox):
    from catalog.alstyle import AlstyleClient, AlstyleError

    product, = buyable(sandbox)
    client = AlstyleClient()
    entries = client.user_data()
    client.cart_add([(product["article"], 1)])
    sandbox.state.alstyle_submit_answers_late = True  # the fixture answers late past its 0.4 s timeout

    with pytest.raises(AlstyleError, match="outcome is unknown") as error:
        client.cart_submit(shipping_date=date.today() + timedelta(days=1), attorney=entries["attorneys"][0],
                           delivery=entries["carriers"][0], external_id="KASPI-43")

    assert error.value.maybe_applied
    assert [r.path for r in sandbox.state.requests].count("cart-api/submit") == 1
    assert client.cart_get() == []
    newest = client.orders()[0][0]
    assert sandbox.state.alstyle_find_order(newest["id"])["external_id"] == "KASPI-43"
