"""The built-in sandbox of the Al-Style and Kaspi APIs, spoken to over real HTTP (no database)."""

import base64
import json
import re
import time
from collections import Counter
from datetime import datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
import requests

from sandbox.server import SandboxServer

ALSTYLE_TOKEN = "sandbox-alstyle-token"
KASPI_TOKEN = "sandbox-kaspi-token"
USER_AGENT = "kaspiconnect-tests/1.0"
DAY_MS = 86_400_000
ALMATY = ZoneInfo("Asia/Almaty")
MASKED_PHONE = "+0(000)-000-00-00"
FINAL_STATUSES = ("COMPLETED", "CANCELLED", "RETURNED")
DOCUMENTED_ATTRIBUTES = {
    "code", "totalPrice", "paymentMode", "creditTerm", "creationDate", "approvedByBankDate", "plannedDeliveryDate",
    "reservationDate", "deliveryMode", "isKaspiDelivery", "deliveryAddress", "deliveryCost", "deliveryCostForSeller",
    "pickupPointId", "signatureRequired", "preOrder", "state", "status", "cancellationReason", "assembled", "customer",
}
KASPI_DELIVERY_FIELDS = {"waybill", "waybillNumber", "courierTransmissionDate", "courierTransmissionPlanningDate",
                         "express", "returnedToWarehouse"}


@pytest.fixture
def srv():
    server = SandboxServer(port=0, products=600, orders=80, order_days=30, seed=7).start()
    yield server
    server.stop()


def alstyle(srv, endpoint, token=ALSTYLE_TOKEN, **params):
    params = {"access-token": token, **params}
    return requests.get(f"{srv.alstyle_url}/{endpoint}", params=params, headers={"User-Agent": USER_AGENT},
                        timeout=5)


def kaspi_get(srv, path, params=None, *, token=KASPI_TOKEN, user_agent=USER_AGENT, timeout=5):
    headers = {"X-Auth-Token": token, "User-Agent": user_agent}
    return requests.get(f"{srv.kaspi_url}{path}", params=params, headers=headers, timeout=timeout)


def kaspi_orders(srv, **params):
    now = int(time.time() * 1000)
    defaults = {
        "page[number]": 0,
        "page[size]": 100,
        "filter[orders][creationDate][$ge]": now - 14 * DAY_MS,
        "filter[orders][creationDate][$le]": now,
    }
    return kaspi_get(srv, "/orders", {**defaults, **params})


def kaspi_post(srv, path, body, headers=None):
    headers = {"X-Auth-Token": KASPI_TOKEN, "User-Agent": USER_AGENT,
               "Content-Type": "application/vnd.api+json", **(headers or {})}
    return requests.post(f"{srv.kaspi_url}{path}", data=json.dumps(body), headers=headers, timeout=5)


def set_status(srv, order, status, headers=None, **attributes):
    body = {"data": {"type": "orders", "id": order["id"],
                     "attributes": {"code": order["attributes"]["code"], "status": status, **attributes}}}
    return kaspi_post(srv, "/orders", body, headers)


def sending_code(code=""):
    """The headers of both completion calls: X-Send-Code stays true; the code is empty in the first."""
    return {"X-Send-Code": "true", "X-Security-Code": code}


def complete(srv, order):
    assert set_status(srv, order, "COMPLETED", sending_code()).status_code == 200
    code = srv.state.security_codes[order["attributes"]["code"]]
    assert set_status(srv, order, "COMPLETED", sending_code(code)).status_code == 200


def cancel_entry(srv, entry_id, remained, reason="MERCHANT_OUT_OF_STOCK", notes="Нет на складе", headers=None):
    body = {"data": {"type": "orderEntryCancelOperation",
                     "attributes": {"notes": notes, "remainedQuantity": remained, "reason": reason},
                     "relationships": {"entry": {"data": {"type": "orderentries", "id": entry_id}}}}}
    return kaspi_post(srv, "/orderEntryCancelOperation", body, headers)


def served_order(srv, order):
    """The order as Kaspi serves it now, read by its code."""
    params = {"page[number]": 0, "page[size]": 1, "filter[orders][code]": order["attributes"]["code"]}
    return kaspi_get(srv, "/orders", params).json()["data"][0]


def served_entries(srv, order):
    return kaspi_get(srv, f"/orders/{quote(order['id'], safe='')}/entries").json()["data"]


def all_orders(srv):
    """Every order of the last 14 days, page by page, with the customers included."""
    first = kaspi_orders(srv, **{"include[orders]": "user"}).json()
    pages = [first] + [kaspi_orders(srv, **{"page[number]": n, "include[orders]": "user"}).json()
                       for n in range(1, first["meta"]["pageCount"])]
    return [o for page in pages for o in page["data"]], [c for page in pages for c in page["included"]]


def error_title(response):
    return response.json()["errors"][0]["title"]


# --- Al-Style -----------------------------------------------------------------------------------


def test_it_pages_through_the_whole_catalogue(srv):
    pages = [alstyle(srv, "elements-pagination", limit=250, offset=offset).json() for offset in (0, 250, 500)]

    assert [len(page["elements"]) for page in pages] == [250, 250, 100]
    assert pages[2]["pagination"] == {"totalCount": 600, "totalPages": 3, "currentPage": 3, "limit": 250,
                                      "offset": 500}
    assert [e["article"] for page in pages for e in page["elements"]] == [
        p["article"] for p in srv.state.alstyle_products
    ]


def test_it_cuts_a_larger_limit_to_250_silently(srv):
    body = alstyle(srv, "elements-pagination", limit=20000).json()

    assert len(body["elements"]) == 250
    assert body["pagination"]["limit"] == 250


def test_it_serves_the_brand_only_when_asked(srv):
    plain = alstyle(srv, "elements-pagination", limit=5).json()["elements"]
    with_brand = alstyle(srv, "elements-pagination", limit=5, additional_fields="brand,warranty").json()["elements"]

    assert "brand" not in plain[0]
    assert with_brand[0]["brand"] == srv.state.alstyle_products[0]["brand"]
    assert "warranty" in with_brand[0]


def test_it_answers_500_for_an_unknown_additional_field(srv):
    assert alstyle(srv, "elements-pagination", additional_fields="brand,colour").status_code == 500


def test_it_refuses_a_wrong_token(srv):
    response = alstyle(srv, "categories", token="stolen")

    assert response.status_code == 401
    assert response.json() == {"success": False, "message": "Invalid access token"}


def test_it_accepts_a_changed_token(srv):
    srv.state.alstyle_token = "rotated"

    assert alstyle(srv, "categories").status_code == 401
    assert alstyle(srv, "categories", token="rotated").status_code == 200


def test_it_refuses_requests_faster_than_the_interval(srv):
    srv.state.alstyle_interval = 0.3

    first, second = alstyle(srv, "categories"), alstyle(srv, "categories")
    time.sleep(0.3)
    third = alstyle(srv, "categories")

    assert [first.status_code, second.status_code, third.status_code] == [200, 403, 200]
    assert second.json() == {"success": False, "message": "Too many requests", "interval": 0.3}


def test_it_records_every_request(srv):
    alstyle(srv, "elements-pagination", limit=250, offset=250)
    alstyle(srv, "categories", token="wrong")

    assert [(r.path, r.params.get("offset")) for r in srv.state.requests] == [
        ("elements-pagination", "250"),
        ("categories", None),
    ]
    assert srv.state.requests[0].time <= srv.state.requests[1].time


def test_it_answers_quantities_and_prices_by_article(srv):
    product = srv.state.alstyle_products[3]

    body = alstyle(srv, "quantity-price", article=f"{product['article']},1").json()

    assert body == {str(product["article"]): {k: product[k] for k in ("quantity", "price1", "price2") if k in product}}
    assert len(alstyle(srv, "quantity-price").json()) == len({p["article"] for p in srv.state.alstyle_products})


def test_it_answers_categories_as_a_nested_set_with_their_counts(srv):
    categories = alstyle(srv, "categories").json()

    assert sum(c["elements"] for c in categories if c["level"] == 1) == 600
    assert all(c["left"] < c["right"] for c in categories)


def test_it_knows_only_the_methods_the_product_calls(srv):
    assert alstyle(srv, "brands").status_code == 404


def test_it_has_the_suppliers_quirks_on_a_few_items(srv):
    products = srv.state.alstyle_products
    names = [p["name"] for p in products if p["name"]]
    articles = Counter(p["article"] for p in products)
    quirky = [p for p in products if p["price1"] == 1 or p["name"] is None or "price2" not in p]

    assert {">50", ">100", 0} <= {p["quantity"] for p in products}
    assert any("&" in n for n in names) and any("<" in n for n in names) and any("\x01" in n for n in names)
    assert any(len(n) == 600 for n in names)
    assert any(p["brand"] in (None, "") for p in products)
    assert any(" " in p["article_pn"] and len(p["article_pn"]) > 20 for p in products)
    assert [count for count in articles.values() if count > 1] == [2]
    assert 0 < len(quirky) < len(products) * 0.05


def test_it_can_empty_the_catalogue(srv):
    srv.state.alstyle_empty = True

    body = alstyle(srv, "elements-pagination").json()

    assert body["elements"] == [] and body["pagination"]["totalCount"] == 0


def test_it_fails_from_a_given_page_on(srv):
    srv.state.alstyle_fail_from_page = 2

    statuses = [alstyle(srv, "elements-pagination", limit=250, offset=o).status_code for o in (0, 250, 500)]

    assert statuses == [200, 500, 500]


def test_it_can_go_down(srv):
    srv.state.alstyle_down = True

    assert alstyle(srv, "categories").status_code == 503
    assert kaspi_get(srv, "/cities").status_code == 200


def test_it_injects_the_failures_it_is_asked_for(srv):
    srv.state.fail_rate = 1.0
    srv.state.fault_kinds = ("bad_json",)
    with pytest.raises(ValueError):
        alstyle(srv, "categories").json()

    srv.state.fault_kinds = ("503",)
    assert alstyle(srv, "categories").status_code == 503

    srv.state.fault_kinds, srv.state.slow_seconds = ("slow",), 0.5
    with pytest.raises(requests.Timeout):
        requests.get(f"{srv.alstyle_url}/categories", params={"access-token": ALSTYLE_TOKEN},
                     headers={"User-Agent": USER_AGENT}, timeout=0.2)


def test_it_never_hides_a_refusal_behind_an_injected_failure(srv):
    srv.state.fail_rate = 1.0

    assert alstyle(srv, "categories", token="wrong").status_code == 401
    assert kaspi_get(srv, "/cities", token="wrong").status_code == 401


# --- Kaspi: reading -----------------------------------------------------------------------------


def test_it_lists_orders_of_a_window_in_pages(srv):
    now = int(time.time() * 1000)
    in_window = [o for o in srv.state.kaspi_orders if o["attributes"]["creationDate"] >= now - 14 * DAY_MS]

    first = kaspi_orders(srv, **{"page[size]": 10}).json()

    assert first["meta"] == {"pageCount": -(-len(in_window) // 10), "totalCount": len(in_window)}
    assert len(first["data"]) == min(10, len(in_window))
    order = first["data"][0]
    assert order["type"] == "orders" and order["id"].endswith("=")
    assert {"code", "totalPrice", "creationDate", "deliveryMode", "state", "status", "customer"} <= set(
        order["attributes"]
    )
    assert order["relationships"]["entries"]["links"]["related"].endswith("%3D/entries")


def test_it_filters_orders_by_state_and_includes_customers(srv):
    order = srv.state.add_order()

    body = kaspi_orders(srv, **{"filter[orders][state]": "NEW", "include[orders]": "user"}).json()

    assert {o["attributes"]["state"] for o in body["data"]} == {"NEW"}
    assert order["id"] in [o["id"] for o in body["data"]]
    assert {c["type"] for c in body["included"]} == {"customers"}


def test_it_finds_one_order_by_code_without_dates(srv):
    order = srv.state.kaspi_orders[0]

    body = kaspi_get(srv, "/orders", {"page[number]": 0, "page[size]": 1,
                                       "filter[orders][code]": order["attributes"]["code"]}).json()

    assert [o["id"] for o in body["data"]] == [order["id"]]


def test_it_refuses_a_window_over_14_days(srv):
    now = int(time.time() * 1000)

    response = kaspi_orders(srv, **{"filter[orders][creationDate][$ge]": now - 30 * DAY_MS,
                                    "filter[orders][creationDate][$le]": now})

    assert response.status_code == 400
    assert error_title(response) == (
        "Exceeded the maximum difference for the filter[orders][creationDate] (in days). Actual [30], max [14]."
    )


def test_it_refuses_a_page_over_100(srv):
    response = kaspi_orders(srv, **{"page[size]": 101})

    assert response.status_code == 400


@pytest.mark.parametrize("missing", ["page[number]", "page[size]", "filter[orders][creationDate][$ge]"])
def test_it_requires_paging_and_the_start_date(srv, missing):
    now = int(time.time() * 1000)
    params = {"page[number]": 0, "page[size]": 10, "filter[orders][creationDate][$ge]": now - DAY_MS}
    del params[missing]

    response = kaspi_get(srv, "/orders", params)

    assert response.status_code == 400
    assert missing in error_title(response)


def test_it_lists_the_entries_of_an_url_encoded_order_id(srv):
    order = srv.state.kaspi_orders[-1]

    body = kaspi_get(srv, f"/orders/{quote(order['id'], safe='')}/entries").json()

    entry = body["data"][0]
    assert entry["type"] == "orderentries"
    assert entry["attributes"]["offer"] == order["entries"][0]["attributes"]["offer"]
    assert {"quantity", "basePrice", "category", "deliveryCost", "weight", "unitType"} <= set(entry["attributes"])
    assert entry["relationships"]["product"]["links"]["related"].endswith("/product")


def test_it_sells_mostly_the_suppliers_articles(srv):
    articles = {str(p["article"]) for p in srv.state.alstyle_products}
    codes = [e["attributes"]["offer"]["code"] for o in srv.state.kaspi_orders for e in o["entries"]]

    known = sum(code in articles for code in codes)

    assert 0.8 * len(codes) < known <= len(codes)


def test_it_lists_the_four_cities(srv):
    cities = kaspi_get(srv, "/cities").json()["data"]

    assert {c["attributes"]["code"] for c in cities} == {"750000000", "710000000", "511010000", "351010000"}


def test_it_refuses_a_wrong_kaspi_token(srv):
    response = kaspi_get(srv, "/cities", token="wrong")

    assert response.status_code == 401
    assert response.json() == {"errors": [{"title": "Invalid token"}]}


def test_it_drops_requests_with_a_library_user_agent(srv):
    srv.state.drop_seconds = 0.5

    with pytest.raises(requests.Timeout):
        kaspi_get(srv, "/cities", user_agent="python-requests/2.32", timeout=0.2)
    assert srv.state.kaspi_requests[-1].headers["User-Agent"] == "python-requests/2.32"


def test_it_numbers_lines_from_0_with_ids_that_decode_to_the_number(srv):
    for order in srv.state.kaspi_orders:
        lines = served_entries(srv, order)

        assert len(lines) == len(order["entries"])
        assert [base64.b64decode(line["id"]).decode() for line in lines] == [
            f"{order['id']}##{n}" for n in range(len(lines))
        ]
        numbers = [line["attributes"].get("entryNumber") for line in lines]
        assert numbers in (list(range(len(lines))), [None] * len(lines))


def test_it_has_orders_of_several_lines_and_some_lines_without_number_or_total(srv):
    orders = srv.state.kaspi_orders
    lines = [[line["attributes"] for line in served_entries(srv, order)] for order in orders]

    counts = Counter(len(order_lines) for order_lines in lines)
    assert set(counts) == {1, 2, 3, 4} and counts[1] < 0.7 * len(orders)
    for key in ("entryNumber", "totalPrice"):
        without = [order_lines for order_lines in lines if all(key not in line for line in order_lines)]
        assert 0 < len(without) < len(orders) / 4
        assert all(all(key in line for line in order_lines) for order_lines in lines if order_lines not in without)
    for order, order_lines in zip(orders, lines):
        assert order["attributes"]["totalPrice"] == sum(line["basePrice"] * line["quantity"] for line in order_lines)
        assert all(line["unitType"] == "PIECE" and isinstance(line["weight"], float) for line in order_lines)


def test_it_serves_every_documented_order_attribute(srv):
    plain = srv.state.add_order()
    delivered = srv.state.add_order(kaspi_delivery=True)

    served = {o["id"]: o["attributes"] for o in all_orders(srv)[0]}

    for attributes in served.values():
        assert DOCUMENTED_ATTRIBUTES <= set(attributes)
        assert {"id", "name", "firstName", "lastName", "cellPhone"} <= set(attributes["customer"])
        assert (attributes["paymentMode"] == "PAY_WITH_CREDIT") == attributes["signatureRequired"]
        assert (attributes["creditTerm"] is not None) == attributes["signatureRequired"]
        assert (attributes["cancellationReason"] is not None) == (attributes["status"] == "CANCELLED")
        if attributes["isKaspiDelivery"]:
            assert set(attributes["kaspiDelivery"]) == KASPI_DELIVERY_FIELDS
            assert not {"express", "returnedToWarehouse"} & set(attributes)
            assert attributes["deliveryMode"] != "DELIVERY_PICKUP" and attributes["deliveryCostForSeller"] > 0
        else:
            assert {"express", "returnedToWarehouse"} <= set(attributes) and "kaspiDelivery" not in attributes
            assert attributes["deliveryCostForSeller"] == 0
    new = served[plain["id"]]
    assert (new["isKaspiDelivery"], new["preOrder"], new["express"], new["signatureRequired"]) == (False,) * 4
    assert (new["paymentMode"], new["creditTerm"], new["reservationDate"]) == ("PREPAID", None, None)
    assert served[delivered["id"]]["deliveryMode"] == "DELIVERY_LOCAL"
    assert served[delivered["id"]]["kaspiDelivery"] == {**dict.fromkeys(KASPI_DELIVERY_FIELDS), "express": False,
                                                        "returnedToWarehouse": False}
    with pytest.raises(ValueError):
        srv.state.add_order(kaspi_delivery=True, deliveryMode="DELIVERY_PICKUP")


def test_it_masks_the_phone_of_finished_orders_only(srv):
    orders, customers = all_orders(srv)
    included = {c["id"]: c["attributes"]["cellPhone"] for c in customers}

    for order in orders:
        real = srv.state.find_order(order_id=order["id"])["attributes"]["customer"]["cellPhone"]
        shown = order["attributes"]["customer"]["cellPhone"]
        assert real != MASKED_PHONE
        assert shown == (MASKED_PHONE if order["attributes"]["status"] in FINAL_STATUSES else real)
        assert included[order["relationships"]["user"]["data"]["id"]] == shown
    assert {o["attributes"]["customer"]["cellPhone"] == MASKED_PHONE for o in orders} == {True, False}


def test_it_masks_the_phone_once_an_order_is_finished(srv):
    order = srv.state.add_order(status="ACCEPTED_BY_MERCHANT", state="DELIVERY")
    phone = order["attributes"]["customer"]["cellPhone"]

    before = served_order(srv, order)["attributes"]["customer"]["cellPhone"]
    complete(srv, order)

    assert before == phone
    assert served_order(srv, order)["attributes"]["customer"]["cellPhone"] == MASKED_PHONE
    assert order["attributes"]["customer"]["cellPhone"] == phone


def test_generated_orders_have_been_through_what_their_status_says():
    with SandboxServer(port=0, products=200, orders=1500, order_days=14, seed=3) as server:
        orders = [o["attributes"] for o in all_orders(server)[0]]
    now = int(time.time() * 1000)

    statuses = Counter(o["status"] for o in orders)
    for status in ("CANCELLING", "KASPI_DELIVERY_RETURN_REQUESTED"):
        assert 0 < statuses[status] < 0.06 * len(orders)
    for order in (o for o in orders if o["status"] == "CANCELLING"):
        kept = "KASPI_DELIVERY" if order["isKaspiDelivery"] else "PICKUP" if order["pickupPointId"] else "DELIVERY"
        assert order["state"] == kept
    assert {(o["state"], o["isKaspiDelivery"]) for o in orders if o["status"] == "KASPI_DELIVERY_RETURN_REQUESTED"} == {
        ("KASPI_DELIVERY", True)}
    accepted = [o for o in orders if o["status"] == "ACCEPTED_BY_MERCHANT"]
    assembled = [o["kaspiDelivery"] for o in accepted if o["isKaspiDelivery"] and o["assembled"]]
    assert assembled and all(d["waybill"] and d["waybillNumber"].isdigit() and d["courierTransmissionPlanningDate"]
                             for d in assembled)
    handed = [d["courierTransmissionDate"] for d in assembled if d["courierTransmissionDate"]]
    assert 0 < len(handed) < len(assembled) and max(handed) <= now
    pre_orders = [o for o in orders if o["preOrder"]]
    assert any(o in accepted for o in pre_orders)
    assert all(o["reservationDate"] and o["status"] in ("APPROVED_BY_BANK", "ACCEPTED_BY_MERCHANT") for o in pre_orders)
    names = Counter("none" if c["name"] is None else "first" if c["name"] == c["firstName"] else "full"
                    for c in (o["customer"] for o in orders))
    assert 0.15 < names["none"] / len(orders) < 0.25 and 0.15 < names["first"] / len(orders) < 0.25


# --- Kaspi: changing statuses -------------------------------------------------------------------


def test_it_accepts_an_approved_order(srv):
    order = srv.state.add_order(deliveryMode="DELIVERY_PICKUP")

    response = set_status(srv, order, "ACCEPTED_BY_MERCHANT")

    assert response.status_code == 200
    assert response.json()["data"]["attributes"]["status"] == "ACCEPTED_BY_MERCHANT"
    assert order["attributes"]["state"] == "PICKUP"
    assert set_status(srv, order, "ACCEPTED_BY_MERCHANT").status_code == 400


def test_it_cancels_with_a_known_reason_only(srv):
    order = srv.state.add_order()

    refused = set_status(srv, order, "CANCELLED", cancellationReason="CHANGED_MY_MIND")
    done = set_status(srv, order, "CANCELLED", cancellationReason="MERCHANT_OUT_OF_STOCK",
                      cancellationComment="Нет на складе")

    assert refused.status_code == 400
    assert done.status_code == 200
    assert (order["attributes"]["status"], order["attributes"]["state"]) == ("CANCELLED", "ARCHIVE")
    assert error_title(set_status(srv, order, "COMPLETED")) == "Order is cancelled, so it can't be completed."


def test_it_completes_with_the_code_the_buyer_received(srv):
    order = srv.state.add_order(status="ACCEPTED_BY_MERCHANT", state="DELIVERY")
    code = order["attributes"]["code"]

    asked = set_status(srv, order, "COMPLETED", sending_code())
    assert asked.status_code == 200 and order["attributes"]["status"] == "ACCEPTED_BY_MERCHANT"

    wrong = set_status(srv, order, "COMPLETED", sending_code("not-it"))
    assert wrong.status_code == 400
    assert error_title(wrong) == "Security code is not valid. And the order cannot be completed without it"

    done = set_status(srv, order, "COMPLETED", sending_code(srv.state.security_codes[code]))
    assert done.status_code == 200
    assert (order["attributes"]["status"], order["attributes"]["state"]) == ("COMPLETED", "ARCHIVE")
    again = set_status(srv, order, "COMPLETED", sending_code(srv.state.security_codes[code]))
    assert error_title(again) == "Order already has been completed, so it can't be completed again."
    assert [p.http_status for p in srv.state.status_posts] == [200, 400, 200, 400]


def test_it_can_apply_a_change_and_still_answer_an_error(srv):
    order = srv.state.add_order()
    srv.state.apply_then_fail_next = 1

    response = set_status(srv, order, "ACCEPTED_BY_MERCHANT")

    assert response.status_code == 502
    assert order["attributes"]["status"] == "ACCEPTED_BY_MERCHANT"
    assert srv.state.apply_then_fail_next == 0


def test_it_wants_the_json_api_content_type(srv):
    order = srv.state.add_order()

    response = set_status(srv, order, "ACCEPTED_BY_MERCHANT", {"Content-Type": "application/json"})

    assert response.status_code == 415
    assert order["attributes"]["status"] == "APPROVED_BY_BANK"


def test_completion_needs_x_send_code_true_in_both_calls(srv):
    order = srv.state.add_order(status="ACCEPTED_BY_MERCHANT", state="DELIVERY")
    code = order["attributes"]["code"]

    no_header = set_status(srv, order, "COMPLETED", {"X-Security-Code": ""})
    assert (no_header.status_code, error_title(no_header)) == (400, "X-Send-Code must be true")
    assert code not in srv.state.security_codes

    assert set_status(srv, order, "COMPLETED", sending_code()).status_code == 200
    sent = srv.state.security_codes[code]
    for headers in ({"X-Security-Code": sent}, {"X-Send-Code": "false", "X-Security-Code": sent}):
        refused = set_status(srv, order, "COMPLETED", headers)
        assert (refused.status_code, error_title(refused)) == (400, "X-Send-Code must be true")
    assert order["attributes"]["status"] == "ACCEPTED_BY_MERCHANT"

    assert set_status(srv, order, "COMPLETED", sending_code(sent)).status_code == 200
    assert order["attributes"]["status"] == "COMPLETED"


def test_kaspi_delivery_orders_are_completed_by_kaspi_only(srv):
    order = srv.state.add_order(kaspi_delivery=True)
    assert set_status(srv, order, "ACCEPTED_BY_MERCHANT").status_code == 200
    assert order["attributes"]["state"] == "KASPI_DELIVERY"

    refused = set_status(srv, order, "COMPLETED", sending_code())

    assert refused.status_code == 400
    assert error_title(refused) == "Kaspi Delivery orders are completed by Kaspi on delivery."
    assert order["attributes"]["code"] not in srv.state.security_codes


def test_it_assembles_accepted_kaspi_delivery_orders_only(srv):
    order = srv.state.add_order(kaspi_delivery=True)
    other = srv.state.add_order(kaspi_delivery=True, status="ACCEPTED_BY_MERCHANT", state="KASPI_DELIVERY")
    plain = srv.state.add_order(status="ACCEPTED_BY_MERCHANT", state="DELIVERY")

    assert set_status(srv, order, "ASSEMBLE", numberOfSpace="1").status_code == 400  # not accepted yet
    assert set_status(srv, plain, "ASSEMBLE", numberOfSpace="1").status_code == 400
    set_status(srv, order, "ACCEPTED_BY_MERCHANT")
    for parcels in (None, 0, "0", 100, "100", -1, "-1", "two", "", 1.5, "2.0", True):
        assert set_status(srv, order, "ASSEMBLE", numberOfSpace=parcels).status_code == 400, parcels
    assert order["attributes"]["assembled"] is False

    done = set_status(srv, order, "ASSEMBLE", numberOfSpace="2")
    by_number = set_status(srv, other, "ASSEMBLE", numberOfSpace=3)

    assert done.status_code == by_number.status_code == 200
    assert done.json()["data"]["attributes"]["status"] == "ACCEPTED_BY_MERCHANT"
    served = served_order(srv, order)["attributes"]
    assert (served["status"], served["state"], served["assembled"]) == ("ACCEPTED_BY_MERCHANT", "KASPI_DELIVERY", True)
    delivery = served["kaspiDelivery"]
    assert delivery["waybill"].startswith(f"{srv.url}/") and delivery["waybill"].endswith(".pdf")
    assert delivery["waybillNumber"].isdigit() and delivery["courierTransmissionDate"] is None
    tomorrow = datetime.now(ALMATY).date() + timedelta(days=1)
    planned = datetime.fromtimestamp(delivery["courierTransmissionPlanningDate"] / 1000, ALMATY)
    assert (planned.date(), planned.hour, planned.minute) == (tomorrow, 10, 0)
    assert other["attributes"]["kaspiDelivery"]["waybill"] != delivery["waybill"]
    again = set_status(srv, order, "ASSEMBLE", numberOfSpace="2")
    assert (again.status_code, error_title(again)) == (400, "Order is already assembled.")


def test_it_serves_the_waybill_as_a_pdf_without_a_token(srv):
    order = srv.state.add_order(kaspi_delivery=True, status="ACCEPTED_BY_MERCHANT", state="KASPI_DELIVERY")
    set_status(srv, order, "ASSEMBLE", numberOfSpace="1")
    delivery = served_order(srv, order)["attributes"]["kaspiDelivery"]

    pdf = requests.get(delivery["waybill"], headers={"User-Agent": USER_AGENT}, timeout=5)
    unknown = requests.get(f"{srv.url}/kaspi/waybills/not-a-waybill.pdf", headers={"User-Agent": USER_AGENT},
                           timeout=5)

    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    body = pdf.content
    assert body.startswith(b"%PDF-1.") and body.rstrip().endswith(b"%%EOF")
    assert delivery["waybillNumber"].encode() in body and b"/Count 1" in body
    xref = int(re.search(rb"startxref\s+(\d+)", body).group(1))
    assert body[xref:].startswith(b"xref")
    offsets = [int(offset) for offset in re.findall(rb"(\d{10}) 00000 n", body)]
    assert [body[offset:].split(b"\n")[0] for offset in offsets] == [b"%d 0 obj" % n for n in range(1, 6)]
    assert unknown.status_code == 404


def test_arrived_is_for_pre_orders_only(srv):
    waiting = srv.state.add_order(pre_order=True)
    accepted = srv.state.add_order(pre_order=True, status="ACCEPTED_BY_MERCHANT", state="PICKUP")
    finished = srv.state.add_order(pre_order=True, status="COMPLETED", state="ARCHIVE")
    plain = srv.state.add_order()
    assert waiting["attributes"]["reservationDate"] > waiting["attributes"]["creationDate"]

    assert set_status(srv, plain, "ARRIVED").status_code == 400
    assert set_status(srv, finished, "ARRIVED").status_code == 400
    for order, status in ((waiting, "APPROVED_BY_BANK"), (accepted, "ACCEPTED_BY_MERCHANT")):
        response = set_status(srv, order, "ARRIVED")
        assert response.status_code == 200
        served = response.json()["data"]["attributes"]
        assert (served["status"], served["preOrder"], served["reservationDate"]) == (status, False, None)
    assert set_status(srv, waiting, "ARRIVED").status_code == 400  # no longer a pre-order


def test_arrived_backward_is_only_for_cancelling_and_returns(srv):
    cancelling = srv.state.add_order(status="CANCELLING", state="DELIVERY")
    returning = srv.state.add_order(kaspi_delivery=True, status="KASPI_DELIVERY_RETURN_REQUESTED",
                                    state="KASPI_DELIVERY")
    for status, state in (("APPROVED_BY_BANK", "NEW"), ("ACCEPTED_BY_MERCHANT", "DELIVERY"),
                          ("COMPLETED", "ARCHIVE"), ("CANCELLED", "ARCHIVE"), ("RETURNED", "ARCHIVE")):
        other = srv.state.add_order(status=status, state=state)
        assert set_status(srv, other, "ARRIVED_BACKWARD").status_code == 400, status

    cancelled = set_status(srv, cancelling, "ARRIVED_BACKWARD").json()["data"]["attributes"]
    returned = set_status(srv, returning, "ARRIVED_BACKWARD").json()["data"]["attributes"]

    assert (cancelled["status"], cancelled["state"], cancelled["returnedToWarehouse"]) == ("CANCELLED", "ARCHIVE", True)
    assert cancelled["cancellationReason"] is not None
    assert (returned["status"], returned["state"]) == ("RETURNED", "ARCHIVE")
    assert returned["kaspiDelivery"]["returnedToWarehouse"] is True and "returnedToWarehouse" not in returned
    assert set_status(srv, cancelling, "ARRIVED_BACKWARD").status_code == 400


def test_it_can_answer_200_with_errors_or_without_applying(srv):
    order = srv.state.add_order()
    srv.state.errors_with_200_next = 1
    srv.state.unapplied_200_next = 1

    with_errors = set_status(srv, order, "ACCEPTED_BY_MERCHANT")
    unapplied = set_status(srv, order, "ACCEPTED_BY_MERCHANT")
    applied = set_status(srv, order, "ACCEPTED_BY_MERCHANT")

    assert with_errors.status_code == 200
    assert with_errors.json() == {"errors": [{"title": "Order status change is temporarily unavailable"}]}
    assert unapplied.status_code == 200 and unapplied.json()["data"]["attributes"]["status"] == "APPROVED_BY_BANK"
    assert applied.json()["data"]["attributes"]["status"] == "ACCEPTED_BY_MERCHANT"
    assert set_status(srv, order, "ACCEPTED_BY_MERCHANT").status_code == 400
    assert [(p.http_status, p.applied) for p in srv.state.status_posts] == [
        (200, False), (200, False), (200, True), (400, False)]
    assert srv.state.errors_with_200_next == srv.state.unapplied_200_next == 0


# --- Kaspi: cancelling part of an order ---------------------------------------------------------


def test_it_cancels_part_of_an_order_and_recomputes_the_totals(srv):
    order = srv.state.add_order(entries=[("20908", 3, 1000), ("20909", 1, 500)])
    first, second = (entry["id"] for entry in order["entries"])

    some = cancel_entry(srv, first, 1)
    line = cancel_entry(srv, second, 0, reason="BUYER_NOT_REACHABLE")
    srv.state.apply_deferred()  # Kaspi applies them afterwards

    assert some.status_code == line.status_code == 200
    operation = some.json()["data"]
    assert operation["type"] == "orderEntryCancelOperation" and operation["id"]
    assert operation["attributes"] == {"status": "INPROGRESS", "remainedQuantity": 1, "reason": "MERCHANT_OUT_OF_STOCK"}
    lines = served_entries(srv, order)
    assert [(e["id"], e["attributes"]["quantity"]) for e in lines] == [(first, 1)]
    assert lines[0]["attributes"].get("totalPrice", 1000) == 1000
    assert served_order(srv, order)["attributes"]["totalPrice"] == 1000
    assert [(p.entry_id, p.remained, p.reason, p.http_status) for p in srv.state.entry_cancel_posts] == [
        (first, 1, "MERCHANT_OUT_OF_STOCK", 200), (second, 0, "BUYER_NOT_REACHABLE", 200)]


def test_it_refuses_a_part_cancellation_kaspi_would_refuse(srv):
    order = srv.state.add_order(entries=[("20908", 3, 1000), ("20909", 1, 500)])
    single = srv.state.add_order(entries=[("20908", 2, 1000)])
    finished = srv.state.add_order(entries=[("20908", 3, 1000), ("20909", 1, 500)], status="COMPLETED",
                                   state="ARCHIVE")
    first, second = (entry["id"] for entry in order["entries"])
    only = single["entries"][0]["id"]

    assert cancel_entry(srv, first, 1, headers={"Content-Type": "application/json"}).status_code == 415
    assert kaspi_post(srv, "/orderEntryCancelOperation", {"data": {"type": "orderEntryCancelOperation",
                                                                   "attributes": {}}}).status_code == 400
    assert cancel_entry(srv, "bm8tc3VjaC1lbnRyeQ==", 1).status_code == 404
    assert cancel_entry(srv, first, 1, reason="CHANGED_MY_MIND").status_code == 400
    assert cancel_entry(srv, first, 1, notes="x" * 1001).status_code == 400
    for remained in (3, 4, -1, "1", 1.5, True, None):
        assert cancel_entry(srv, first, remained).status_code == 400, remained
    assert cancel_entry(srv, finished["entries"][0]["id"], 1).status_code == 400
    whole = cancel_entry(srv, only, 0)
    assert whole.status_code == 400 and "cancel the whole order instead" in error_title(whole)

    assert [e["attributes"]["quantity"] for e in order["entries"]] == [3, 1]
    assert order["attributes"]["totalPrice"] == 3500 and single["entries"][0]["attributes"]["quantity"] == 2
    assert [p.http_status for p in srv.state.entry_cancel_posts] == [404] + [400] * 11
    assert cancel_entry(srv, only, 1, notes="x" * 1000).status_code == 200
    assert cancel_entry(srv, second, 0).status_code == 200
    srv.state.apply_deferred()
    assert cancel_entry(srv, first, 0).status_code == 400  # the order's last units


def test_it_applies_a_part_cancellation_only_after_the_delay(srv):
    srv.state.entry_cancel_delay = 3600  # far off: what is served right after is the old order
    order = srv.state.add_order(entries=[("20908", 2, 1000)])
    soon = srv.state.add_order(entries=[("20908", 2, 1000)])

    answer = cancel_entry(srv, order["entries"][0]["id"], 1)
    before = served_entries(srv, order)[0]["attributes"]["quantity"], served_order(srv, order)["attributes"]
    srv.state.apply_deferred()
    after = served_entries(srv, order)[0]["attributes"]["quantity"], served_order(srv, order)["attributes"]
    srv.state.entry_cancel_delay = 0.01
    cancel_entry(srv, soon["entries"][0]["id"], 1)
    time.sleep(0.05)  # past the delay whatever the machine's load: the next request applies it

    assert answer.json()["data"]["attributes"]["status"] == "INPROGRESS"
    assert (before[0], before[1]["totalPrice"]) == (2, 2000)
    assert (after[0], after[1]["totalPrice"]) == (1, 1000)
    assert served_entries(srv, soon)[0]["attributes"]["quantity"] == 1


def test_a_part_cancellation_meets_the_injected_failures_too(srv):
    order = srv.state.add_order(entries=[("20908", 3, 1000)])
    entry = order["entries"][0]["id"]
    srv.state.fail_rate, srv.state.fault_kinds = 1.0, ("503",)

    assert cancel_entry(srv, entry, 2).status_code == 503
    srv.state.fail_rate = 0.0
    srv.state.apply_then_fail_next = 1
    lost = cancel_entry(srv, entry, 1)
    srv.state.apply_deferred()

    assert lost.status_code == 502
    assert order["entries"][0]["attributes"]["quantity"] == 1
    assert [p.remained for p in srv.state.entry_cancel_posts] == [1]


def test_it_places_new_orders_while_running_when_asked():
    import time

    from sandbox.server import SandboxServer

    with SandboxServer(port=0, products=50, orders=3, order_every=0.05) as server:
        deadline = time.monotonic() + 5
        while len(server.state.kaspi_orders) < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(server.state.kaspi_orders) >= 6


def test_buyers_undo_orders_and_couriers_collect_parcels_while_running():
    def due(orders, now):
        return [o for o in orders if o["status"] == "ACCEPTED_BY_MERCHANT" and o.get("assembled")
                and o["kaspiDelivery"]["courierTransmissionPlanningDate"] <= now
                and not o["kaspiDelivery"]["courierTransmissionDate"]]

    with SandboxServer(port=0, products=100, orders=300, order_days=10, seed=5) as server:
        orders = [o["attributes"] for o in server.state.kaspi_orders]
        assert due(orders, int(time.time() * 1000))
        before = Counter(o["status"] for o in orders)
    with SandboxServer(port=0, products=100, orders=300, order_days=10, seed=5, order_every=0.01) as server:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            time.sleep(0.05)
            with server.state.lock:
                orders = [o["attributes"] for o in server.state.kaspi_orders]
                after = Counter(o["status"] for o in orders)
                if (after["CANCELLING"] > before["CANCELLING"] and not due(orders, int(time.time() * 1000))
                        and after["KASPI_DELIVERY_RETURN_REQUESTED"] > before["KASPI_DELIVERY_RETURN_REQUESTED"]):
                    break
        assert after["CANCELLING"] > before["CANCELLING"]
        assert after["KASPI_DELIVERY_RETURN_REQUESTED"] > before["KASPI_DELIVERY_RETURN_REQUESTED"]
        assert not due(orders, int(time.time() * 1000))


def test_kaspi_completes_a_kaspi_delivery_order_a_day_after_the_courier_took_it():
    from sandbox import data

    now = int(time.time() * 1000)
    taken = {"status": "ACCEPTED_BY_MERCHANT", "state": "KASPI_DELIVERY",
             "kaspiDelivery": {"courierTransmissionPlanningDate": now - 2 * DAY_MS,
                               "courierTransmissionDate": now - 2 * DAY_MS + 3_600_000}}
    on_its_way = {"status": "ACCEPTED_BY_MERCHANT", "state": "KASPI_DELIVERY",
                  "kaspiDelivery": {"courierTransmissionPlanningDate": now - 3_600_000,
                                    "courierTransmissionDate": now - 1_800_000}}
    data.hand_over_due([{"attributes": taken}, {"attributes": on_its_way}], now)
    assert (taken["status"], taken["state"]) == ("COMPLETED", "ARCHIVE")
    assert on_its_way["status"] == "ACCEPTED_BY_MERCHANT"
