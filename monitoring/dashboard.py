"""The admin's front page: is everything running, and what waits for a decision.

`dashboard()` gathers what the page shows in a fixed number of queries, however many rows there
are; `admin_index` puts it above the admin's own app list. Open alerts come first: each is
something someone has to fix.
"""

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from urllib.parse import urlencode

from django.contrib import admin
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import Truncator, capfirst
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from catalog.models import Product
from common.format import tenge
from common.sandbox import sandbox_in_use
from feeds.models import FeedFetch, FeedRun
from jobs import registry
from jobs.health import FAILING, LATE, OK, job_health
from jobs.models import JobRun
from orders.models import KaspiStatus, Order, StatusChange, customer_data
from orders.money import SOLD_STATUSES

from . import charts
from .alerts import open_problems
from .models import Alert

CHART_DAYS = 30
FEED_RUNS_SHOWN = 60
FAILURES_SHOWN = 8
ALERTS_SHOWN = 10
# The jobs whose history reads better on their own admin page than in the run rows.
JOB_PAGES = {"build_feed": FeedRun, "feed_fetched": FeedFetch}


@dataclass
class Tile:
    title: str
    colour: str  # green, amber or red
    state: str  # the colour in words, for people who cannot tell the colours apart
    at: datetime | None  # the last success
    age: str
    error: str = ""
    detail: str = ""
    url: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Waiting:
    label: str
    count: int
    url: str | None


@dataclass
class LogLine:
    """An open alert or a recent failure: when, what, the message, and where to read more."""

    at: datetime
    what: str
    message: str
    url: str | None


def admin_index(request):
    """The admin's own index page with the dashboard on top; urls.py wraps it in `admin_view`."""
    return admin.site.index(request, extra_context={"dashboard": dashboard(request=request)})


def dashboard(*, request, now=None):
    """Everything the page shows; links only to the admin pages this user may see."""
    now = now or timezone.now()
    alerts_url = _changelist_url(request, Alert)
    return {
        "alerts": _alerts(request),
        "alerts_url": alerts_url and f"{alerts_url}?state=open",
        "tiles": _tiles(request, now),
        "waiting": _waiting(request, now),
        "failures": _failures(request),
        "charts": _order_charts(now) + [_offers_chart(now)],
    }


# --- tiles: one a job of the registry, coloured by its health ----------------------------------
COLOURS = {OK: "green", LATE: "amber", FAILING: "red"}


def _tiles(request, now):
    """A tile for every job and expectation of the registry: a failing full sync is not hidden by a
    stock refresh that works, each has its own."""
    return [_tile(job_health(job, now), now, url=_job_url(request, job), notes=JOB_NOTES.get(job.name, list)())
            for job in registry.JOBS.values()]


def _tile(health, now, *, url, notes):
    detail = ""
    if health.streak > 1:
        detail = ngettext("failed %(count)d time in a row", "failed %(count)d times in a row",
                          health.streak) % {"count": health.streak}
    return Tile(
        capfirst(health.job.title), COLOURS[health.state], health.reason, health.last_ok, _age(health.last_ok, now),
        error=_short(health.last_error) if health.streak else "", detail=detail, url=url, notes=notes,
    )


def _fetch_notes():
    """Who fetched the feed: the last fetch counted as Kaspi's, and a newer one that was not (a person
    checking the URL), so nobody takes their own check for Kaspi's."""
    counted = FeedFetch.objects.by_kaspi().first()
    latest = FeedFetch.objects.first()
    notes = []
    if counted:
        notes.append(_("Last fetch: %(client)s") % {"client": _fetch_client(counted)})
    if latest and latest.client != FeedFetch.Client.PROGRAM:
        when = date_format(timezone.localtime(latest.at), "SHORT_DATETIME_FORMAT")
        notes.append(_("Not counted: %(who)s at %(when)s, %(client)s") % {
            "who": latest.get_client_display(), "when": when, "client": _fetch_client(latest)})
    if sandbox_in_use():
        notes.append(_("Demo: Kaspi's fetch is simulated by the sandbox."))
    return notes


def _fetch_client(fetch):
    agent = Truncator(fetch.user_agent).chars(120) or _("no User-Agent")
    return f"{fetch.client_ip or '—'} · {agent}"


JOB_NOTES = {"feed_fetched": _fetch_notes}


def _job_url(request, job):
    """Where to read a job's history: its own admin page when it has one, else its runs."""
    model = JOB_PAGES.get(job.name)
    if model is not None:
        return _changelist_url(request, model)
    runs = _changelist_url(request, JobRun)
    return runs and f"{runs}?{urlencode({'kind': job.name})}"


def _age(at, now):
    if not at:
        return _("never")
    if (now - at).total_seconds() < 60:
        return _("just now")  # timesince would say "0 minutes"
    return _("%(time)s ago") % {"time": timesince(at, now)}


def _short(message):
    if message is None:
        return ""
    return Truncator(message).chars(200) or _("no message")


# --- what waits for someone ---------------------------------------------------------------------
def _waiting(request, now):
    day_ago = now - timedelta(hours=24)
    changes = StatusChange.objects.aggregate(
        pending=Count("pk", filter=Q(state=StatusChange.State.PENDING)),
        approved=Count("pk", filter=Q(state=StatusChange.State.APPROVED)),
        failed=Count("pk", filter=Q(state=StatusChange.State.FAILED, finished_at__gte=day_ago)),
    )
    changes_url = _changelist_url(request, StatusChange)
    orders_url = _changelist_url(request, Order)
    products_url = _changelist_url(request, Product)

    def link(base, **query):
        return base and f"{base}?{urlencode(query)}"

    since = timezone.localtime(day_ago).isoformat(timespec="seconds")
    return [
        Waiting(_("Status changes awaiting approval"), changes["pending"], link(changes_url, state__exact="pending")),
        Waiting(_("Approved, not sent yet"), changes["approved"], link(changes_url, state__exact="approved")),
        Waiting(_("Status changes failed in 24 hours"), changes["failed"],
                link(changes_url, state__exact="failed", finished_at__gte=since)),
        Waiting(_("New orders to accept"), Order.objects.filter(status=KaspiStatus.APPROVED_BY_BANK).count(),
                link(orders_url, status__exact=KaspiStatus.APPROVED_BY_BANK)),
        Waiting(_("Kaspi Delivery orders to hand over"), Order.objects.to_hand_over().count(),
                link(orders_url, hand_over="waiting")),
        Waiting(_("Hand-overs to the courier overdue"), Order.objects.courier_overdue().count(),
                link(orders_url, hand_over="overdue")),
        Waiting(_("Returns on their way back"), Order.objects.returns_coming_back().count(),
                link(orders_url, returns="coming")),
        Waiting(_("Prices held by the guard"), Product.objects.filter(proposed_price__isnull=False).count(),
                link(products_url, proposed="yes")),
    ]


# --- open alerts --------------------------------------------------------------------------------
def _alerts(request):
    return [
        LogLine(alert.opened, alert.subject, _short(alert.message), _change_url(request, alert))
        for alert in open_problems()[:ALERTS_SHOWN]
    ]


# --- what went wrong lately ---------------------------------------------------------------------
def _failures(request):
    """The newest failures of every kind: the newest few of each, merged."""
    # A failed build has its own line below, with the feed's reason.
    syncs = (JobRun.objects.filter(outcome=JobRun.Outcome.FAILED).exclude(kind="build_feed")
             .order_by("-started")[:FAILURES_SHOWN])
    builds = FeedRun.objects.filter(
        outcome__in=[FeedRun.Outcome.FAILED, FeedRun.Outcome.INVALID, FeedRun.Outcome.HELD]
    ).order_by("-started")[:FAILURES_SHOWN]
    changes = StatusChange.objects.filter(
        state=StatusChange.State.FAILED, finished_at__isnull=False
    ).select_related("order").defer(*customer_data("order")).order_by("-finished_at")[:FAILURES_SHOWN]
    failures = (
        [LogLine(run.started, capfirst(run.title), run.error, _change_url(request, run)) for run in syncs]
        + [
            LogLine(run.started, _("Feed build: %(outcome)s") % {"outcome": run.get_outcome_display()}, run.reason,
                    _change_url(request, run))
            for run in builds
        ]
        + [
            LogLine(change.finished_at, _("Status change: %(change)s") % {"change": change}, change.message,
                    _change_url(request, change))
            for change in changes
        ]
    )
    failures.sort(key=lambda failure: failure.at, reverse=True)
    for failure in failures:
        failure.message = _short(failure.message)
    return failures[:FAILURES_SHOWN]


# --- charts -------------------------------------------------------------------------------------
def _order_charts(now):
    """Orders and revenue per local day for the last CHART_DAYS days, days without orders included."""
    zone = timezone.get_default_timezone()
    today = timezone.localdate(now, zone)
    days = [today - timedelta(days=n) for n in range(CHART_DAYS - 1, -1, -1)]
    rows = (
        Order.objects.filter(created_at_kaspi__gte=datetime.combine(days[0], time.min, tzinfo=zone))
        .annotate(day=TruncDate("created_at_kaspi", tzinfo=zone))
        .values("day")
        .annotate(orders=Count("pk"), revenue=Sum("total_price", filter=Q(status__in=SOLD_STATUSES)))
        .order_by()
    )
    by_day = {row["day"]: row for row in rows}
    counts = [by_day[day]["orders"] if day in by_day else 0 for day in days]
    revenue = [(by_day[day]["revenue"] or 0) if day in by_day else 0 for day in days]
    labels = [date_format(day, "d.m") for day in days]
    long_labels = [date_format(day, "SHORT_DATE_FORMAT") for day in days]

    orders_title = ngettext("Orders per day, last %(days)d day: %(total)d",
                            "Orders per day, last %(days)d days: %(total)d", CHART_DAYS) % {
        "days": CHART_DAYS, "total": sum(counts)}
    revenue_title = ngettext("Revenue per day, last %(days)d day: %(total)s",
                             "Revenue per day, last %(days)d days: %(total)s", CHART_DAYS) % {
        "days": CHART_DAYS, "total": tenge(sum(revenue)),
    }
    order_bars = [
        (label, count, ngettext("%(day)s: %(count)d order", "%(day)s: %(count)d orders", count)
         % {"day": day, "count": count})
        for label, day, count in zip(labels, long_labels, counts)
    ]
    revenue_bars = [
        (label, amount, f"{day}: {tenge(amount)}") for label, day, amount in zip(labels, long_labels, revenue)
    ]
    return [
        {"title": orders_title, "svg": charts.bar_chart(order_bars, label=orders_title)},
        {
            "title": revenue_title,
            "svg": charts.bar_chart(revenue_bars, label=revenue_title, fmt=tenge),
            "note": _("Cancelled and returned orders are not counted."),
        },
    ]


def _offers_chart(now):
    """Offers in each published feed: the last FEED_RUNS_SHOWN runs of the last CHART_DAYS days."""
    newest_first = (
        FeedRun.objects.filter(outcome=FeedRun.Outcome.PUBLISHED, started__gte=now - timedelta(days=CHART_DAYS))
        .order_by("-started")
        .values_list("started", "offers", "available_offers")[:FEED_RUNS_SHOWN]
    )
    runs = list(newest_first)[::-1]
    title = ngettext("Offers in published feeds, last %(days)d day", "Offers in published feeds, last %(days)d days",
                     CHART_DAYS) % {"days": CHART_DAYS}
    if not runs:
        return {"title": title, "svg": "", "empty": _("No feed was published in this time.")}
    started, offers, available = zip(*runs)
    labels = [date_format(timezone.localtime(at), "d.m H:i") for at in started]
    series = [(_("offers"), offers), (_("available"), available)]
    return {"title": title, "svg": charts.line_chart(labels, series, label=title)}


# --- links --------------------------------------------------------------------------------------
def _changelist_url(request, model):
    return _admin_url(request, model, "changelist")


def _change_url(request, obj):
    return _admin_url(request, type(obj), "change", obj.pk)


def _admin_url(request, model, view, *args):
    """A link into the admin, or None when the model has no admin page or this user may not view it."""
    if not admin.site.is_registered(model):
        return None
    if not admin.site.get_model_admin(model).has_view_permission(request):
        return None
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)
