"""Every periodic job, declared in code; `setup_schedules` writes them to django-q by name."""

from django.conf import settings
from django_q.models import Schedule


def declared():
    """name → Schedule fields. The function paths are checked by a test that imports each one."""
    return {
        "catalog: supplier sync": {
            "func": "catalog.tasks.sync_catalog",
            "schedule_type": Schedule.MINUTES,
            "minutes": settings.CATALOG_SYNC_MINUTES,
        },
        "feeds: build and publish": {
            "func": "feeds.tasks.build_feed",
            "schedule_type": Schedule.MINUTES,
            "minutes": settings.FEED_BUILD_MINUTES,
        },
    }


def schedules_upsert():
    """Create or update each declared schedule by name; remove ours that are no longer declared."""
    jobs = declared()
    for name, fields in jobs.items():
        Schedule.objects.update_or_create(name=name, defaults={"repeats": -1, **fields})
    stale = Schedule.objects.filter(name__regex=r"^(catalog|feeds|orders): ").exclude(name__in=jobs)
    removed, _ = stale.delete()
    return len(jobs), removed
