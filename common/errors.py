"""A failure in a few words of the reader's language, for lists; the full text stays on the record's page.

API errors are kept as the API and the HTTP layer gave them ("HTTP 400: Security code is not valid",
"malformed JSON in the answer (HTTP 502, 312 bytes)"): exact, in English, sometimes long. A list
shows what kind of failure it was instead, with the HTTP status when there was one.
"""

import re

from django.utils.translation import gettext as _

LIMIT = 90  # a text already in the reader's words is cut here in a list
_STATUS = re.compile(r"\bHTTP (\d{3})\b")
_ENGLISH_RUN = re.compile(r"\b[A-Za-z']+ [A-Za-z']+ [A-Za-z']+\b")


def _kinds():
    """(pattern, summary) pairs, first match wins; read at call time, in the active language."""
    return [
        (re.compile(r"tim(e|ed) ?out", re.IGNORECASE), _("no answer in time")),
        (re.compile(r"connect|resolve|refused|unreachable|network", re.IGNORECASE), _("no connection to the service")),
        (re.compile(r"malformed|not JSON|unexpected answer|invalid JSON", re.IGNORECASE),
         _("the service answered with something unreadable")),
        (re.compile(r"rate.?limit|too many|too fast", re.IGNORECASE),
         _("too many requests: the service asked to wait")),
    ]


def _by_status(status):
    if status in (401, 403):
        return _("the service refused access (token or request rate)")
    if status == 404:
        return _("the service does not know this record")
    if status == 429:
        return _("too many requests: the service asked to wait")
    if 400 <= status < 500:
        return _("the service refused the request")
    return _("the service failed on its side")


def error_summary(text):
    """"the service refused the request (HTTP 400)" for a raw API error; a text already in the
    reader's words is kept, cut to LIMIT; "" for none."""
    text = " ".join(str(text or "").split())
    if not text:
        return ""
    if not _looks_raw(text) and not any(pattern.search(text) for pattern, _summary in _kinds()):
        return text if len(text) <= LIMIT else text[: LIMIT - 1].rsplit(" ", 1)[0] + "…"
    for pattern, summary in _kinds():
        if pattern.search(text):
            return summary
    status = _STATUS.search(text)
    if status:
        return _("%(summary)s (HTTP %(status)s)") % {"summary": _by_status(int(status.group(1))),
                                                     "status": status.group(1)}
    return _("failed: see the record for the service's answer")


def _looks_raw(text):
    """An API's own text: it names an HTTP status, or runs three English words in a row."""
    return bool(_STATUS.search(text) or _ENGLISH_RUN.search(text))
