"""Every periodic job, declared once: its name, the service it runs, its lock, how often, when it is late.

The schedules (`setup_schedules`), the queue task (`jobs.tasks.run`), the dashboard tiles, the
alerts and `/healthz` all loop over `JOBS`. A job's name is its command's name and the `kind` of
its run rows. Services are named by dotted path, so this floor imports no app.

An *expectation* is watched like a job but run by someone else (Kaspi fetching the feed): it
names a `source` that says what happened instead of a service.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

# A job is late once a run is overdue by this share of its interval (at least MIN_GRACE), and
# failing once the run after that is overdue too: healthchecks' period and grace.
GRACE_SHARE = 0.1
MIN_GRACE = timedelta(minutes=15)


@dataclass(frozen=True)
class Job:
    name: str
    title: str
    every: str  # the setting that holds the interval in minutes
    service: str = ""  # dotted path of the service the queue calls with no arguments
    lock: str = ""  # the job lock the service takes; jobs sharing one never run at once
    then: tuple = ()  # jobs queued after a run that succeeded
    late_after: float | None = None  # in intervals; derived from the interval when not given
    failing_after: float | None = None
    source: str = ""  # expectations only: dotted path of a function(job) -> jobs.health.Evidence
    hint: str = ""  # what to check when it fails, for the alert and the tile

    @property
    def interval(self):
        return timedelta(minutes=getattr(settings, self.every))

    @property
    def scheduled(self):
        return bool(self.service)

    def late_at(self):
        """How long after the last success the job is late."""
        if self.late_after is not None:
            return self.interval * self.late_after
        return self.interval + self._grace()

    def failing_at(self):
        """How long after the last success the job is failing: two runs missed."""
        if self.failing_after is not None:
            return self.interval * self.failing_after
        return 2 * self.interval + self._grace()

    def _grace(self):
        return max(MIN_GRACE, self.interval * GRACE_SHARE)

    def run_service(self):
        return import_string(self.service)()


JOBS = {
    job.name: job
    for job in [
        Job("sync_products", _("Supplier catalogue, full sync"), "CATALOG_SYNC_MINUTES",
            service="catalog.services.products_sync", lock="supplier", then=("build_feed",),
            hint=_("Check ALSTYLE_TOKEN and that api.al-style.kz answers (manage.py check_connections).")),
        Job("refresh_stock", _("Supplier stock and prices"), "STOCK_REFRESH_MINUTES",
            service="catalog.services.stock_refresh", lock="supplier", then=("build_feed",),
            hint=_("Check ALSTYLE_TOKEN and that api.al-style.kz answers (manage.py check_connections).")),
        Job("build_feed", _("Feed built and published"), "FEED_BUILD_MINUTES",
            service="feeds.services.feed_build", lock="feed-build",
            hint=_("Kaspi keeps the last published feed until a build is published again.")),
        Job("sync_orders", _("Kaspi orders imported"), "ORDERS_SYNC_MINUTES",
            service="orders.sync.orders_sync", lock="orders-sync", then=("sync_supplier_orders",),
            hint=_("Check KASPI_TOKEN and that kaspi.kz answers (manage.py check_connections).")),
        Job("push_order_statuses", _("Status changes sent to Kaspi"), "STATUS_PUSH_MINUTES",
            service="orders.changes.order_statuses_push", lock="status-push"),
        # Proposals for accepted Kaspi orders, the approved ones sent, Al-Style's statuses read.
        Job("sync_supplier_orders", _("Supplier orders at Al-Style"), "SUPPLIER_SYNC_MINUTES",
            service="purchasing.tracking.supplier_orders_sync", lock="supplier-orders",
            hint=_("Check ALSTYLE_TOKEN and that api.al-style.kz answers (manage.py check_connections); "
                   "held supplier orders say what they wait for.")),
        Job("check_alerts", _("Alert check"), "ALERT_CHECK_MINUTES",
            service="monitoring.alerts.alerts_check", lock="alerts"),
        # Kaspi fetches the feed every 30 to 60 minutes: late after two intervals, failing after three.
        Job("feed_fetched", _("Feed fetched by Kaspi"), "FEED_FETCH_MINUTES",
            source="feeds.services.fetch_evidence", late_after=2, failing_after=3,
            hint=_("Check the feed URL in the Kaspi seller cabinet and that this server can be reached "
                   "from the internet.")),
    ]
}


def get(name):
    return JOBS[name]


def title(name):
    """The job's title for people; a name no longer declared is shown as it is."""
    job = JOBS.get(name)
    return job.title if job else name
