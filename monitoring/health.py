"""`GET /healthz` for an uptime monitor or a load balancer: no login, no secrets, no business figures.

200 when the database answers and a django-q2 cluster has reported in recently; 503, naming the
part that failed, otherwise. The body also gives every job's health (`jobs`, and `jobs_failing`
for a monitor that looks for a word): a failing supplier sync does not take the site, and with it
the feed Kaspi fetches, out of a load balancer.
"""

import logging
from datetime import timedelta

from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django_q.conf import Conf
from django_q.status import Stat

from jobs import registry
from jobs.health import FAILING, job_health

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
        body["jobs"] = _jobs(timezone.now())
        body["jobs_failing"] = sorted(name for name, job in body["jobs"].items() if job["state"] == FAILING)
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


def _jobs(now):
    """Every job of the registry: its health (the dashboard's colour in words), failures in a row,
    and minutes since its last success (null when it never succeeded). No errors: they may say too much."""
    jobs = {}
    for job in registry.JOBS.values():
        health = job_health(job, now)
        jobs[job.name] = {
            "state": health.state,
            "failures_in_a_row": health.streak,
            "minutes_since_success": None if health.age is None else int(health.age.total_seconds() // 60),
        }
    return jobs
