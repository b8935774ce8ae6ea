"""The one way this project talks HTTP to the outside world.

Every call has a timeout per attempt and an overall time budget (HTTP_TIME_BUDGET) that attempts,
backoff and rate-limit waits all spend; our own User-Agent; failures become one error type that
carries its cause as data (`ApiError.cause`) and whether trying again could help; only temporary
failures are retried; secrets never appear in messages or logs.
"""

import json
import logging
import re
import time
from enum import StrEnum
from urllib.parse import quote, quote_plus, urlsplit

import requests
from django.conf import settings

log = logging.getLogger(__name__)

RETRY_STATUSES = {429, 500, 502, 503, 504}


class Cause(StrEnum):
    """Why a call failed, for code that decides on it (check_connections, alerts, the sync's retries)."""

    NOT_CONFIGURED = "not_configured"  # a token or address is not set
    TOKEN = "token"  # the API refused the token
    RATE_LIMIT = "rate_limit"  # too fast: `retry_after` says how long to wait, when the API says
    TIMEOUT = "timeout"  # no answer within the attempt's timeout
    CONNECTION = "connection"  # no connection: DNS, refused, reset, TLS
    STATUS = "status"  # another HTTP status; `api_message` has what the API said
    MALFORMED = "malformed"  # an answer that cannot be read (not JSON, not the documented shape)
    BUDGET = "budget"  # the call's time budget ran out before an attempt could succeed


def _cause_of(status):
    if status is None:
        return Cause.MALFORMED
    if status in (401, 403):  # Al-Style's 403 for "too fast" says so itself (catalog/alstyle.py)
        return Cause.TOKEN
    if status == 429:
        return Cause.RATE_LIMIT
    return Cause.STATUS


class ApiError(Exception):
    """A failed call. `temporary` says whether the same call may succeed later; `cause` (a `Cause`)
    says why, `status` is the HTTP status if there was an answer, `api_message` what the API said."""

    def __init__(self, message, *, temporary, status=None, cause=None, retry_after=None, api_message=""):
        super().__init__(message)
        self.temporary = temporary
        self.status = status
        self.cause = Cause(cause) if cause else _cause_of(status)
        self.retry_after = retry_after
        self.api_message = api_message


# Al-Style takes its token in the query string: a URL written whole must not carry it.
ACCESS_TOKEN = re.compile(r"(access-token=)[^&\s'\"]+")


def mask(text, secrets):
    """`text` without any of `secrets`, also in their URL-encoded forms (a token with + / = travels
    as %2B %2F %3D), and without any `access-token=` value."""
    for secret in secrets:
        for form in _forms(secret):
            text = text.replace(form, "***")
    return ACCESS_TOKEN.sub(r"\1***", text)


def _forms(secret):
    if not secret:
        return []
    encoded = {quote(secret, safe=""), quote_plus(secret, safe=""), quote(secret)}
    lowered = {re.sub(r"%[0-9A-F]{2}", lambda hexes: hexes.group().lower(), form) for form in encoded}
    return sorted({secret} | encoded | lowered, key=len, reverse=True)  # the longest first


def safe_url(url):
    """The URL without its query string, which may carry a token, nor the user:password@ of its address."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


def json_body(response):
    """The decoded JSON body; a body that is not JSON is a temporary failure (a proxy page, a cut answer)."""
    try:
        return response.json()
    except (ValueError, json.JSONDecodeError):
        raise ApiError(
            f"malformed JSON in the answer (HTTP {response.status_code}, {len(response.content)} bytes)",
            temporary=True,
            status=response.status_code,
            cause=Cause.MALFORMED,
        ) from None


def call(
    method,
    url,
    *,
    parse=json_body,
    describe=None,
    error=ApiError,
    secrets=(),
    before_attempt=None,
    retries=None,
    timeout=None,
    budget=None,
    session=None,
    **kwargs,
):
    """Send a request and return `parse(response)`, retrying temporary failures.

    `parse` runs on 2xx answers and may raise `ApiError` itself (temporary for a rate-limit body,
    say). `describe` turns a non-2xx answer into an `ApiError` (default: `describe_status`).
    `before_attempt` runs before every attempt (a rate limiter). Every error raised is of type
    `error`, with the secrets masked and the cause kept.

    The whole call, waits included, ends within `budget` seconds (HTTP_TIME_BUDGET): an attempt
    gets at most what is left of it, and no retry starts that could not finish in it.
    """
    retries = settings.HTTP_RETRIES if retries is None else retries
    timeout = settings.HTTP_TIMEOUT if timeout is None else timeout
    budget = settings.HTTP_TIME_BUDGET if budget is None else budget
    deadline = time.monotonic() + budget
    headers = {"User-Agent": settings.HTTP_USER_AGENT, **kwargs.pop("headers", {})}
    sender = session or requests
    where = mask(f"{method} {safe_url(url)}", secrets)  # some APIs (Telegram) carry a token in the path
    describe = describe or describe_status
    attempt = 0
    while True:
        if before_attempt:
            before_attempt()
        left = deadline - time.monotonic()
        if left <= 0:
            raise error(f"{where}: no answer within the time budget of {budget:g} s", temporary=True,
                        cause=Cause.BUDGET)
        wait_for = min(timeout, left)
        try:
            response = sender.request(method, url, headers=headers, timeout=wait_for, **kwargs)
            if not 200 <= response.status_code < 300:
                raise describe(response)
            return parse(response)
        except ApiError as exc:
            failure = error(f"{where}: {mask(str(exc), secrets)}", temporary=exc.temporary, status=exc.status,
                            cause=exc.cause, retry_after=exc.retry_after,
                            api_message=mask(exc.api_message, secrets))
        except requests.Timeout:
            failure = error(f"{where}: no answer within {wait_for:g} s", temporary=True, cause=Cause.TIMEOUT)
        except requests.RequestException as exc:
            reason = mask(type(exc).__name__ + ": " + str(exc), secrets)
            failure = error(f"{where}: connection failed ({reason})", temporary=True, cause=Cause.CONNECTION)
        delay = max(settings.HTTP_BACKOFF * 2**attempt, failure.retry_after or 0)
        out_of_time = time.monotonic() + delay >= deadline
        if not failure.temporary or attempt == retries or out_of_time:
            notes = [f"after {attempt + 1} attempts"] if attempt else []
            if failure.temporary and attempt < retries:
                notes.append(f"the time budget of {budget:g} s is spent")
            if notes:
                failure.args = (f"{failure.args[0]} ({'; '.join(notes)})",)
            raise failure
        attempt += 1
        log.warning("%s; retrying in %.1f s (attempt %d of %d)", failure, delay, attempt + 1, retries + 1)
        time.sleep(delay)


def describe_status(response):
    """An `ApiError` for a non-2xx answer, carrying whatever message the body gives."""
    detail = _body_message(response)
    temporary = response.status_code in RETRY_STATUSES
    text = f"HTTP {response.status_code}: {detail}" if detail else f"HTTP {response.status_code}"
    retry_after = response.headers.get("Retry-After", "")
    return ApiError(text, temporary=temporary, status=response.status_code, api_message=detail,
                    retry_after=int(retry_after) if retry_after.isdigit() else None)


def _body_message(response):
    """Kaspi's `errors[].title`, Al-Style's `message`, or nothing; never the raw page."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list):
            titles = [str(e.get("title") or e.get("detail") or "") for e in errors if isinstance(e, dict)]
            return "; ".join(t for t in titles if t)[:500]
        for key in ("message", "error", "title"):
            if isinstance(body.get(key), str):
                return body[key][:500]
    return ""
