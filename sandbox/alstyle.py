"""The fake Al-Style API, served under /alstyle/api/, with the real one's limits and quirks.

Checks run in the real service's order as far as it is known: down (503), token (401), rate
limit (403), then random failures and the endpoint itself. Injected failures never hide a 401/403.
"""

import math
import time

from .state import AlstyleRequest
from .wire import gateway_error, json_response, run_with_faults

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
    "rrp": lambda p: p.get("price2", 0),
    "warehouse": lambda p: "Алматы",
    "warehouses": lambda p: [{"name": "Алматы", "quantity": p.get("quantity", 0)}],
    "expectedArrivalDate": lambda p: None,
}


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


def handle(state, request):
    endpoint = request.path.strip("/")
    state.requests.append(AlstyleRequest(time.monotonic(), endpoint, dict(request.params)))
    if state.alstyle_down:
        return gateway_error(503)
    token = request.params.get("access-token")
    if token != state.alstyle_token:
        return _message(401, "Invalid access token")
    if not _take_turn(state, token):
        body = {"success": False, "message": "Too many requests", "interval": _seconds(state.alstyle_interval)}
        return json_response(body, 403)
    view = VIEWS.get(endpoint)
    if view is None:
        return _message(404, f"Unknown method {endpoint}")
    if endpoint in state.alstyle_broken:
        return _message(500, "Internal server error")
    return run_with_faults(state, lambda: _answer(view, state, request.params))


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
        return json_response(view(state, params))
    except _Refused as refused:
        return refused.response()


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


VIEWS = {
    "elements-pagination": _elements_pagination,
    "quantity-price": _quantity_price,
    "categories": _categories,
}


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
