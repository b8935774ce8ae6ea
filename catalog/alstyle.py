"""Client for the Al-Style supplier API: the only code that talks to it.

The catalogue lives under `…/api/`, the cart and order submission beside it under `…/cart-api/`;
both share the token and its one-request-per-interval limit, so every call takes its turn from
the same limiter. Calls that change something (the cart, a submit, a cancel) are sent once: a
repeat after a lost answer could add twice or order twice, so the error says the outcome is
unknown and the caller reads the cart or the orders back.
"""

import json
import logging
import math
import time
from datetime import date
from functools import partial

import requests
from django.conf import settings

from common.http import ApiError, Cause, call, describe_status, json_body
from common.money import AmountOutOfRange, parse_money
from common.ratelimit import wait_turn

log = logging.getLogger(__name__)

PAGE_SIZE = 250  # the API cuts any larger limit to 250 without saying so
ORDER_TYPES = ("index", "current", "archive", "canceled")  # заявки, текущие, архив, отменённые
OUTCOME_UNKNOWN = "the outcome is unknown: read the cart or the orders back before sending it again"


class AlstyleError(ApiError):
    """Any failure talking to Al-Style; the message names the cause and never the token.

    `maybe_applied` is True when a call that changes something may have been carried out even so
    (no answer, a cut answer, a 5xx): the caller must look before it tries again."""

    maybe_applied = False


def cart_url_for(api_url):
    """The cart API beside the catalogue API (`…/api` → `…/cart-api`), or None when `api_url` does not end in /api."""
    base, _slash, last = api_url.rstrip("/").rpartition("/")
    return f"{base}/cart-api" if last == "api" and "://" in base else None


def _describe(response):
    """Al-Style refuses callers that go too fast with a 403 (usually naming the interval): wait and retry."""
    exc = describe_status(response)
    if response.status_code == 403:  # integrators see 403 for "too fast", with or without an interval
        interval = _rate_limit_interval(response)
        wait = interval if interval is not None else max(settings.ALSTYLE_MIN_INTERVAL, 1.0)
        exc = ApiError(f"rate limited (HTTP 403), waiting {wait:g} s", temporary=True, status=403,
                       cause=Cause.RATE_LIMIT, retry_after=wait)
    if response.status_code == 401:
        exc = ApiError("HTTP 401: the token was refused (check ALSTYLE_TOKEN)", temporary=False, status=401,
                       cause=Cause.TOKEN, api_message=exc.api_message)
    return exc


def _rate_limit_interval(response):
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and "interval" in body:
        try:
            return max(0.0, min(float(body["interval"]), 60.0))
        except (TypeError, ValueError):
            return settings.ALSTYLE_MIN_INTERVAL
    return None


def _parse(response):
    """A 200 can still say "too fast" or "failed" in its body (`success` or, in the cart API, `status`)."""
    body = json_body(response)
    if isinstance(body, dict) and (body.get("success") is False or body.get("status") is False):
        interval = _rate_limit_interval(response)
        message = str(body.get("message") or body.get("error") or "the API answered success=false")[:300]
        raise ApiError(message, temporary=interval is not None, status=response.status_code,
                       cause=Cause.RATE_LIMIT if interval is not None else Cause.STATUS, retry_after=interval,
                       api_message=message)
    return body


class AlstyleClient:
    def __init__(self, *, base_url=None, cart_url=None, token=None, min_interval=None, session=None, retries=None):
        self.base_url = (base_url or settings.ALSTYLE_API_URL).rstrip("/")
        # An explicit base_url (a test, the sandbox) brings its own cart beside it.
        cart_url = cart_url or (None if base_url else settings.ALSTYLE_CART_URL) or cart_url_for(self.base_url)
        self.cart_url = cart_url.rstrip("/") if cart_url else None
        self.token = settings.ALSTYLE_TOKEN if token is None else token
        self.min_interval = settings.ALSTYLE_MIN_INTERVAL if min_interval is None else min_interval
        self.session = session or requests.Session()  # keep-alive across the many calls of one run
        self.retries = retries  # None: HTTP_RETRIES
        self.requests = 0

    def get(self, endpoint, **params):
        """A catalogue call (`…/api/<endpoint>`): it changes nothing, so temporary failures are retried."""
        return self._send("GET", f"{self.base_url}/{endpoint}", params)

    def _send(self, method, url, params, *, read=None, data=None, changes=False):
        if not self.token:
            raise AlstyleError("ALSTYLE_TOKEN is not set", temporary=False, cause=Cause.NOT_CONFIGURED)
        self.requests += 1
        send = partial(
            call,
            method,
            url,
            params={**params, "access-token": self.token},
            data=data,
            parse=(lambda response: read(_parse(response))) if read else _parse,
            describe=_describe,
            error=AlstyleError,
            secrets=[self.token],
            before_attempt=partial(wait_turn, "alstyle", self.min_interval),  # one limiter for the token
            session=self.session,
        )
        return self._send_once(send) if changes else send(retries=self.retries)

    def _send_once(self, send):
        """Send a change without repeating it, except when Al-Style refused it as too fast (not carried out)."""
        retries = settings.HTTP_RETRIES if self.retries is None else self.retries
        deadline = time.monotonic() + settings.HTTP_TIME_BUDGET
        for attempt in range(retries + 1):
            try:
                return send(retries=0, budget=max(deadline - time.monotonic(), 0.0))
            except AlstyleError as exc:
                if exc.cause != Cause.RATE_LIMIT:
                    raise _with_outcome(exc) from None
                wait = exc.retry_after if exc.retry_after is not None else self.min_interval
                if attempt == retries or time.monotonic() + wait >= deadline:
                    raise
                log.warning("%s; sending it again in %.1f s", exc, wait)
                time.sleep(wait)

    def _cart(self, endpoint, params=None, *, read, method="GET", data=None, changes=True):
        if not self.cart_url:
            raise AlstyleError(
                f"the cart API's address cannot be derived from {self.base_url} (it does not end in /api): "
                "set ALSTYLE_CART_URL", temporary=False, cause=Cause.NOT_CONFIGURED)
        return self._send(method, f"{self.cart_url}/{endpoint}", params or {}, read=read, data=data, changes=changes)

    def iter_pages(self, *, additional_fields="brand,barcode,discountPrice,rrp,warehouses"):
        """Yield `(page_number, total_pages, elements)` until the whole catalogue is read.

        The offset follows what each page actually held, so a server that caps pages lower than
        asked still gets read to the end; a catalogue that ends before its announced total is an
        error, not a short catalogue.
        """
        offset, page, total = 0, 0, None
        while total is None or offset < total:
            body = self.get(
                "elements-pagination", limit=PAGE_SIZE, offset=offset, additional_fields=additional_fields
            )
            elements, announced = _page_contents(body)
            total = announced if total is None else max(total, announced)
            page += 1
            yield page, max(page, math.ceil(total / PAGE_SIZE)), elements
            if not elements and offset < total:
                raise AlstyleError(
                    f"the catalogue ended at {offset} of the {total} products it announced", temporary=True
                )
            offset += len(elements)

    def categories(self):
        body = self.get("categories")
        if not isinstance(body, list):
            raise AlstyleError("categories: expected a list", temporary=True)
        return body

    def quantity_price(self, articles=None):
        params = {"article": ",".join(map(str, articles))} if articles else {}
        body = self.get("quantity-price", **params)
        if not isinstance(body, dict):
            raise AlstyleError("quantity-price: expected an object keyed by article", temporary=True)
        return body

    def warehouses(self):
        """Al-Style's warehouses: `{"almaty": {name, city, full_address, ...}, ...}`."""
        return self._send("GET", f"{self.base_url}/warehouses", {}, read=partial(_expect, dict, "an object"))

    # --- buying: the account, the cart, orders ------------------------------------------------

    def user_data(self):
        """`{"attorneys": [...], "carriers": [...]}`: the powers of attorney and delivery methods a
        submit must choose from, each as Al-Style gives it (with its `Основной` flag)."""
        return self._send("GET", f"{self.base_url}/user-data", {}, read=_user_data)

    def cart_get(self):
        """The token's one cart: `[{article, quantity, price, item_id, label, multiplicity, ...}]`."""
        return self._cart("get", read=_cart_items, changes=False)

    def cart_add(self, lines):
        """Add `[(article, quantity), ...]` to the cart in one call; the answer's `data`."""
        lines = [(int(article), int(quantity)) for article, quantity in lines]
        if not lines or any(quantity <= 0 for _article, quantity in lines):
            raise ValueError("cart_add needs at least one line, each with a positive quantity")
        params = {"add": ",".join(str(a) for a, _q in lines), "quantity": ",".join(str(q) for _a, q in lines)}
        return self._cart("add", params, read=_data)

    def cart_remove(self, article):
        self._cart("remove", {"item": int(article)}, read=_accepted)

    def cart_clear(self):
        """Empty the cart. It is shared by the whole token: only for a cart this code filled itself."""
        self._cart("clear", read=_accepted)

    def cart_submit(self, *, shipping_date, attorney, delivery, external_id, comments=""):
        """Order what is in the cart; the new order's id. `attorney` and `delivery` are entries of `user_data()`."""
        if not isinstance(shipping_date, date):
            raise TypeError("shipping_date must be a date")
        data = {
            "shipping_date": shipping_date.strftime("%d.%m.%Y"),
            "attorney_json": json.dumps(attorney, ensure_ascii=False),
            "delivery_json": json.dumps(delivery, ensure_ascii=False),
            "external_id": str(external_id),
            "comments": comments,
        }
        return self._cart("submit", method="POST", data=data, read=_submitted_id)

    def order_cancel(self, order_id):
        """Cancel an order Al-Style has not shipped yet."""
        self._cart("cancel", {"order": int(order_id)}, read=_accepted)

    def orders(self, *, type="index", page=1):
        """One page of orders of a `type` (ORDER_TYPES): `(elements, pagination)`, the newest first.
        The elements carry id, date, date_status, sum, status and merge_with, not our external_id."""
        if type not in ORDER_TYPES:
            raise ValueError(f"unknown order type {type!r}, expected one of {', '.join(ORDER_TYPES)}")
        return self._send("GET", f"{self.base_url}/orders", {"type": type, "page": int(page)}, read=_orders_page)

    def order(self, order_id):
        """One order's `data`, with its `cart` of `{article, price, quantity}`."""
        return self._send("GET", f"{self.base_url}/order", {"id": int(order_id)}, read=_order)


def _page_contents(body):
    if not isinstance(body, dict) or not isinstance(body.get("elements"), list):
        raise AlstyleError("elements-pagination: the answer has no `elements` list", temporary=True)
    pagination = body.get("pagination")
    try:
        total = int(pagination["totalCount"])
    except (TypeError, KeyError, ValueError):
        raise AlstyleError("elements-pagination: the answer has no usable `pagination.totalCount`",
                           temporary=True) from None
    return body["elements"], max(total, 0)


# --- reading the answers of the buying calls: each raises AlstyleError (MALFORMED) on a shape it does not know


def _malformed(message):
    return AlstyleError(message, temporary=True, cause=Cause.MALFORMED)


def _with_outcome(exc):
    """A failed change: say whether it may have been carried out all the same."""
    exc.maybe_applied = exc.temporary and exc.cause != Cause.BUDGET  # BUDGET: it was never sent
    if exc.maybe_applied:
        exc.args = (f"{exc.args[0]} ({OUTCOME_UNKNOWN})",)
    return exc


def _expect(kind, name, value):
    if not isinstance(value, kind):
        raise _malformed(f"expected {name}, got {type(value).__name__}")
    return value


def _accepted(body):
    """An answer that only says yes (`{"status": true}`); a refusal was raised by `_parse` already."""
    _expect(dict, "an object", body)


def _data(body):
    _expect(dict, "an object", body)
    if "data" not in body:
        raise _malformed("the answer has no `data`")
    return body["data"]


def _user_data(body):
    data = _expect(dict, "an object in `data`", _data(body))
    lists = {"attorneys": data.get("Доверенности"), "carriers": data.get("Транспортники")}
    for name, entries in lists.items():
        if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
            raise _malformed(f"user-data: no list of {name} (Доверенности, Транспортники)")
    return lists


def _cart_items(body):
    data = _data(body)
    if data == [] or data == {}:  # an empty cart comes as either
        return []
    items = _expect(dict, "the cart as an object keyed by item", data)
    return [_cart_item(item_id, item) for item_id, item in items.items()]


def _cart_item(item_id, item):
    try:
        article, quantity = int(item["article"]), int(item["quantity"])
        price = parse_money(item.get("price"))
    except (TypeError, KeyError, ValueError, AmountOutOfRange):
        raise _malformed(f"cart item {item_id}: no usable article, quantity or price") from None
    return {**item, "item_id": str(item_id), "article": article, "quantity": quantity, "price": price}


def _submitted_id(body):
    data = _data(body)
    try:
        if data["status"] != "ok":
            raise ValueError
        return int(data["id"])
    except (TypeError, KeyError, ValueError):
        raise _malformed(f"submit: no order id in the answer ({str(data)[:200]})") from None


def _orders_page(body):
    """One broken element is left out, not the page; a missing `pagination` says nothing of the pages."""
    _expect(dict, "an object", body)
    elements, pagination = body.get("elements"), body.get("pagination")
    if not isinstance(elements, list):
        raise _malformed("orders: the answer has no `elements` list")
    return [e for e in elements if isinstance(e, dict)], pagination if isinstance(pagination, dict) else {}


def _order(body):
    order = _expect(dict, "an object in `data`", _data(body))
    if not isinstance(order.get("cart"), list):
        raise _malformed("order: the answer has no `cart` list")
    return order
