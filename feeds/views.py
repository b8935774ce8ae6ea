import hashlib
import os
import re
import secrets
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.http import FileResponse, Http404, HttpResponse
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.http import http_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from common.log import security_event
from common.net import client_ip

from .models import FeedFetch
from .services import FEED_NAME, GZIP_NAME, published_run

_ACCEPTS_GZIP = re.compile(r"\bgzip\b")
CONTENT_TYPE = "application/xml; charset=utf-8"
USER_AGENT_LENGTH = FeedFetch._meta.get_field("user_agent").max_length
_DIGESTS = {}  # file identity -> SHA-256, in this process
WRONG_TOKEN_LOG_SECONDS = 60


@require_safe
def kaspi_feed(request, token):
    """The last published price list, for Kaspi. Never builds anything: it only serves the file."""
    if not token_accepted(token):
        _note_wrong_token(request)
        raise Http404
    response = _serve(request)
    run = published_run() if response is not None else None
    if response is None:  # nothing published yet, or the file has gone from the disk
        response = HttpResponse(_("No feed has been published yet."), status=503, headers={"Retry-After": "600"})
    sent = int(response["Content-Length"]) if request.method == "GET" and response.status_code == 200 else 0
    FeedFetch.objects.create(
        client_ip=client_ip(request) or None,
        user_agent=request.headers.get("User-Agent", "")[:USER_AGENT_LENGTH],
        client=FeedFetch.client_of(request),
        status=response.status_code,
        bytes=sent,
        run=run,
    )
    return response


def _note_wrong_token(request):
    """Into the security log once a minute per address at most, so a burst of guesses costs nothing."""
    address = client_ip(request)
    if cache.add(f"feed-wrong-token:{address}", 1, WRONG_TOKEN_LOG_SECONDS):
        security_event("feed_token", "a request for the feed with a wrong token", address=address)


def token_accepted(token):
    """The current FEED_TOKEN, or during a change of URL the previous one (FEED_TOKEN_PREVIOUS);
    compared in constant time, each of them."""
    given = token.encode()
    accepted = [secrets.compare_digest(given, known.encode())
                for known in (settings.FEED_TOKEN, settings.FEED_TOKEN_PREVIOUS) if known]
    return any(accepted)


def _serve(request):
    """The published file, gzipped when the client takes that, or a 304; None if the file is missing.

    The ETag and Last-Modified come from the very file being sent (opened once, so a new build
    replacing the path meanwhile changes nothing here), never from a run row that a crash could
    leave describing another file.
    """
    gzipped = bool(_ACCEPTS_GZIP.search(request.headers.get("Accept-Encoding", "")))
    try:
        handle = open(Path(settings.FEED_DIR) / (GZIP_NAME if gzipped else FEED_NAME), "rb")
    except FileNotFoundError:
        return None
    stat = os.fstat(handle.fileno())
    etag = f'"{_digest(handle, stat)}"'
    response = get_conditional_response(request, etag=etag, last_modified=int(stat.st_mtime))
    if response is not None or request.method == "HEAD":
        handle.close()
    if response is None:
        if request.method == "HEAD":
            response = HttpResponse(content_type=CONTENT_TYPE, headers={"Content-Length": stat.st_size})
        else:
            response = FileResponse(handle, content_type=CONTENT_TYPE, filename=FEED_NAME)
        if gzipped:
            response["Content-Encoding"] = "gzip"
    response["ETag"] = etag
    response["Last-Modified"] = http_date(stat.st_mtime)
    response["Cache-Control"] = "no-cache"  # anything in between must ask again each time
    patch_vary_headers(response, ["Accept-Encoding"])
    return response


def _digest(handle, stat):
    """SHA-256 of the open file, computed once per published file (its inode, size and mtime)."""
    identity = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
    cached = _DIGESTS.get(identity)
    if cached is None:
        handle.seek(0)
        cached = hashlib.file_digest(handle, "sha256").hexdigest()
        handle.seek(0)
        if len(_DIGESTS) >= 4:  # the published plain and gzipped files, and the ones just replaced
            _DIGESTS.clear()
        _DIGESTS[identity] = cached
    return cached
