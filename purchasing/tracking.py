"""The job `sync_supplier_orders`: proposals for accepted Kaspi orders, the approved ones sent, and
Al-Style's statuses followed; an order Al-Style cancels or shorts proposes cancelling the Kaspi
lines it covered, through the status changes staff approve."""

import logging
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.alstyle import ORDER_TYPES, AlstyleClient, AlstyleError
from jobs.runs import locked_run
from orders.changes import StatusChangeRefused, status_change_request
from orders.models import OPEN_STATUSES, StatusChange, customer_data

from .models import Coverage, SupplierOrder, SupplierOrderEvent
from .sending import cart_quantities, day_of, supplier_orders_send_due, whole_number
from .services import (
    SupplierOrderRefused,
    short_lines,
    supplier_order_approve,
    supplier_order_cancelled,
    supplier_orders_propose,
    supplier_orders_withdraw,
)

log = logging.getLogger(__name__)

JOB = "sync_supplier_orders"
State = SupplierOrder.State
Status = SupplierOrder.AlstyleStatus
MAX_PAGES = 5  # per order type: open supplier orders are among Al-Style's newest
MAX_COMMENT = 1000


def supplier_orders_sync(*, client=None):
    """One sweep; a second at the same time raises `JobBusy`. The run row counts and notes what it did."""
    client = client or AlstyleClient()
    with locked_run(JOB, client=client) as run:
        withdrawn = supplier_orders_withdraw()
        run.created = supplier_orders_propose()
        if settings.SUPPLIER_AUTO_APPROVE:
            _approve_proposals()
        sent = supplier_orders_send_due(client=client)
        run.updated = supplier_orders_track(client=client)
        cancellations = kaspi_cancellations_propose()
        run.received = len(sent)
        run.lines = [f"supplier order {so.pk}: {so.state} {so.message}"[:300] for so in sent]
        run.lines += [f"withdrawn from: {withdrawn}", f"Kaspi cancellations proposed: {cancellations}"]
    return run


def _approve_proposals():
    for supplier_order in SupplierOrder.objects.filter(state=State.PROPOSED):
        try:
            supplier_order_approve(supplier_order=supplier_order, user=None, queue=False)
        except SupplierOrderRefused as exc:
            log.info("supplier order %s not approved automatically: %s", supplier_order.pk, exc)


# --- Al-Style's statuses ------------------------------------------------------------------------

def supplier_orders_track(*, client):
    """Read Al-Style's order lists (every type) for the supplier orders still open there and record
    each status change; how many changed. Nothing open: no request."""
    tracked = list(SupplierOrder.objects.filter(state__in=[State.SENT, State.CANCELLED], alstyle_id__isnull=False)
                   .exclude(alstyle_status__in=SupplierOrder.FINAL_STATUSES))
    if not tracked:
        return 0
    since = min(timezone.localdate(so.sent_at or so.created_at) for so in tracked) - timedelta(days=1)
    found = _elements(client, {supplier_order.tracked_id for supplier_order in tracked}, since)
    changed = 0
    for supplier_order in tracked:
        element = found.get(supplier_order.tracked_id)
        if element is not None and _record(client, supplier_order, element):
            changed += 1
    return changed


def _elements(client, wanted, since):
    """Al-Style order id → its element in `api/orders`, for the ids wanted, through every type's pages
    (the newest first: a type's pages are read back to orders placed before `since`, no further)."""
    found = {}
    for kind in ORDER_TYPES:
        for page in range(1, MAX_PAGES + 1):
            elements, pagination = client.orders(type=kind, page=page)
            for element in elements:
                number = whole_number(element.get("id"))
                if number in wanted:
                    found[number] = element
            if wanted <= set(found):
                return found
            last = whole_number(pagination.get("totalPages") or pagination.get("pageCount"))  # None: not said
            oldest = day_of(elements[-1].get("date")) if elements else None
            if not elements or (last and page >= last) or (oldest and oldest < since):
                break
    return found


def _record(client, supplier_order, element):
    status, merged = str(element.get("status") or ""), whole_number(element.get("merge_with"))
    if status not in Status.values:
        log.warning("supplier order %s: unknown Al-Style status %r", supplier_order.pk, status)
        return False
    merged = merged if status == Status.UN and merged and merged != supplier_order.tracked_id else None
    if status == supplier_order.alstyle_status and not merged:
        return False
    before = supplier_order.get_alstyle_status_display() or "—"
    supplier_order.alstyle_status, supplier_order.alstyle_status_at = status, timezone.now()
    supplier_order.merged_with = merged or supplier_order.merged_with
    supplier_order.save(update_fields=["alstyle_status", "alstyle_status_at", "merged_with"])
    after = supplier_order.get_alstyle_status_display()
    text = _("Al-Style: %(before)s → %(after)s") % {"before": before, "after": after}
    if merged:
        text += " " + _("(into order №%(number)s)") % {"number": merged}
    SupplierOrderEvent.note(supplier_order, text)
    if status == Status.DA:
        supplier_order_cancelled(supplier_order, _("Al-Style cancelled order №%(number)s: proposing to cancel the "
                                                   "Kaspi lines it covered") % {"number": supplier_order.alstyle_id},
                                 notify=True)
    elif status != Status.UN and not supplier_order.merged_with and supplier_order.state == State.SENT:
        try:
            _check_delivered(client, supplier_order)
        except AlstyleError as exc:  # the status stands; the next change reads the order again
            log.warning("supplier order %s: Al-Style's order not read: %s", supplier_order.pk, exc)
    return True


def _check_delivered(client, supplier_order):
    """Compare Al-Style's order with what was sent: units it will not supply are short for the Kaspi lines."""
    delivered = cart_quantities(client.order(supplier_order.alstyle_id).get("cart"))
    if not delivered:  # unreadable, or no lines at all: an order Al-Style ships is never empty
        return
    lines = list(supplier_order.lines.filter(quantity__gt=0))
    for line in lines:
        line.delivered = delivered.get(line.article, 0)
        line.save(update_fields=["delivered"])
    shorted = short_lines(supplier_order, delivered, flag_short=True)
    if shorted:
        SupplierOrderEvent.note(supplier_order, _("Al-Style's order №%(number)s holds fewer units than were sent: "
                                                  "%(lines)s; proposing to cancel them at Kaspi") % {
            "number": supplier_order.alstyle_id,
            "lines": ", ".join(f"{article} −{units}" for article, units in shorted.items())}, notify=True)


# --- what Al-Style will not deliver, cancelled at Kaspi -----------------------------------------

def kaspi_cancellations_propose():
    """Propose cancelling the Kaspi lines (or whole orders) Al-Style will not supply, one change at a
    time per order like `orders_propose`; a decision taken since (a rejection) is not asked again."""
    rows = (Coverage.objects.filter(short_at__isnull=False, keep__isnull=False, entry__isnull=False,
                                    order__status__in=OPEN_STATUSES).select_related("order", "supplier_order")
            .defer(*customer_data("order")))
    by_order = defaultdict(list)
    for row in rows:
        by_order[row.order].append(row)
    return sum(1 for order, short in by_order.items() if _propose_cancellation(order, short))


def _propose_cancellation(order, short):
    since = min(row.short_at for row in short)
    decided = (StatusChange.objects.filter(order=order).filter(state__in=StatusChange.ACTIVE)
               | StatusChange.objects.filter(order=order, requested_at__gte=since)
               .exclude(action=StatusChange.Action.CANCEL_ENTRY, state=StatusChange.State.DONE)
               .exclude(state=StatusChange.State.SUPERSEDED))
    if decided.exists():
        return False
    keep = {}
    for row in short:
        keep[row.entry_id] = min(keep.get(row.entry_id, row.keep), row.keep)
    entries = list(order.entries.exclude(kaspi_id=None))
    due = [entry for entry in entries if entry.pk in keep and entry.quantity > keep[entry.pk]]
    if not due:
        return False
    numbers = ", ".join(sorted({str(row.supplier_order.alstyle_id) for row in short}))
    comment = (_("the supplier cannot deliver (Al-Style order №%(numbers)s)") % {"numbers": numbers})[:MAX_COMMENT]
    left = sum(min(entry.quantity, keep.get(entry.pk, entry.quantity)) for entry in entries)
    request = {"action": StatusChange.Action.CANCEL} if left == 0 else {
        "action": StatusChange.Action.CANCEL_ENTRY, "entry_id": due[0].kaspi_id, "keep": keep[due[0].pk]}
    try:
        status_change_request(order=order, user=None, proposed=True, reason=StatusChange.Reason.MERCHANT_OUT_OF_STOCK,
                              comment=comment, **request)
    except StatusChangeRefused as exc:
        log.info("order %s: no cancellation proposed: %s", order.code, exc)
        return False
    return True
