import re
import secrets
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.http import http_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from .models import FeedFetch
from .services import FEED_NAME, GZIP_NAME, published_run

_ACCEPTS_GZIP = re.compile(r"\bgzip\b")
CONTENT_TYPE = "application/xml; charset=utf-8"
USER_AGENT_LENGTH = FeedFetch._meta.get_field("user_agent").max_length


@require_safe
def kaspi_feed(request, token):
    """The last published price list, for Kaspi. Never builds anything: it only serves the file."""
    expected = settings.FEED_TOKEN
    if not expected or not secrets.compare_digest(token.encode(), expected.encode()):
        raise Http404
    run = published_run()
    response = _serve(request, run) if run else None
    if response is None:  # nothing published yet, or the file has gone from the disk
        run = None
        response = HttpResponse(_("No feed has been published yet."), status=503, headers={"Retry-After": "600"})
    sent = int(response["Content-Length"]) if request.method == "GET" and response.status_code == 200 else 0
    FeedFetch.objects.create(
        client_ip=request.META.get("REMOTE_ADDR") or None,
        user_agent=request.headers.get("User-Agent", "")[:USER_AGENT_LENGTH],
        status=response.status_code,
        bytes=sent,
        run=run,
    )
    return response


def _serve(request, run):
    """The published file, gzipped when the client takes that, or a 304; None if the file is missing."""
    gzipped = bool(_ACCEPTS_GZIP.search(request.headers.get("Accept-Encoding", "")))
    path = Path(settings.FEED_DIR) / (GZIP_NAME if gzipped else FEED_NAME)
    # A strong ETag names one representation, so the gzipped one gets its own.
    etag = f'"{run.sha256}-gzip"' if gzipped else f'"{run.sha256}"'
    modified = int(run.finished.timestamp())
    response = get_conditional_response(request, etag=etag, last_modified=modified)
    if response is None:
        try:
            if request.method == "HEAD":
                response = HttpResponse(content_type=CONTENT_TYPE, headers={"Content-Length": path.stat().st_size})
            else:
                # The open file stays whole even if a new build replaces the path meanwhile.
                response = FileResponse(open(path, "rb"), content_type=CONTENT_TYPE, filename=FEED_NAME)
        except FileNotFoundError:
            return None
        if gzipped:
            response["Content-Encoding"] = "gzip"
    response["ETag"] = etag
    response["Last-Modified"] = http_date(modified)
    response["Cache-Control"] = "no-cache"  # anything in between must ask again each time
    patch_vary_headers(response, ["Accept-Encoding"])
    return response
