"""Client for the Al-Style supplier API: the only code that talks to it."""

import logging
import math
from functools import partial

import requests
from django.conf import settings

from common.http import ApiError, Cause, call, describe_status, json_body
from common.ratelimit import wait_turn

log = logging.getLogger(__name__)

PAGE_SIZE = 250  # the API cuts any larger limit to 250 without saying so


class AlstyleError(ApiError):
    """Any failure talking to Al-Style; the message names the cause and never the token."""


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
    """A 200 can still say "too fast" or "failed" in its body."""
    body = json_body(response)
    if isinstance(body, dict) and body.get("success") is False:
        interval = _rate_limit_interval(response)
        message = str(body.get("message") or body.get("error") or "the API answered success=false")[:300]
        raise ApiError(message, temporary=interval is not None, status=response.status_code,
                       cause=Cause.RATE_LIMIT if interval is not None else Cause.STATUS, retry_after=interval,
                       api_message=message)
    return body


class AlstyleClient:
    def __init__(self, *, base_url=None, token=None, min_interval=None, session=None, retries=None):
        self.base_url = (base_url or settings.ALSTYLE_API_URL).rstrip("/")
        self.token = settings.ALSTYLE_TOKEN if token is None else token
        self.min_interval = settings.ALSTYLE_MIN_INTERVAL if min_interval is None else min_interval
        self.session = session or requests.Session()  # keep-alive across the many calls of one run
        self.retries = retries  # None: HTTP_RETRIES
        self.requests = 0

    def get(self, endpoint, **params):
        if not self.token:
            raise AlstyleError("ALSTYLE_TOKEN is not set", temporary=False, cause=Cause.NOT_CONFIGURED)
        self.requests += 1
        return call(
            "GET",
            f"{self.base_url}/{endpoint}",
            params={**params, "access-token": self.token},
            parse=_parse,
            describe=_describe,
            error=AlstyleError,
            secrets=[self.token],
            before_attempt=partial(wait_turn, "alstyle", self.min_interval),
            session=self.session,
            retries=self.retries,
        )

    def iter_pages(self, *, additional_fields="brand,barcode,discountPrice"):
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
