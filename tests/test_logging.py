"""Logging: request ids, secrets masked in every record, JSON lines, the rotating file."""

import io
import json
import logging
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.http import HttpResponse
from django.test import RequestFactory

from common.log import JsonFormatter, MaskSecretsFilter, RequestIdFilter, RotatingFileHandler
from kaspiconnect.middleware import RequestIdMiddleware


@pytest.fixture
def captured():
    """A logger whose records go through our filters into a string, as the configured handlers do."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("[%(request_id)s] %(message)s"))
    handler.addFilter(RequestIdFilter())
    handler.addFilter(MaskSecretsFilter())
    logger = logging.getLogger("tests.logging")
    logger.addHandler(handler)
    yield logger, stream
    logger.removeHandler(handler)


def test_it_returns_the_request_id_it_was_given(client, db):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a9c21-0001")
    assert response["X-Request-ID"] == "lb-7f3a9c21-0001"


@pytest.mark.parametrize("given", [None, "short", "has spaces in it", "x" * 200, "evil\u2028forged-log-line"])
def test_it_makes_a_request_id_when_none_or_an_odd_one_comes(client, db, given):
    headers = {"HTTP_X_REQUEST_ID": given} if given else {}
    assert re.fullmatch(r"[0-9a-f]{32}", client.get("/healthz", **headers)["X-Request-ID"])


def test_every_record_of_a_request_carries_its_id(captured):
    logger, stream = captured

    def view(request):
        logger.warning("inside the view")
        return HttpResponse()

    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="req-12345678")
    RequestIdMiddleware(view)(request)
    logger.warning("after the request")
    # Django logs a failed response after the middleware has finished, with the request attached.
    logger.error("Service Unavailable: /healthz", extra={"request": request})
    assert stream.getvalue().splitlines() == [
        "[req-12345678] inside the view",
        "[-] after the request",
        "[req-12345678] Service Unavailable: /healthz",
    ]


def test_it_masks_secrets_in_messages_and_tracebacks(captured, settings):
    logger, stream = captured
    settings.KASPI_TOKEN = "kaspi-secret-0123456789"
    settings.TELEGRAM_BOT_TOKEN = ""  # unset secrets mask nothing
    logger.warning("calling %s with %s", "https://x.kz/api/elements?access-token=al-style-secret&limit=5",
                   {"X-Auth-Token": settings.KASPI_TOKEN})
    try:
        raise RuntimeError(f"refused {settings.FEED_TOKEN}")
    except RuntimeError:
        logger.exception("feed %s", "failed")
    text = stream.getvalue()
    assert "access-token=***&limit=5" in text and "{'X-Auth-Token': '***'}" in text
    assert "RuntimeError: refused ***" in text and "feed failed" in text
    for secret in ("al-style-secret", settings.KASPI_TOKEN, settings.FEED_TOKEN):
        assert secret not in text


def test_it_writes_json_lines():
    record = logging.LogRecord("kaspiconnect.alerts", logging.WARNING, __file__, 1, "sent %d of %d", (1, 2), None)
    record.request_id = "req-12345678"
    try:
        raise ValueError("бывает")
    except ValueError as exc:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    entry = json.loads(JsonFormatter().format(record))
    assert {k: entry[k] for k in ("level", "logger", "message", "request_id")} == {
        "level": "WARNING", "logger": "kaspiconnect.alerts", "message": "sent 1 of 2", "request_id": "req-12345678"
    }
    assert entry["time"].endswith("+00:00") and "ValueError: бывает" in entry["exception"]


def test_the_file_handler_makes_its_folder_and_waits_for_a_record(tmp_path):
    path = tmp_path / "logs" / "kaspiconnect.log"
    handler = RotatingFileHandler(str(path), maxBytes=100, backupCount=2, encoding="utf-8")
    assert path.parent.is_dir() and not path.exists()
    handler.emit(logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None))
    handler.close()
    assert path.read_text() == "hello\n"


def test_the_configured_handlers_tag_and_mask_everything_and_tests_stay_out_of_logs(settings):
    handlers = logging.getLogger().handlers
    ours = [h for h in handlers if any(isinstance(f, MaskSecretsFilter) for f in h.filters)]
    assert len(ours) == 2 and all(any(isinstance(f, RequestIdFilter) for f in h.filters) for h in ours)
    files = [h for h in ours if isinstance(h, RotatingFileHandler)]
    assert (files[0].maxBytes, files[0].backupCount) == (10 * 1024 * 1024, 5)
    assert not Path(files[0].baseFilename).is_relative_to(django_settings.BASE_DIR)
    server = logging.getLogger("django.server")  # runserver's lines carry the feed URL
    assert set(ours) <= set(server.handlers) and not server.propagate
