"""Client for the Kaspi Shop API (orders): the only code that talks to it."""

from datetime import datetime
from functools import partial
from urllib.parse import quote

import requests
from django.conf import settings

from common.http import ApiError, Cause, call, describe_status
from common.ratelimit import wait_turn

PAGE_SIZE = 100  # Kaspi refuses more
WINDOW_DAYS = 14  # Kaspi refuses a wider creationDate filter
STATES = ["NEW", "SIGN_REQUIRED", "PICKUP", "DELIVERY", "KASPI_DELIVERY", "ARCHIVE"]
CONTENT_TYPE = "application/vnd.api+json"


class KaspiError(ApiError):
    """A failed call; the message carries Kaspi's `errors[].title`, never the token."""


def _describe(response):
    if response.status_code == 401:
        return ApiError("HTTP 401: the token was refused (check KASPI_TOKEN)", temporary=False, status=401,
                        cause=Cause.TOKEN)
    return describe_status(response)


def epoch_ms(moment: datetime):
    return int(moment.timestamp() * 1000)


class KaspiClient:
    def __init__(self, *, base_url=None, token=None, session=None, retries=None):
        self.base_url = (base_url or settings.KASPI_API_URL).rstrip("/")
        self.token = settings.KASPI_TOKEN if token is None else token
        self.session = session or requests.Session()  # keep-alive across the many calls of one run
        self.retries = retries  # None: HTTP_RETRIES
        self.requests = 0

    def _call(self, method, path, *, retries=None, headers=None, **kwargs):
        if not self.token:
            raise KaspiError("KASPI_TOKEN is not set", temporary=False, cause=Cause.NOT_CONFIGURED)
        self.requests += 1
        return call(
            method,
            f"{self.base_url}/{path}",
            headers={"X-Auth-Token": self.token, "Content-Type": CONTENT_TYPE, "Accept": CONTENT_TYPE,
                     **(headers or {})},
            describe=_describe,
            error=KaspiError,
            secrets=[self.token],
            retries=self.retries if retries is None else retries,
            before_attempt=partial(wait_turn, "kaspi", settings.KASPI_MIN_INTERVAL),
            session=self.session,
            **kwargs,
        )

    def orders_page(self, *, state, since, until, page):
        """One page of orders created in [since, until] (at most 14 days apart) in `state`."""
        params = {
            "page[number]": page,
            "page[size]": PAGE_SIZE,
            "filter[orders][state]": state,
            "filter[orders][creationDate][$ge]": epoch_ms(since),
            "filter[orders][creationDate][$le]": epoch_ms(until),
            "include[orders]": "user",
        }
        return _documents(self._call("GET", "orders", params=params))

    def order_by_code(self, code):
        """The order with this number, or None; needs no date filter."""
        params = {"page[number]": 0, "page[size]": 1, "filter[orders][code]": code}
        data, _ = _documents(self._call("GET", "orders", params=params))
        return data[0] if data else None

    def entries(self, order_id):
        data, _ = _documents(self._call("GET", f"orders/{quote(order_id, safe='')}/entries"))
        return data

    def cities(self):
        data, _ = _documents(self._call("GET", "cities"))
        return data

    def set_status(self, *, order_id, code, status, attributes=None, security_code=None):
        """POST a status change once: no automatic retry, since a lost answer may hide a success.

        `security_code` is for COMPLETED only: "" asks Kaspi to text the buyer a code, the code
        completes the order. `X-Send-Code` stays true in both steps, as the guide says.
        """
        headers = {"X-Send-Code": "true", "X-Security-Code": security_code} if security_code is not None else {}
        body = {"data": {"type": "orders", "id": order_id,
                         "attributes": {"code": code, "status": status, **(attributes or {})}}}
        return self._call("POST", "orders", json=body, headers=headers, retries=0)

    def cancel_entry(self, *, entry_id, remained, reason, notes=""):
        """Cancel units of one line, keeping `remained`; Kaspi applies it afterwards (INPROGRESS)."""
        body = {"data": {
            "type": "orderEntryCancelOperation",
            "attributes": {"notes": notes, "remainedQuantity": remained, "reason": reason},
            "relationships": {"entry": {"data": {"type": "orderentries", "id": entry_id}}},
        }}
        return self._call("POST", "orderEntryCancelOperation", json=body, retries=0)


def answer_errors(body):
    """Kaspi's `errors[].title` in an answer that came with a 2xx; "" when it carries none."""
    errors = body.get("errors") if isinstance(body, dict) else None
    if not errors:
        return ""
    titles = [str(e.get("title") or e.get("detail") or "") if isinstance(e, dict) else str(e) for e in errors]
    return "; ".join(t for t in titles if t) or "an error without a title"


def answer_resource(body):
    """The one resource a 2xx answer carries in `data`, or None."""
    data = body.get("data") if isinstance(body, dict) else None
    return data if isinstance(data, dict) and isinstance(data.get("attributes"), dict) else None


def _documents(body):
    """`data` as a list of resources plus `meta`; anything else is a malformed answer."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), (list, dict)):
        raise KaspiError("the answer is not a JSON:API document with `data`", temporary=True)
    data = body["data"] if isinstance(body["data"], list) else [body["data"]]
    resources = [item for item in data if isinstance(item, dict) and isinstance(item.get("attributes"), dict)]
    meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
    return resources, meta
