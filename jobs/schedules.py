"""Every periodic job, declared in code; `setup_schedules` writes them to django-q by name."""

from django.conf import settings
from django_q.models import Schedule


def declared():
    """name → Schedule fields. The function paths are checked by a test that imports each one."""
    return {
        "catalog: stock and price refresh": {
            "func": "catalog.tasks.refresh_stock",
            "minutes": settings.STOCK_REFRESH_MINUTES,
        },
        "catalog: full supplier sync": {
            "func": "catalog.tasks.sync_catalog",
            "minutes": settings.CATALOG_SYNC_MINUTES,
        },
        "feeds: build and publish": {
            "func": "feeds.tasks.build_feed",
            "minutes": settings.FEED_BUILD_MINUTES,
        },
        "orders: import from Kaspi": {
            "func": "orders.tasks.sync_orders",
            "minutes": settings.ORDERS_SYNC_MINUTES,
        },
        "orders: send approved status changes": {
            "func": "orders.tasks.push_status_changes",
            "minutes": settings.STATUS_PUSH_MINUTES,
        },
        "alerts: check": {
            "func": "monitoring.tasks.check_alerts",
            "minutes": settings.ALERT_CHECK_MINUTES,
        },
    }


def schedules_upsert():
    """Create or update each declared schedule by name; remove ours that are no longer declared."""
    jobs = declared()
    for name, fields in jobs.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={"schedule_type": Schedule.MINUTES, "repeats": -1, "hook": None, **fields},
        )
    stale = Schedule.objects.filter(name__regex=r"^(catalog|feeds|orders|alerts): ").exclude(name__in=jobs)
    removed, _ = stale.delete()
    return len(jobs), removed
