"""The one way this project talks HTTP to the outside world.

Every call has a timeout and our own User-Agent; failures become one error type that says
whether trying again could help; only temporary failures are retried, with backoff; secrets
never appear in messages or logs.
"""

import json
import logging
import time
from urllib.parse import urlsplit

import requests
from django.conf import settings

log = logging.getLogger(__name__)

RETRY_STATUSES = {429, 500, 502, 503, 504}


class ApiError(Exception):
    """A failed call. `temporary` says whether the same call may succeed later."""

    def __init__(self, message, *, temporary, status=None):
        super().__init__(message)
        self.temporary = temporary
        self.status = status


def mask(text, secrets):
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def safe_url(url):
    """The URL without its query string, which may carry a token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def json_body(response):
    """The decoded JSON body; a body that is not JSON is a temporary failure (a proxy page, a cut answer)."""
    try:
        return response.json()
    except (ValueError, json.JSONDecodeError):
        raise ApiError(
            f"malformed JSON in the answer (HTTP {response.status_code}, {len(response.content)} bytes)",
            temporary=True,
            status=response.status_code,
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
    session=None,
    **kwargs,
):
    """Send a request and return `parse(response)`, retrying temporary failures.

    `parse` runs on 2xx answers and may raise `ApiError` itself (temporary for a rate-limit body,
    say). `describe` turns a non-2xx answer into an `ApiError` (default: `describe_status`).
    `before_attempt` runs before every attempt (a rate limiter). Every error raised is of type
    `error`, with the secrets masked.
    """
    retries = settings.HTTP_RETRIES if retries is None else retries
    timeout = settings.HTTP_TIMEOUT if timeout is None else timeout
    headers = {"User-Agent": settings.HTTP_USER_AGENT, **kwargs.pop("headers", {})}
    sender = session or requests
    where = mask(f"{method} {safe_url(url)}", secrets)  # some APIs (Telegram) carry a token in the path
    describe = describe or describe_status
    attempt = 0
    while True:
        if before_attempt:
            before_attempt()
        try:
            response = sender.request(method, url, headers=headers, timeout=timeout, **kwargs)
            if not 200 <= response.status_code < 300:
                raise describe(response)
            return parse(response)
        except ApiError as exc:
            failure = error(f"{where}: {mask(str(exc), secrets)}", temporary=exc.temporary, status=exc.status)
            wait = getattr(exc, "retry_after", None)
        except requests.Timeout:
            failure = error(f"{where}: no answer within {timeout:g} s", temporary=True)
            wait = None
        except requests.RequestException as exc:
            reason = mask(type(exc).__name__ + ": " + str(exc), secrets)
            failure = error(f"{where}: connection failed ({reason})", temporary=True)
            wait = None
        if not failure.temporary or attempt == retries:
            if attempt:
                failure.args = (f"{failure.args[0]} (after {attempt + 1} attempts)",)
            raise failure
        delay = max(settings.HTTP_BACKOFF * 2**attempt, wait or 0)
        attempt += 1
        log.warning("%s; retrying in %.1f s (attempt %d of %d)", failure, delay, attempt + 1, retries + 1)
        time.sleep(delay)


def describe_status(response):
    """An `ApiError` for a non-2xx answer, carrying whatever message the body gives."""
    detail = _body_message(response)
    temporary = response.status_code in RETRY_STATUSES
    text = f"HTTP {response.status_code}: {detail}" if detail else f"HTTP {response.status_code}"
    exc = ApiError(text, temporary=temporary, status=response.status_code)
    retry_after = response.headers.get("Retry-After", "")
    if retry_after.isdigit():
        exc.retry_after = int(retry_after)
    return exc


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
