"""`GET /healthz` for an uptime monitor or a load balancer: no login, no secrets, no business figures.

200 when the database answers and a django-q2 cluster has reported in recently; 503, naming the
part that failed, otherwise.
"""

import logging
from datetime import timedelta

from django.db import DatabaseError, connection
from django.db.models import Max
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django_q.conf import Conf
from django_q.status import Stat

from feeds.models import FeedFetch, FeedRun
from jobs.models import JobRun

log = logging.getLogger(__name__)

# A running cluster saves its stat every guard cycle (0.5 s) with a 3 s expiry; this allows for a busy host.
HEARTBEAT_MAX_AGE = timedelta(seconds=60)
LIVE_STATES = (Conf.STARTING, Conf.IDLE, Conf.WORKING)


@never_cache
@require_safe
def healthz(request):
    checks = {"database": _database(), "queue": _queue()}
    healthy = all(state == "ok" for state in checks.values())
    body = {"status": "ok" if healthy else "failing", **checks}
    if checks["database"] == "ok":
        body["minutes_since"] = _minutes_since(timezone.now())
    return JsonResponse(body, status=200 if healthy else 503)


def _database():
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        log.warning("healthz: the database does not answer: %s", exc)
        return "failing"
    return "ok"


def _queue():
    """Stats come from Redis or, with the database broker, from the shared cache (settings.CACHES)."""
    try:
        stats = Stat.get_all()
    except Exception as exc:  # each broker fails in its own way (Redis down, cache table missing)
        log.warning("healthz: cannot read the queue cluster's stats: %s", exc)
        return "failing"
    now = timezone.now()
    if any(stat.status in LIVE_STATES and now - stat.timestamp < HEARTBEAT_MAX_AGE for stat in stats):
        return "ok"
    return "no cluster"


def _minutes_since(now):
    """Minutes since the last success of each outside-facing job; null when it never succeeded."""
    last = {
        f"{kind}_sync": JobRun.objects.filter(kind=kind, outcome=JobRun.Outcome.OK).aggregate(at=Max("finished"))
        for kind in (JobRun.Kind.CATALOG, JobRun.Kind.STOCK, JobRun.Kind.ORDERS)
    }
    last["feed_published"] = FeedRun.objects.filter(outcome=FeedRun.Outcome.PUBLISHED).aggregate(at=Max("finished"))
    last["feed_fetched"] = FeedFetch.objects.filter(status__in=[200, 304]).aggregate(at=Max("at"))
    return {name: None if row["at"] is None else int((now - row["at"]).total_seconds() // 60)
            for name, row in last.items()}
