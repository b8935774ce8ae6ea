"""The sandbox's memory: the data both fake APIs serve and the knobs tests turn.

Tests change `SandboxState` attributes directly between requests (hold `state.lock` if a request
may be running at the same time). Every knob is listed in the class docstring.
"""

import copy
import random
import threading
import time
from collections import Counter
from datetime import timedelta
from typing import NamedTuple

from . import data
from .wire import FAULT_KINDS


class AlstyleRequest(NamedTuple):
    time: float  # time.monotonic() when it arrived
    path: str  # the endpoint below the API root, e.g. "elements-pagination"
    params: dict  # query parameters, the token included


class KaspiRequest(NamedTuple):
    time: float  # time.monotonic() when it arrived
    method: str
    path: str  # below the API root, decoded, e.g. "/orders"
    params: dict
    headers: dict  # User-Agent, Content-Type, X-Auth-Token, X-Send-Code, X-Security-Code when sent
    body: object  # the decoded JSON, or the raw text when it is not JSON, or None


class StatusPost(NamedTuple):
    order_id: str
    code: str  # as the body gave it
    status: str  # the status asked for
    attributes: dict  # the body's attributes, cancellationReason and the like included
    send_code: bool  # the X-Send-Code: true header
    security_code: str  # the X-Security-Code header ("" when empty or absent)
    http_status: int  # what the change itself came to, before any injected failure (200 for the 200 knobs too)
    applied: bool = True  # False when refused, or answered 200 without being applied (the 200 knobs)


class EntryCancelPost(NamedTuple):
    entry_id: str  # the line, as the body's relationships.entry named it
    remained: object  # remainedQuantity as the body gave it
    reason: object
    notes: object
    http_status: int  # what the cancellation itself came to (200: accepted), before any injected failure


class SandboxState:
    """All the sandbox knows. Knobs (attributes) tests may change at any time:

    Both APIs
      fail_rate            share (0..1) of requests answered with a random temporary failure,
                           chosen from `fault_kinds`; never on a 401/403 or dropped request
      fault_kinds          the failures to draw from: "500", "502", "503", "bad_json" (200 with a
                           body that is not JSON), "slow" (the real answer after `slow_seconds`)
      slow_seconds         how late a slow answer comes (default 2.0: past a short client timeout)
      drop_seconds         how long Kaspi holds a dropped request before closing it (default 2.0)

    Al-Style
      alstyle_products     list of product dicts as served; edit, add or remove items freely.
                           `brand` is only served when asked for in additional_fields.
      alstyle_categories   nested-set category list
      alstyle_token        the one token accepted (others: 401)
      alstyle_interval     seconds a token must wait between requests (faster: 403)
      alstyle_last_served  token -> time.monotonic() of its last accepted request
      alstyle_empty        True: the catalogue endpoints answer as if there were no products
      alstyle_fail_from_page  n: listing pages n, n+1, ... (1-based, offset // limit + 1) answer 500
      alstyle_broken       methods (e.g. {"categories"}) that answer 500 while the others work
      alstyle_down         True: every Al-Style request answers 503
      requests             AlstyleRequest(time, path, params) for every Al-Style request received
                           (cart calls as "cart-api/add" and so on; a POST's form fields in params)

    Al-Style: buying (cart-api/..., user-data, orders, order; the same token, limit and faults)
      alstyle_cart         the token's one cart, shared by everyone who uses the token:
                           item id (str) -> {"article", "quantity"}
      alstyle_orders       the partner's orders, oldest first (data.supplier_order): a seeded
                           history, then what cart-api/submit creates, with the external_id it was
                           sent (stored, never served)
      alstyle_user_data    what api/user-data serves (two attorneys, two carriers, one of each Основной)
      alstyle_warehouses   what api/warehouses serves
      alstyle_clock_shift  how far Al-Style's clock runs ahead of the real one (see
                           `alstyle_advance_orders`): statuses follow from an order's age on it
      alstyle_supplier_cancels_next  n: the next n submitted orders are cancelled by Al-Style (DA)
                           where they would have become ready to ship (SV)
      alstyle_submit_answers_late  True: the next submit that succeeds is carried out (the order made,
                           the cart emptied) but answered only after `slow_seconds`: a lost answer;
                           "drop": carried out, then the connection closed after `drop_seconds` unanswered

    Kaspi
      kaspi_orders         list of order dicts {id, customer_id, attributes, entries}; see add_order
      kaspi_token          the one X-Auth-Token accepted (others: 401)
      kaspi_down           True: every Kaspi request answers 503
      kaspi_requests       KaspiRequest for every Kaspi request received, dropped ones included
      status_posts         StatusPost for every POST /orders that reached the status logic
      entry_cancel_posts   EntryCancelPost for every POST /orderEntryCancelOperation with a well-formed body
      security_codes       order code -> the completion code the buyer last "received" by SMS
      codes_sent           order code -> how many SMS codes the buyer got (each voids the one before)
      apply_then_fail_next n: the next n successful POST /orders or /orderEntryCancelOperation are
      apply_then_fail_kind     applied, yet answered with this failure kind instead (default "502";
                               "slow" for a timeout)
      errors_with_200_next n: the next n POST /orders are not applied and answered HTTP 200 with
                           {"errors": [{"title": "Order status change is temporarily unavailable"}]}
      unapplied_200_next   n: the next n POST /orders for a known order are not applied and answered
                           HTTP 200 with the order as it is (its status unchanged)
      entry_cancel_delay   seconds before an accepted part cancellation shows in what Kaspi serves
                           (default 2.0: "afterwards", never in the answer itself; 0: at once); due
                           ones are applied as each Kaspi request arrives, or all by `apply_deferred()`

    `site` is the sandbox's own `http://host:port`, for the waybill links of generated orders.
    """

    def __init__(self, *, products, orders, order_days, interval, alstyle_token, kaspi_token, fail_rate, seed,
                 site):
        if order_days <= 0:
            raise ValueError("order_days must be positive")
        self.lock = threading.RLock()
        self._stopping = threading.Event()
        self._rng = random.Random(f"{seed}-faults")
        self._order_rng = random.Random(f"{seed}-orders")

        self.fail_rate = fail_rate
        self.fault_kinds = FAULT_KINDS
        self.slow_seconds = 2.0
        self.drop_seconds = 2.0

        self.alstyle_categories, self.alstyle_products = data.make_catalogue(random.Random(seed), products)
        self.alstyle_token = alstyle_token
        self.alstyle_interval = interval
        self.alstyle_last_served = {}
        self.alstyle_empty = False
        self.alstyle_fail_from_page = None
        self.alstyle_broken = set()
        self.alstyle_down = False
        self.requests = []
        self.alstyle_cart = {}
        self._last_cart_item = 880_000
        self._supplier_rng = random.Random(f"{seed}-supplier")
        self.alstyle_clock_shift = timedelta(0)
        self.alstyle_orders = data.make_supplier_orders(
            self._supplier_rng, count=40, now=data.now_utc(), products=self.alstyle_products
        )
        self.alstyle_user_data = copy.deepcopy(data.ALSTYLE_USER_DATA)
        self.alstyle_warehouses = copy.deepcopy(data.ALSTYLE_WAREHOUSES)
        self.alstyle_supplier_cancels_next = 0
        self.alstyle_submit_answers_late = False

        self.kaspi_orders = data.make_orders(
            self._order_rng, count=orders, days=order_days, now=data.now_utc(), products=self.alstyle_products,
            site=site,
        )
        self._last_order_number = orders
        self.kaspi_token = kaspi_token
        self.kaspi_down = False
        self.kaspi_requests = []
        self.status_posts = []
        self.entry_cancel_posts = []
        self.security_codes = {}
        self.codes_sent = Counter()
        self.apply_then_fail_next = 0
        self.apply_then_fail_kind = "502"
        self.errors_with_200_next = 0
        self.unapplied_200_next = 0
        self.entry_cancel_delay = 2.0
        self._deferred = []  # (time.monotonic() when due, change): what Kaspi applies "afterwards"

    def add_order(self, *, entries=None, kaspi_delivery=False, pre_order=False, **attributes):
        """Add an order that has just arrived (NEW / APPROVED_BY_BANK, prepaid, created now); return it.

        Predictable by default: no Kaspi Delivery, no pre-order, not express, no signature step.
        `kaspi_delivery=True`: delivered by Kaspi (DELIVERY_LOCAL unless `deliveryMode` names another
        delivery; a pickup one is a ValueError), with an empty `kaspiDelivery` object and a
        `deliveryCostForSeller`. `pre_order=True`: a pre-order, with its `reservationDate`.
        `entries`: `[(sku, quantity)]` or `[(sku, quantity, unit_price)]`; by default 1-4 random
        catalogue items. `attributes` override the generated ones, e.g. `status=...`, `state=...`,
        `creationDate=<epoch ms>`, `deliveryMode=...` (the last two also shape the derived fields).
        """
        choices = {"kaspi_delivery": kaspi_delivery, "pre_order": pre_order, "signature": False, "express": False}
        return self._add(entries, choices, attributes)

    def add_random_order(self):
        """Add an order as a real buyer places it: any delivery, Kaspi Delivery, credit or pre-order; return it."""
        return self._add(None, {}, {})

    def _add(self, entries, choices, attributes):
        with self.lock:
            self._last_order_number += 1
            order = data.make_order(
                self._order_rng,
                number=self._last_order_number,
                created_ms=attributes.pop("creationDate", data.to_ms(data.now_utc())),
                sellable=data.sellable_products(self.alstyle_products),
                entries=entries,
                delivery_mode=attributes.pop("deliveryMode", None),
                **choices,
            )
            order["attributes"].update(attributes)
            self.kaspi_orders.append(order)
            return order

    def alstyle_now(self):
        """Al-Style's clock: the real time, moved on by `alstyle_advance_orders`."""
        return data.now_utc() + self.alstyle_clock_shift

    def alstyle_advance_orders(self, minutes):
        """Let `minutes` pass on Al-Style's clock, so orders move on (N → SV → OK → F) without a sleep."""
        with self.lock:
            self.alstyle_clock_shift += timedelta(minutes=minutes)

    def alstyle_put_in_cart(self, article, quantity):
        """Add to the cart's line for `article` (or start one), unchecked; return the line's item id."""
        with self.lock:
            for item_id, line in self.alstyle_cart.items():
                if line["article"] == article:
                    line["quantity"] += quantity
                    return item_id
            self._last_cart_item += 1
            item_id = str(self._last_cart_item)
            self.alstyle_cart[item_id] = {"article": article, "quantity": quantity}
            return item_id

    def alstyle_foreign_cart_item(self, article, quantity):
        """Someone else with the token (a manager in the B2B portal) puts an item in the shared cart."""
        return self.alstyle_put_in_cart(article, quantity)

    def alstyle_new_order(self, *, cart, **fields):
        """Record an order made from `cart` lines now; its fate is drawn from `alstyle_supplier_cancels_next`."""
        with self.lock:
            last = max((order["id"] for order in self.alstyle_orders), default=data.FIRST_SUPPLIER_ORDER)
            fate = "F"
            if self.alstyle_supplier_cancels_next > 0:
                self.alstyle_supplier_cancels_next -= 1
                fate = "DA"
            order = data.supplier_order(order_id=data.next_supplier_order_id(self._supplier_rng, last),
                                        created=self.alstyle_now(), cart=cart, fate=fate, **fields)
            self.alstyle_orders.append(order)
            return order

    def alstyle_find_order(self, order_id):
        """The Al-Style order with that id (an int), or None."""
        return next((order for order in self.alstyle_orders if order["id"] == order_id), None)

    def alstyle_merge_order(self, order_id, into):
        """Al-Style's office merges one open order into another: it shows as Un with `merge_with`."""
        with self.lock:
            merged, target = self.alstyle_find_order(order_id), self.alstyle_find_order(into)
            merged["final"], merged["merge_with"] = ("Un", self.alstyle_now()), into
            target["cart"] = target["cart"] + merged["cart"]

    def find_order(self, *, order_id=None, code=None):
        """The order with that id or code, or None."""
        for order in self.kaspi_orders:
            if order["id"] == order_id or order["attributes"]["code"] == code:
                return order
        return None

    def random_fault(self):
        """A fault kind for this request, or None, drawn at `fail_rate`."""
        if self.fail_rate > 0 and self._rng.random() < self.fail_rate:
            return self._rng.choice(self.fault_kinds)
        return None

    def defer(self, delay, change):
        """Run `change()` now, or (delay > 0) at the first `apply_due` once `delay` seconds have passed."""
        if delay > 0:
            self._deferred.append((time.monotonic() + delay, change))
        else:
            change()

    def apply_deferred(self):
        """Kaspi catches up: run every deferred change now, due or not (tests need no sleep for it)."""
        with self.lock:
            changes, self._deferred = [change for _at, change in self._deferred], []
            for change in changes:
                change()

    def apply_due(self):
        """Run the deferred changes whose time has come, in the order they were made."""
        now = time.monotonic()
        due = [change for at, change in self._deferred if at <= now]
        self._deferred = [(at, change) for at, change in self._deferred if at > now]
        for change in due:
            change()

    def new_security_code(self, order_code):
        code = f"{self._rng.randrange(10_000):04d}"
        self.security_codes[order_code] = code
        self.codes_sent[order_code] += 1
        return code

    def sleep(self, seconds):
        """Sleep, but wake at once when the server stops, so stopping never waits on a slow answer."""
        if seconds > 0:
            self._stopping.wait(seconds)

    def sleep_until_stopped(self, seconds):
        """Sleep; True as soon as the server stops."""
        return self._stopping.wait(seconds)

    def wake_sleepers(self):
        self._stopping.set()
