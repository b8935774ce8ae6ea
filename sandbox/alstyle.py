"""The fake Al-Style API, served under /alstyle/api/, with the real one's limits and quirks.

The cart and order submission are served under /alstyle/cart-api/ beside it, with the same token,
the same one-request-per-interval limit (one turn for both) and the same faults. The cart is one
per token and shared; an order's status follows from its age on Al-Style's clock (see
`SandboxState.alstyle_advance_orders`).

Checks run in the real service's order as far as it is known: down (503), token (401), rate
limit (403), then random failures and the endpoint itself. Injected failures never hide a 401/403.
"""

import hashlib
import json
import math
import time
from datetime import datetime, timedelta
from urllib.parse import parse_qs

from .data import ALMATY
from .state import AlstyleRequest
from .wire import Response, gateway_error, json_response, run_with_faults

MAX_LIMIT = 250  # a larger limit is cut to this without a word, as the real API does
DEFAULT_LIMIT = 100
MAX_ARTICLES = 1000
BASE_FIELDS = ("article", "article_pn", "name", "full_name", "category", "price1", "price2", "quantity", "isnew")
# A client timing its requests to the interval must not be refused for clock jitter between us.
CLOCK_SLACK = 0.005

# additional_fields a client may ask for; a product dict may hold its own value for any of them.
EXTRA_FIELDS = {
    "brand": lambda p: None,
    "description": lambda p: f"{p.get('full_name') or ''}. Официальная гарантия производителя.",
    "weight": lambda p: round(0.2 + p["article"] % 50 / 10, 2),
    "warranty": lambda p: "12 мес.",
    "images": lambda p: [f"https://al-style.kz/upload/catalog/{p['article']}_1.jpg"],
    "url": lambda p: f"https://al-style.kz/catalog/{p['article']}/",
    "barcode": lambda p: f"460{int(_number(p.get('article'))):010d}",
    "discountPrice": lambda p: _partner_price(p),
    # The brand controls the retail price of one item in seven: never sold below price2.
    "rrp": lambda p: 1 if int(_number(p.get("article"))) % 7 == 0 else 0,
    "warehouse": lambda p: "almaty",
    "warehouses": lambda p: _warehouse_stock(p),
    "expectedArrivalDate": lambda p: None,
}


# Al-Style's own terms, in every record: sold only in multiples (cables by 5), marked-down units apart.
TERMS = {
    "multiplicity": lambda p: 5 if int(_number(p.get("article"))) % 11 == 0 else None,
    "quantityMarkdown": lambda p: 2 if int(_number(p.get("article"))) % 13 == 0 else 0,
    "priceMarkdown": lambda p: int(_number(p.get("price1")) * 0.7) if int(_number(p.get("article"))) % 13 == 0 else 0,
}


def _warehouse_stock(product):
    """Stock per warehouse: two thirds in Almaty, the rest in Astana (">50" counts as 50)."""
    text = str(product.get("quantity") or "").lstrip(">").strip()
    units = int(_number(text))
    return {"almaty": units - units // 3, "astana": units // 3}


def _partner_price(product):
    """Al-Style's office grants partner prices item by item: here one item in nine has one; 0 for none."""
    article, price1 = _number(product.get("article")), _number(product.get("price1"))
    return int(price1 * 0.96) if article % 9 == 0 and 1 < price1 < 10**9 else 0


def _number(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0
    return number if math.isfinite(number) else 0


class _Refused(Exception):
    """The endpoint answers something other than 200."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status

    def response(self):
        if self.status == 500:
            # The API is a Yii application: a crash comes back as Yii's error object.
            body = {"name": "Internal Server Error", "message": "An internal server error occurred.",
                    "code": 0, "status": 500}
            return json_response(body, 500)
        return _message(self.status, str(self))


class _Declined(_Refused):
    """The cart API's way of saying no: HTTP 200 with `{"status": false, "message": ...}`."""

    def __init__(self, message):
        super().__init__(200, message)

    def response(self):
        return json_response({"status": False, "message": str(self)})


def handle(state, request):
    """The catalogue and account calls, under /alstyle/api/."""
    return _handle(state, request, VIEWS, "")


def handle_cart(state, request):
    """The cart and order calls, under /alstyle/cart-api/ (recorded as "cart-api/<method>")."""
    return _handle(state, request, CART_VIEWS, "cart-api/")


def _handle(state, request, views, prefix):
    endpoint = prefix + request.path.strip("/")
    params = {**request.params, **_form(request)}
    state.requests.append(AlstyleRequest(time.monotonic(), endpoint, params))
    if state.alstyle_down:
        return gateway_error(503)
    token = request.params.get("access-token")
    if token != state.alstyle_token:
        return _message(401, "Invalid access token")
    if not _take_turn(state, token):
        body = {"success": False, "message": "Too many requests", "interval": _seconds(state.alstyle_interval)}
        return json_response(body, 403)
    view = views.get(endpoint)
    if view is None:
        return _message(404, f"Unknown method {endpoint}")
    if endpoint in POST_ONLY and request.method != "POST":
        return _message(405, "Method Not Allowed. This URL can only handle the following request methods: POST.")
    if endpoint in state.alstyle_broken:
        return _message(500, "Internal server error")
    return run_with_faults(state, lambda: _answer(view, state, params))


def _form(request):
    """A POST's form fields (the query string holds the token)."""
    if request.method != "POST" or not request.body:
        return {}
    fields = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[-1] for name, values in fields.items()}


def _take_turn(state, token):
    """One request per `alstyle_interval` per token, counted from the last request let through."""
    now = time.monotonic()
    last = state.alstyle_last_served.get(token)
    if last is not None and now - last < state.alstyle_interval - CLOCK_SLACK:
        return False
    state.alstyle_last_served[token] = now
    return True


def _answer(view, state, params):
    try:
        answer = view(state, params)
    except _Refused as refused:
        return refused.response()
    return answer if isinstance(answer, Response) else json_response(answer)


# --- endpoints ----------------------------------------------------------------------------------


def _elements_pagination(state, params):
    elements, total, limit, offset = _page(state, params)
    pagination = {
        "totalCount": total,
        "totalPages": math.ceil(total / limit),
        "currentPage": offset // limit + 1,
        "limit": limit,
        "offset": offset,
    }
    return {"elements": elements, "pagination": pagination}


def _quantity_price(state, params):
    articles = set(_int_list(params, "article"))
    if len(articles) > MAX_ARTICLES:
        raise _Refused(400, f"No more than {MAX_ARTICLES} articles per request")
    return {
        str(p["article"]): {key: p[key] for key in ("quantity", "price1", "price2") if key in p}
        for p in _catalogue(state)
        if not articles or p["article"] in articles
    }


def _categories(state, params):
    categories = state.alstyle_categories
    lefts = _category_lefts(state.alstyle_categories, _catalogue(state))
    return [{**c, "elements": sum(c["left"] <= left <= c["right"] for left in lefts)} for c in categories]


# --- buying: the account, the shared cart, orders -----------------------------------------------

# Minutes after it was placed, on Al-Style's clock, at which an order moves on: paid and picked
# (SV), handed to the carrier (OK), shipped and paid (F). One Al-Style cancels goes N → DA instead.
STEPS = (("N", 0), ("SV", 30), ("OK", 120), ("F", 24 * 60))
CANCELLED_STEPS = (("N", 0), ("DA", 30))
CANCELLABLE = ("N", "R", "SV")  # nothing has left the warehouse yet
# Which statuses each `type` of api/orders lists. Al-Style does not document the split; the
# sandbox takes the narrow reading (index: only the requests still awaiting payment), so a client
# that looks for a fresh order in one list only is caught out here rather than in production.
ORDER_TYPES = {"index": ("N", "R"), "current": ("SV", "OS", "OK", "P"), "archive": ("F", "Un"), "canceled": ("DA",)}
ORDERS_PAGE = 20
DATE_FORMAT = "%d.%m.%Y %H:%M:%S"  # Almaty time


def _user_data(state, params):
    return {"status": True, "data": state.alstyle_user_data}


def _warehouse_list(state, params):
    return state.alstyle_warehouses


def _orders(state, params):
    """One page of the orders of a type, the newest first; `external_id` is not among the fields."""
    kind = params.get("type") or "index"
    if kind not in ORDER_TYPES:
        raise _Refused(400, "Invalid type")
    page = _int(params, "page", 1, minimum=1)
    now = state.alstyle_now()
    listed = [o for o in reversed(state.alstyle_orders) if _status(o, now)[0] in ORDER_TYPES[kind]]
    pagination = {"totalCount": len(listed), "totalPages": math.ceil(len(listed) / ORDERS_PAGE),
                  "currentPage": page, "limit": ORDERS_PAGE}
    shown = listed[(page - 1) * ORDERS_PAGE:page * ORDERS_PAGE]
    return {"elements": [_order_fields(o, now) for o in shown], "pagination": pagination}


def _order(state, params):
    order = _known_order(state, _required_int(params, "id"))
    fields = {"shipping_date": order["shipping_date"], "comments": order["comments"], "cart": order["cart"]}
    return {"data": {**_order_fields(order, state.alstyle_now()), **fields}}


def _cart_add(state, params):
    """Add every line or none: an unknown article, a quantity that is not a multiple of the item's
    multiplicity, an item with no price or not enough stock refuses the whole call."""
    articles, quantities = _int_list(params, "add"), _int_list(params, "quantity")
    if not articles or len(articles) != len(quantities):
        raise _Refused(400, "add and quantity must list the same number of values")
    in_cart = {line["article"]: line["quantity"] for line in state.alstyle_cart.values()}
    for article, quantity in zip(articles, quantities):
        _check_line(_product(state, article), article, quantity + in_cart.get(article, 0), quantity)
        in_cart[article] = in_cart.get(article, 0) + quantity
    items = [state.alstyle_put_in_cart(article, quantity) for article, quantity in zip(articles, quantities)]
    return {"success": True, "data": [{"hash": hashlib.md5(item.encode()).hexdigest()} for item in items]}


def _check_line(product, article, total, quantity):
    if product is None:
        raise _Declined(f"Unknown article {article}")
    if quantity <= 0:
        raise _Declined(f"Invalid quantity for article {article}")
    multiplicity = _serve(product, ()).get("multiplicity")
    if multiplicity and quantity % multiplicity:
        raise _Declined(f"Article {article} is sold in multiples of {multiplicity}")
    if _cost(product) is None:
        raise _Declined(f"Article {article} has no price: ask your manager")
    if total > _units(product.get("quantity")):
        raise _Declined(f"Not enough stock of article {article}")


def _cart_remove(state, params):
    article = _required_int(params, "item")
    for item_id, line in list(state.alstyle_cart.items()):
        if line["article"] == article:
            del state.alstyle_cart[item_id]
            return {"success": True, "data": True}
    raise _Declined(f"Article {article} is not in the cart")


def _cart_get(state, params):
    cart = {item_id: _cart_line(_product(state, line["article"]), line) for item_id, line in state.alstyle_cart.items()}
    return {"status": True, "data": cart or []}  # PHP's empty array: [] for an empty cart


def _cart_line(product, line):
    product = product or {}
    price = _cost(product) or 0
    return {"article": line["article"], "label": product.get("name"), "price": price, "price2": product.get("price2"),
            "balance": product.get("quantity"), "quantity": line["quantity"],
            "multiplicity": _serve(product, ()).get("multiplicity") if product else None,
            "total": price * line["quantity"]}


def _cart_clear(state, params):
    state.alstyle_cart.clear()
    return {"status": True, "data": True}


def _cart_submit(state, params):
    """Order the whole cart and empty it; with `alstyle_submit_answers_late` the answer comes too late."""
    if not state.alstyle_cart:
        raise _Declined("The cart is empty")
    shipping_date = _shipping_date(state, params.get("shipping_date", ""))
    attorney = _entry(params, "attorney_json", state.alstyle_user_data["Доверенности"])
    delivery = _entry(params, "delivery_json", state.alstyle_user_data["Транспортники"])
    cart = []
    for line in state.alstyle_cart.values():
        product = _product(state, line["article"]) or {}
        cart.append({"article": line["article"], "name": product.get("name"), "price": _cost(product) or 0,
                     "quantity": line["quantity"]})
    order = state.alstyle_new_order(cart=cart, external_id=params.get("external_id", ""),
                                    comments=params.get("comments", ""), shipping_date=shipping_date,
                                    attorney=attorney, delivery=delivery)
    state.alstyle_cart.clear()
    answer = json_response({"status": True, "data": {"status": "ok", "id": order["id"]}})
    late, state.alstyle_submit_answers_late = state.alstyle_submit_answers_late, False
    if late:
        answer.drop = late == "drop"
        answer.delay = state.drop_seconds if answer.drop else state.slow_seconds
    return answer


def _shipping_date(state, value):
    try:
        day = datetime.strptime(value, "%d.%m.%Y").date()
    except ValueError:
        raise _Declined("shipping_date is required as DD.MM.YYYY") from None
    if day < state.alstyle_now().astimezone(ALMATY).date():
        raise _Declined("shipping_date is in the past")
    return value


def _entry(params, name, choices):
    """The JSON text of one entry of api/user-data, exactly as it was served."""
    try:
        entry = json.loads(params.get(name) or "null")
    except ValueError:
        entry = None
    if entry not in choices:
        raise _Declined(f"{name} must be one of the entries of user-data")
    return entry


def _cart_cancel(state, params):
    order = _known_order(state, _required_int(params, "order"))
    status, _since = _status(order, state.alstyle_now())
    if status not in CANCELLABLE:
        raise _Declined(f"Order {order['id']} can no longer be cancelled (status {status})")
    order["final"] = ("DA", state.alstyle_now())
    return {"status": True}


def _known_order(state, order_id):
    order = state.alstyle_find_order(order_id)
    if order is None:
        raise _Refused(404, f"Order {order_id} not found")
    return order


def _status(order, now):
    """(status, since when) of an order at `now` on Al-Style's clock."""
    if order["final"]:
        return order["final"]
    status, since = "N", order["created"]
    for name, minutes in CANCELLED_STEPS if order["fate"] == "DA" else STEPS:
        at = order["created"] + timedelta(minutes=minutes)
        if at <= now:
            status, since = name, at
    return status, since


def _order_fields(order, now):
    status, since = _status(order, now)
    return {"id": order["id"], "date": _local(order["created"]), "date_status": _local(since),
            "sum": sum(line["price"] * line["quantity"] for line in order["cart"]), "status": status,
            "merge_with": order["merge_with"]}


def _local(moment):
    return moment.astimezone(ALMATY).strftime(DATE_FORMAT)


def _product(state, article):
    """The catalogue's first record of `article` (the catalogue has a repeated one), or None."""
    return next((p for p in _catalogue(state) if isinstance(p, dict) and p.get("article") == article), None)


def _cost(product):
    """What the partner pays: its partner price where it has one, else price1; None for no real price."""
    served = _serve(product, ("discountPrice",))
    price = int(_number(served.get("discountPrice"))) or int(_number(product.get("price1")))
    return price if price > 1 else None


def _units(quantity):
    """Stock as a number: ">50" counts as 50."""
    return int(_number(str(quantity or "").lstrip(">").strip()))


VIEWS = {
    "elements-pagination": _elements_pagination,
    "quantity-price": _quantity_price,
    "categories": _categories,
    "user-data": _user_data,
    "warehouses": _warehouse_list,
    "orders": _orders,
    "order": _order,
}
CART_VIEWS = {
    "cart-api/add": _cart_add,
    "cart-api/remove": _cart_remove,
    "cart-api/get": _cart_get,
    "cart-api/clear": _cart_clear,
    "cart-api/submit": _cart_submit,
    "cart-api/cancel": _cart_cancel,
}
POST_ONLY = {"cart-api/submit"}


# --- helpers ------------------------------------------------------------------------------------


def _catalogue(state):
    return [] if state.alstyle_empty else state.alstyle_products


def _page(state, params):
    """One slice of the filtered catalogue: (elements, total, limit, offset)."""
    fields = _additional_fields(params)
    limit = min(_int(params, "limit", DEFAULT_LIMIT, minimum=1), MAX_LIMIT)
    offset = _int(params, "offset", 0, minimum=0)
    failing_page = state.alstyle_fail_from_page
    if failing_page is not None and offset // limit + 1 >= failing_page:
        raise _Refused(500, "failing from this page on")
    products = _catalogue(state)
    return [_serve(p, fields) for p in products[offset:offset + limit]], len(products), limit, offset


def _serve(product, fields):
    if not isinstance(product, dict):
        return product  # a broken record a test planted: served as it is
    served = {key: product[key] for key in BASE_FIELDS if key in product}
    for name, derive in TERMS.items():
        served[name] = product[name] if name in product else derive(product)
    for name in fields:
        served[name] = product[name] if name in product else EXTRA_FIELDS[name](product)
    return served


def _additional_fields(params):
    names = [name.strip() for name in params.get("additional_fields", "").split(",") if name.strip()]
    if any(name not in EXTRA_FIELDS for name in names):
        raise _Refused(500, "unknown additional field")  # reported of the real API: it crashes
    return names


def _category_lefts(categories, products):
    left_of = {c["id"]: c["left"] for c in categories}
    return [left_of[p.get("category")] for p in products if p.get("category") in left_of]


def _int(params, name, default, *, minimum):
    value = params.get(name, "")
    if value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise _Refused(400, f"Invalid {name}") from None
    if number < minimum:
        raise _Refused(400, f"Invalid {name}")
    return number


def _required_int(params, name):
    if not params.get(name):
        raise _Refused(400, f"{name} is required")
    return _int(params, name, None, minimum=1)


def _int_list(params, name):
    try:
        return [int(item) for item in params.get(name, "").split(",") if item.strip()]
    except ValueError:
        raise _Refused(400, f"Invalid {name}") from None


def _message(status, message):
    return json_response({"success": False, "message": message}, status)


def _seconds(value):
    """5.0 -> 5, as the real API says it."""
    return int(value) if float(value).is_integer() else value
