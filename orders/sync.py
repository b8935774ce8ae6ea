"""The order import job: every order created since the watermark, in every state, and what follows."""

from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError
from django.db.models import F, Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from jobs.models import JobRun
from jobs.runs import locked_run

from .changes import orders_propose, status_changes_settle
from .kaspi import STATES, WINDOW_DAYS, KaspiClient, KaspiError
from .models import FINAL_STATUSES, OPEN_STATUSES, KaspiStatus, Order
from .reading import MALFORMED, order_store, store_entries, store_page, whole_or_zero

JOB = "sync_orders"
MAX_PAGES = 1000  # per state and window: a guard against an answer whose pageCount never ends
# Old unfinished orders read by number in one run at most; the longest unread go first, so a crowd that
# fell due together spreads over a few runs and stays spread.
STALE_PER_RUN = 50
FINISHED_LINES_PER_RUN = 500  # a routine run reads at most this many finished orders' lines (a backlog spreads)
RETURN_DAYS = 14  # a completed order may still come back this long after its delivery
class OrderSyncError(Exception):
    """An import that could not finish; what it had stored stays, the watermark does not move."""


def orders_sync(*, days=None, client=None, progress=None):
    """Import every order created since `_since` (or the last `days` days), in every state.

    What each page brings is stored as it comes, so a failed run keeps its progress; the
    watermark only moves with a successful run. A routine run re-reads the last 14 days in pages,
    so what it costs grows with the orders of those days, not with every order still open.
    """
    client = client or KaspiClient()
    with locked_run(JOB, client=client, failure=OrderSyncError) as run:
        until = timezone.now()
        since = until - timedelta(days=days) if days else _since(until)
        seen = set()
        for state in STATES:
            for low, high in windows(since, until):
                _import_window(client, state, low, high, seen, run)
            if progress:
                progress(ngettext("%(state)s: %(count)d order read so far", "%(state)s: %(count)d orders read so far",
                                  run.received) % {"state": state, "count": run.received})
        _refresh_stale_orders(client, since, seen, run)
        _load_missing_entries(client, run.lines)
        status_changes_settle(client=client)
        orders_propose()
        _load_missing_entries(client, run.lines, finished=True, limit=None if days else FINISHED_LINES_PER_RUN)
    return run


def _since(now):
    """Where a routine run starts reading.

    The first run looks back ORDERS_FIRST_DAYS. Later ones re-read the last 14 days (statuses of
    recent orders change there), from further back when the last successful run is older, but
    never before the oldest order here: history the first run left out stays out.
    """
    last = JobRun.objects.filter(kind=JOB, outcome=JobRun.Outcome.OK).order_by("-started").first()
    if last is None:
        return now - timedelta(days=settings.ORDERS_FIRST_DAYS)
    watermark = last.started - timedelta(minutes=settings.ORDERS_OVERLAP_MINUTES)
    recent = now - timedelta(days=WINDOW_DAYS) + timedelta(milliseconds=1)  # one window per state
    oldest = Order.objects.aggregate(oldest=Min("created_at_kaspi"))["oldest"] or watermark
    return min(watermark, max(recent, oldest))


def windows(since, until):
    """[low, high] pairs covering since..until, none wider than Kaspi's 14 days (inclusive bounds)."""
    step = timedelta(days=WINDOW_DAYS) - timedelta(milliseconds=1)
    low = since
    while low <= until:
        high = min(low + step, until)
        yield low, high
        low = high + timedelta(milliseconds=1)


def _import_window(client, state, low, high, seen, run):
    for page in range(MAX_PAGES):
        data, meta = client.orders_page(state=state, since=low, until=high, page=page)
        store_page(data, seen, run)
        if not data or page + 1 >= whole_or_zero(meta.get("pageCount")):
            return


def order_import_by_code(*, code, client=None):
    """Fetch one order (and its lines) from Kaspi by its number; None when Kaspi has no such order."""
    client = client or KaspiClient()
    resource = client.order_by_code(code)
    if resource is None:
        return None
    order = order_store(resource)
    if order is not None and not order.entries_loaded:
        store_entries(order, client.entries(order.kaspi_id))
        order.refresh_from_db()
    return order


def _refresh_stale_orders(client, since, seen, run):
    """Orders created before the window still change at Kaspi: delivery, cancellations, returns.

    Each unfinished one, and each completed one that may still come back, is read by its number
    at most once per ORDERS_STALE_REFRESH_HOURS, so a routine run costs a request only for the few
    that are due, not for every open order. One that cannot be read now waits its next turn.
    """
    now = timezone.now()
    returnable = Q(status=KaspiStatus.COMPLETED) & Q(
        Q(courier_transmission_date__gte=now - timedelta(days=RETURN_DAYS))
        | Q(courier_transmission_date__isnull=True, planned_delivery_date__gte=now - timedelta(days=RETURN_DAYS)))
    due = (Order.objects.filter(created_at_kaspi__lt=since).filter(~Q(status__in=FINAL_STATUSES) | returnable)
           .filter(Q(refreshed_at__isnull=True)
                   | Q(refreshed_at__lt=now - timedelta(hours=settings.ORDERS_STALE_REFRESH_HOURS)))
           .order_by(F("refreshed_at").asc(nulls_first=True), "pk"))
    for pk, code in due.values_list("pk", "code")[:STALE_PER_RUN]:
        Order.objects.filter(pk=pk).update(refreshed_at=now)  # even when it fails: to the back of the queue
        try:
            resource = client.order_by_code(code)
        except KaspiError as exc:
            run.lines.append((_("order %(code)s: not read again: %(error)s") % {"code": code, "error": exc})[:300])
            continue
        if resource:
            store_page([resource], seen, run)


LINES_FIRST = [*OPEN_STATUSES, KaspiStatus.CANCELLING, KaspiStatus.KASPI_DELIVERY_RETURN_REQUESTED]
FAILURES_IN_A_ROW = 3  # temporary failures reading lines before the run gives up: Kaspi is down, not one order


def _load_missing_entries(client, notes, *, finished=False, limit=None):
    """Read the lines of orders that have none yet (or must be read again).

    Lines that decide proposals, reservations and returns are read first and all of them; a
    finished orders' backlog (a first import, healing an old installation) may be spread over
    runs with `limit`. An order whose lines cannot be read is noted and waits for the next run;
    only several temporary failures in a row stop the run.
    """
    pending = Order.objects.filter(entries_loaded=False)
    pending = pending.exclude(status__in=LINES_FIRST) if finished else pending.filter(status__in=LINES_FIRST)
    pending = pending.order_by("-created_at_kaspi").only("id", "kaspi_id", "code", "status")
    failures = 0
    for order in list(pending[:limit] if limit else pending):
        try:
            store_entries(order, client.entries(order.kaspi_id))
            failures = 0
        except KaspiError as exc:
            failures = failures + 1 if exc.temporary else 0
            if failures >= FAILURES_IN_A_ROW:
                raise
            notes.append((_("order %(code)s: lines not read: %(error)s") % {"code": order.code, "error": exc})[:300])
        except (*MALFORMED, DatabaseError) as exc:
            notes.append((_("order %(code)s: lines not read, a malformed line: %(error)r") % {
                "code": order.code, "error": exc})[:300])
