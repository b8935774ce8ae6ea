"""Logging pieces `settings.LOGGING` names: request ids, secret masking, JSON lines, a rotating file.

Filters sit on the handlers, not on loggers, so they see every record, whichever logger made it.
"""

import contextvars
import json
import logging
import logging.handlers
import re
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings

from .http import mask

# The id of the web request being handled; "-" outside requests (queue jobs, commands).
request_id = contextvars.ContextVar("request_id", default="-")

SECRET_SETTINGS = ("ALSTYLE_TOKEN", "KASPI_TOKEN", "FEED_TOKEN", "FEED_TOKEN_PREVIOUS", "TELEGRAM_BOT_TOKEN",
                   "SECRET_KEY", "EMAIL_HOST_PASSWORD")


# A Kazakh mobile number however it is written: +77471234567, +7 (747) 123-45-67, 8 747 123 45 67,
# 77471234567, 747 123 45 67, and URL-encoded in a logged request (q=8+747+123+45+67, %2B7%28747%29…).
_GAP = r"(?:[\s()+-]|%2[0-9B]|%28|%29)*"
PHONE = re.compile(rf"(?<![\w%])(?:(?:\+|%2B)?7|8)?{_GAP}7\d\d{_GAP}\d{{3}}{_GAP}\d\d{_GAP}\d\d(?!\d)", re.I)


def mask_secrets(text):
    """`text` with every configured secret, every `access-token=` value and every phone number replaced by ***."""
    secrets = [getattr(settings, name, "") or "" for name in SECRET_SETTINGS]
    return PHONE.sub("***", mask(text, [*secrets, *getattr(settings, "FIELD_ENCRYPTION_KEYS", [])]))


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        # Django logs a failed response after the middleware is done, but hands over the request.
        record.request_id = getattr(getattr(record, "request", None), "request_id", None) or request_id.get()
        return True


class MaskSecretsFilter(logging.Filter):
    """Masks the final message and the traceback, so neither a format argument nor an exception leaks."""

    def filter(self, record):
        record.msg, record.args = mask_secrets(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_secrets(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_secrets(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors."""

    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


class RotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Creates its folder at start-up, and the file only when the first record arrives."""

    def __init__(self, filename, **kwargs):
        Path(filename).parent.mkdir(parents=True, exist_ok=True)
        super().__init__(filename, delay=True, **kwargs)


SECURITY_LOGGER = "kaspiconnect.security"
security_log = logging.getLogger(SECURITY_LOGGER)


def security_event(kind, message, *, user="", address="", level=logging.WARNING, **details):
    """One line of the security log (logins, lockouts, refusals, wrong feed tokens, approvals): its own
    logger, which the settings send to the log files and to the admin's security log page."""
    security_log.log(level, "%s: %s", kind, message,
                         extra={"security": {"kind": kind, "user": str(user or ""), "address": address or "",
                                             "details": details}})
