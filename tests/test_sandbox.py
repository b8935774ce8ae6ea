"""The built-in sandbox of the Al-Style and Kaspi APIs, spoken to over real HTTP (no database)."""

import json
import time
from collections import Counter
from urllib.parse import quote

import pytest
import requests

from kaspiconnect.sandbox.server import SandboxServer

ALSTYLE_TOKEN = "sandbox-alstyle-token"
KASPI_TOKEN = "sandbox-kaspi-token"
USER_AGENT = "kaspiconnect-tests/1.0"
DAY_MS = 86_400_000


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


def set_status(srv, order, status, headers=None, **attributes):
    body = {"data": {"type": "orders", "id": order["id"],
                     "attributes": {"code": order["attributes"]["code"], "status": status, **attributes}}}
    headers = {"X-Auth-Token": KASPI_TOKEN, "User-Agent": USER_AGENT,
               "Content-Type": "application/vnd.api+json", **(headers or {})}
    return requests.post(f"{srv.kaspi_url}/orders", data=json.dumps(body), headers=headers, timeout=5)


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
    assert len(alstyle(srv, "elements", limit=20000).json()) == 250


def test_it_serves_the_brand_only_when_asked(srv):
    plain = alstyle(srv, "elements", limit=5).json()
    with_brand = alstyle(srv, "elements", limit=5, additional_fields="brand,warranty").json()

    assert "brand" not in plain[0]
    assert with_brand[0]["brand"] == srv.state.alstyle_products[0]["brand"]
    assert "warranty" in with_brand[0]


def test_it_answers_500_for_an_unknown_additional_field(srv):
    assert alstyle(srv, "elements-pagination", additional_fields="brand,colour").status_code == 500


def test_it_refuses_a_wrong_token(srv):
    response = alstyle(srv, "elements", token="stolen")

    assert response.status_code == 401
    assert response.json() == {"success": False, "message": "Invalid access token"}


def test_it_accepts_a_changed_token(srv):
    srv.state.alstyle_token = "rotated"

    assert alstyle(srv, "elements").status_code == 401
    assert alstyle(srv, "elements", token="rotated").status_code == 200


def test_it_refuses_requests_faster_than_the_interval(srv):
    srv.state.alstyle_interval = 0.3

    first, second = alstyle(srv, "brands"), alstyle(srv, "brands")
    time.sleep(0.3)
    third = alstyle(srv, "brands")

    assert [first.status_code, second.status_code, third.status_code] == [200, 403, 200]
    assert second.json() == {"success": False, "message": "Too many requests", "interval": 0.3}


def test_it_records_every_request(srv):
    alstyle(srv, "elements-pagination", limit=250, offset=250)
    alstyle(srv, "elements", token="wrong")

    assert [(r.path, r.params.get("offset")) for r in srv.state.requests] == [
        ("elements-pagination", "250"),
        ("elements", None),
    ]
    assert srv.state.requests[0].time <= srv.state.requests[1].time


def test_it_answers_quantities_and_prices_by_article(srv):
    product = srv.state.alstyle_products[3]

    body = alstyle(srv, "quantity-price", article=f"{product['article']},1").json()

    assert body == {str(product["article"]): {k: product[k] for k in ("quantity", "price1", "price2") if k in product}}
    assert len(alstyle(srv, "quantity-price").json()) == len({p["article"] for p in srv.state.alstyle_products})


def test_it_answers_element_info_categories_and_brands(srv):
    product = srv.state.alstyle_products[0]

    info = alstyle(srv, "element-info", article=str(product["article"])).json()
    categories = alstyle(srv, "categories").json()
    brands = alstyle(srv, "brands").json()

    assert info[0]["name"] == product["name"]
    assert sum(c["elements"] for c in categories if c["level"] == 1) == 600
    assert all(c["left"] < c["right"] for c in categories)
    assert brands["status"] is True and {"id", "name", "count"} <= set(brands["data"][0])


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

    assert alstyle(srv, "elements").status_code == 503
    assert kaspi_get(srv, "/cities").status_code == 200


def test_it_injects_the_failures_it_is_asked_for(srv):
    srv.state.fail_rate = 1.0
    srv.state.fault_kinds = ("bad_json",)
    with pytest.raises(ValueError):
        alstyle(srv, "brands").json()

    srv.state.fault_kinds = ("503",)
    assert alstyle(srv, "brands").status_code == 503

    srv.state.fault_kinds, srv.state.slow_seconds = ("slow",), 0.5
    with pytest.raises(requests.Timeout):
        requests.get(f"{srv.alstyle_url}/brands", params={"access-token": ALSTYLE_TOKEN},
                     headers={"User-Agent": USER_AGENT}, timeout=0.2)


def test_it_never_hides_a_refusal_behind_an_injected_failure(srv):
    srv.state.fail_rate = 1.0

    assert alstyle(srv, "brands", token="wrong").status_code == 401
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
    assert {"quantity", "basePrice", "totalPrice", "entryNumber", "category"} <= set(entry["attributes"])


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

    asked = set_status(srv, order, "COMPLETED", {"X-Send-Code": "true", "X-Security-Code": ""})
    assert asked.status_code == 200 and order["attributes"]["status"] == "ACCEPTED_BY_MERCHANT"

    wrong = set_status(srv, order, "COMPLETED", {"X-Security-Code": "not-it"})
    assert wrong.status_code == 400
    assert error_title(wrong) == "Security code is not valid. And the order cannot be completed without it"

    done = set_status(srv, order, "COMPLETED", {"X-Security-Code": srv.state.security_codes[code]})
    assert done.status_code == 200
    assert (order["attributes"]["status"], order["attributes"]["state"]) == ("COMPLETED", "ARCHIVE")
    again = set_status(srv, order, "COMPLETED", {"X-Security-Code": srv.state.security_codes[code]})
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


def test_it_places_new_orders_while_running_when_asked():
    import time

    from kaspiconnect.sandbox.server import SandboxServer

    with SandboxServer(port=0, products=50, orders=3, order_every=0.05) as server:
        deadline = time.monotonic() + 5
        while len(server.state.kaspi_orders) < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(server.state.kaspi_orders) >= 6
