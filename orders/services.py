"""Order services: import from Kaspi, status changes with approval, stock held by open orders."""

import logging
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from catalog.models import Product, SyncRun
from catalog.offers import clean_text, is_sellable
from catalog.runs import recorded_run
from catalog.supplier import parse_money
from kaspiconnect.locks import job_lock

from .kaspi import STATES, WINDOW_DAYS, KaspiClient, KaspiError
from .models import FINAL_STATUSES, OPEN_STATUSES, KaspiState, KaspiStatus, Order, OrderEntry, OrderEvent, StatusChange

log = logging.getLogger(__name__)

MAX_PAGES = 1000  # per state and window: a guard against an answer whose pageCount never ends
MAX_COMMENT = 1000  # Kaspi's limit for a cancellation comment
TARGET_STATUS = {
    StatusChange.Action.ACCEPT: KaspiStatus.ACCEPTED_BY_MERCHANT,
    StatusChange.Action.COMPLETE: KaspiStatus.COMPLETED,
    StatusChange.Action.CANCEL: KaspiStatus.CANCELLED,
}
ALLOWED_FROM = {
    StatusChange.Action.ACCEPT: [KaspiStatus.APPROVED_BY_BANK],
    StatusChange.Action.COMPLETE: [KaspiStatus.ACCEPTED_BY_MERCHANT],
    StatusChange.Action.CANCEL: [KaspiStatus.APPROVED_BY_BANK, KaspiStatus.ACCEPTED_BY_MERCHANT],
}


class OrderSyncError(Exception):
    """An import that could not finish; what it had stored stays, the watermark does not move."""


class StatusChangeRefused(Exception):
    """A change the rules (or Kaspi) refuse; the message says why, for people."""


# --- import ---------------------------------------------------------------------------------------


def orders_sync(*, days=None, client=None, progress=None):
    """Import every order created since the watermark (or the last `days` days), in every state.

    What each page brings is stored as it comes, so a failed run keeps its progress; the
    watermark only moves with a successful run.
    """
    client = client or KaspiClient()
    with job_lock("orders-sync"), recorded_run(SyncRun.Kind.ORDERS, client=client, failure=OrderSyncError) as run:
        until = timezone.now()
        since = until - timedelta(days=days) if days else _watermark(until)
        seen = set()
        for state in STATES:
            for low, high in windows(since, until):
                _import_window(client, state, low, high, seen, run)
            if progress:
                progress(f"{state}: {run.received} orders read so far")
        _refresh_older_open_orders(client, since, seen, run)
        _load_missing_entries(client, run.lines)
        orders_propose()
    return run


def _watermark(now):
    """The last successful import's start minus an overlap; the first run looks back ORDERS_FIRST_DAYS."""
    last = SyncRun.objects.filter(kind=SyncRun.Kind.ORDERS, outcome=SyncRun.Outcome.OK).order_by("-started").first()
    if last is None:
        return now - timedelta(days=settings.ORDERS_FIRST_DAYS)
    return last.started - timedelta(minutes=settings.ORDERS_OVERLAP_MINUTES)


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
        _store_page(data, seen, run)
        if not data or page + 1 >= _int(meta.get("pageCount")):
            return


def order_import_by_code(*, code, client=None):
    """Fetch one order (and its lines) from Kaspi by its number; None when Kaspi has no such order."""
    client = client or KaspiClient()
    resource = client.order_by_code(code)
    if resource is None:
        return None
    tally = SyncRun(kind=SyncRun.Kind.ORDERS)  # counts of this one-off import; not saved
    tally.lines = []
    _store_page([resource], set(), tally)
    order = Order.objects.get(kaspi_id=str(resource["id"]))
    if not order.entries_loaded:
        _store_entries(order, client.entries(order.kaspi_id))
    return order


def _refresh_older_open_orders(client, since, seen, run):
    """Orders created before the window can still change status at Kaspi: read the unfinished ones by code."""
    older = (Order.objects.filter(created_at_kaspi__lt=since).exclude(status__in=FINAL_STATUSES)
             .exclude(kaspi_id__in=seen))
    for code in older.values_list("code", flat=True):
        resource = client.order_by_code(code)
        if resource:
            _store_page([resource], seen, run)


def _store_page(resources, seen, run):
    """Store one page of orders, counting on `run`; an order stored as it is costs no write."""
    page = []
    for resource in resources:
        run.received += 1
        try:
            fields = order_fields(resource)
        except (KeyError, TypeError, ValueError) as exc:
            run.skipped += 1
            run.lines.append(f"skipped a malformed order: {exc!r}"[:300])
            continue
        if fields["kaspi_id"] not in seen:
            seen.add(fields["kaspi_id"])
            page.append(fields)
    stored = {order.kaspi_id: order for order in Order.objects.filter(kaspi_id__in=[f["kaspi_id"] for f in page])}
    for fields in page:
        order = stored.get(fields["kaspi_id"])
        outcome = "unchanged" if order is not None and not _changed_fields(order, fields) else _upsert_order(fields)
        setattr(run, outcome, getattr(run, outcome) + 1)


def _changed_fields(order, fields):
    return {name: value for name, value in fields.items() if getattr(order, name) != value}


def _upsert_order(fields):
    """Create or update one order; record a status or state change in its history."""
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(kaspi_id=fields["kaspi_id"]).first()
        if order is None:
            try:
                with transaction.atomic():
                    order = Order.objects.create(**fields)
            except IntegrityError:  # a concurrent import created it first
                return "unchanged"
            OrderEvent.objects.create(order=order, status=order.status, state=order.state,
                                      text=_("imported from Kaspi: %(status)s / %(state)s")
                                      % {"status": _label(KaspiStatus, order.status),
                                         "state": _label(KaspiState, order.state)})
            return "created"
        changed = _changed_fields(order, fields)
        if not changed:
            return "unchanged"
        if "status" in changed or "state" in changed:
            OrderEvent.objects.create(
                order=order, status=fields["status"], state=fields["state"],
                text=_("Kaspi: %(old)s → %(new)s") % {
                    "old": f"{_label(KaspiStatus, order.status)} / {_label(KaspiState, order.state)}",
                    "new": f"{_label(KaspiStatus, fields['status'])} / {_label(KaspiState, fields['state'])}",
                },
            )
        Order.objects.filter(pk=order.pk).update(**changed, updated_at=timezone.now())
        return "updated"


def order_fields(resource):
    """Order columns from one JSON:API `orders` resource; KeyError/ValueError when it is unusable."""
    attrs = resource["attributes"]
    customer = attrs.get("customer") if isinstance(attrs.get("customer"), dict) else {}
    name = customer.get("name") or " ".join(filter(None, [customer.get("firstName"), customer.get("lastName")]))
    kaspi_id, code = str(resource["id"]), str(attrs["code"])
    if not kaspi_id or not code or not attrs.get("status"):
        raise ValueError("an order without id, code or status")
    return {
        "kaspi_id": kaspi_id,
        "code": code[:32],
        "state": str(attrs.get("state") or "")[:32],
        "status": str(attrs["status"])[:40],
        "total_price": _money(attrs.get("totalPrice")),
        "delivery_cost": _money(attrs.get("deliveryCost")),
        "payment_mode": str(attrs.get("paymentMode") or "")[:32],
        "delivery_mode": str(attrs.get("deliveryMode") or "")[:40],
        "is_kaspi_delivery": bool(attrs.get("isKaspiDelivery")),
        "delivery_address": _address(attrs.get("deliveryAddress")),
        "pickup_point_id": str(attrs.get("pickupPointId") or "")[:64],
        "signature_required": bool(attrs.get("signatureRequired")),
        "pre_order": bool(attrs.get("preOrder")),
        "customer_name": clean_text(name, 255),
        "customer_phone": clean_text(customer.get("cellPhone"), 32),
        "created_at_kaspi": _moment(attrs["creationDate"]),
        "approved_by_bank_at": _moment(attrs.get("approvedByBankDate")),
        "planned_delivery_date": _moment(attrs.get("plannedDeliveryDate")),
    }


def _load_missing_entries(client, notes):
    """Read the lines of every order that has none yet; a failure leaves it for the next run."""
    for order in Order.objects.filter(entries_loaded=False).only("id", "kaspi_id", "code"):
        try:
            resources = client.entries(order.kaspi_id)
        except KaspiError as exc:
            if exc.temporary:
                raise
            notes.append(f"order {order.code}: lines not read: {exc}")
            continue
        _store_entries(order, resources)


def _store_entries(order, resources):
    rows = []
    for number, resource in enumerate(resources, start=1):
        attrs = resource["attributes"]
        offer = attrs.get("offer") if isinstance(attrs.get("offer"), dict) else {}
        quantity = max(1, _int(attrs.get("quantity")))
        unit = _money(attrs.get("basePrice"))
        rows.append(OrderEntry(
            order=order,
            entry_number=_int(attrs.get("entryNumber")) or number,
            sku=clean_text(offer.get("code"), 64),
            name=clean_text(offer.get("name"), 1000),
            quantity=quantity,
            unit_price=unit,
            total_price=_money(attrs.get("totalPrice")) or unit * quantity,
        ))
    products = dict(Product.objects.filter(sku__in=[row.sku for row in rows]).values_list("sku", "id"))
    for row in rows:
        row.product_id = products.get(row.sku)
    with transaction.atomic():
        OrderEntry.objects.bulk_create(rows, ignore_conflicts=True)
        Order.objects.filter(pk=order.pk).update(entries_loaded=True)


def _money(value):
    return parse_money(value) or 0


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _moment(epoch_ms):
    if epoch_ms in (None, ""):
        return None
    return datetime.fromtimestamp(int(epoch_ms) / 1000, tz=UTC)


def _address(value):
    if isinstance(value, dict):
        return clean_text(value.get("formattedAddress") or ", ".join(str(v) for v in value.values() if v))
    return clean_text(value)


# --- stock held by open orders -------------------------------------------------------------------


def reserved_quantities():
    """SKU → units in orders the buyer paid for and the shop has not handed over yet."""
    rows = (OrderEntry.objects.filter(order__status__in=OPEN_STATUSES)
            .values("sku").annotate(units=Sum("quantity")).values_list("sku", "units"))
    return dict(rows)


# --- proposals ------------------------------------------------------------------------------------


def orders_propose():
    """Propose `accept` for each new paid order whose lines are all in stock, `cancel` otherwise.

    Stock goes first come, first served: an order counts against it what accepted orders hold and
    what paid orders placed before it ask for, never what later orders ask for.
    """
    waiting = (Order.objects.filter(status=KaspiStatus.APPROVED_BY_BANK, entries_loaded=True)
               .exclude(status_changes__isnull=False).prefetch_related("entries__product")
               .order_by("created_at_kaspi", "pk"))
    count = 0
    for order in waiting:
        held = _held_before(order)
        short = [entry.sku for entry in order.entries.all() if not _in_stock(entry, held)]
        try:
            if short:
                status_change_request(order=order, action=StatusChange.Action.CANCEL, user=None, proposed=True,
                                      reason=StatusChange.Reason.MERCHANT_OUT_OF_STOCK,
                                      comment=(_("not in stock: %(skus)s") % {"skus": ", ".join(short)})[:MAX_COMMENT])
            else:
                status_change_request(order=order, action=StatusChange.Action.ACCEPT, user=None, proposed=True)
            count += 1
        except StatusChangeRefused:
            continue  # someone acted on the order meanwhile
    return count


def _held_before(order):
    """SKU → units held by accepted orders and by paid orders placed before `order`."""
    earlier = Q(order__status=KaspiStatus.APPROVED_BY_BANK) & (
        Q(order__created_at_kaspi__lt=order.created_at_kaspi)
        | Q(order__created_at_kaspi=order.created_at_kaspi, order__pk__lt=order.pk)
    )
    rows = (OrderEntry.objects.filter(Q(order__status=KaspiStatus.ACCEPTED_BY_MERCHANT) | earlier)
            .values("sku").annotate(units=Sum("quantity")).values_list("sku", "units"))
    return dict(rows)


def _in_stock(entry, held):
    """Enough stock for this line once what `held` counts is set aside."""
    product = entry.product
    if product is None or not is_sellable(publish=product.publish, at_supplier=product.at_supplier,
                                          price_on_request=product.price_on_request,
                                          price_locked=product.price_locked):
        return False
    return product.stock - held.get(entry.sku, 0) >= entry.quantity


# --- status changes --------------------------------------------------------------------------------


def status_change_request(*, order, action, user, reason="", comment="", security_code="", proposed=False):
    """Ask for a status change; it waits for a staff member's approval before anything is sent."""
    _check_transition(order, action, reason, comment, security_code)
    with transaction.atomic():
        active = StatusChange.objects.select_for_update().filter(order=order, state__in=StatusChange.ACTIVE).first()
        if active and active.state != StatusChange.State.PENDING:
            raise StatusChangeRefused(
                _("order %(code)s: a change is already being sent to Kaspi") % {"code": order.code}
            )
        if active and _same_request(active, action, reason, comment, security_code):
            return _approve_if_allowed(active, user) if active.proposed else active
        if active:
            active.state, active.finished_at = StatusChange.State.SUPERSEDED, timezone.now()
            active.save(update_fields=["state", "finished_at"])
        try:
            with transaction.atomic():
                change = StatusChange.objects.create(order=order, action=action, reason=reason, comment=comment,
                                                     security_code=security_code, proposed=proposed,
                                                     requested_by=user)
        except IntegrityError:
            raise StatusChangeRefused(
                _("order %(code)s: another change was requested at the same time") % {"code": order.code}
            ) from None
        text = _("%(action)s proposed%(detail)s") if proposed else _("%(action)s requested%(detail)s")
        _event(order, text % {"action": change.get_action_display(), "detail": _detail(change)}, user)
    return change


def _same_request(change, action, reason, comment, security_code):
    return (change.action, change.reason, change.comment, change.security_code) == (
        action, reason, comment, security_code)


def _approve_if_allowed(change, user):
    """Asking by hand for what is already proposed approves it, for someone allowed to approve."""
    if user is None or not user.has_perm("orders.approve_statuschange"):
        return change
    try:
        return status_change_approve(change=change, user=user)
    except StatusChangeRefused:
        return change  # e.g. the four-eyes rule: it stays pending for someone else


def _check_transition(order, action, reason, comment, security_code):
    if action not in ALLOWED_FROM:
        raise StatusChangeRefused(_("unknown action %(action)s") % {"action": repr(action)})
    if order.status not in ALLOWED_FROM[action]:
        raise StatusChangeRefused(_("order %(code)s is %(status)s: Kaspi allows %(action)s only from %(allowed)s") % {
            "code": order.code, "status": order.get_status_display(), "action": StatusChange.Action(action).label,
            "allowed": get_text_list([status.label for status in ALLOWED_FROM[action]], _("or")),
        })
    if action != StatusChange.Action.CANCEL and (reason or comment):
        raise StatusChangeRefused(_("a reason and a comment go only with a cancellation"))
    if action != StatusChange.Action.COMPLETE and security_code:
        raise StatusChangeRefused(_("the buyer's code goes only with a completion"))
    if action == StatusChange.Action.CANCEL and reason not in StatusChange.Reason.values:
        reasons = ", ".join(str(label) for label in StatusChange.Reason.labels)
        raise StatusChangeRefused(_("a cancellation needs one of Kaspi's reasons: %(reasons)s") % {"reasons": reasons})
    if len(comment) > MAX_COMMENT:
        raise StatusChangeRefused(
            _("a cancellation comment may be at most %(limit)d characters") % {"limit": MAX_COMMENT}
        )
    if security_code and not security_code.isdigit():
        raise StatusChangeRefused(_("the buyer's code is digits only"))


def status_change_approve(*, change, user, queue=True):
    """Approve a pending change; with `queue`, send it from the queue once the approval is committed."""
    if not user.has_perm("orders.approve_statuschange"):
        raise StatusChangeRefused(_("%(user)s may not approve status changes") % {"user": user})
    if settings.ORDERS_FOUR_EYES and change.requested_by_id == user.pk:
        raise StatusChangeRefused(_("the person who requested a change may not approve it (four-eyes rule)"))
    updated = StatusChange.objects.filter(pk=change.pk, state=StatusChange.State.PENDING).update(
        state=StatusChange.State.APPROVED, approved_by=user, approved_at=timezone.now()
    )
    if not updated:
        change.refresh_from_db()
        raise StatusChangeRefused(
            _("this change is %(state)s, not awaiting approval") % {"state": change.get_state_display()}
        )
    change.refresh_from_db()
    _event(change.order, _("%(action)s approved") % {"action": change.get_action_display()}, user)
    if queue:
        transaction.on_commit(lambda: _queue_send(change.pk))
    return change


def status_change_reject(*, change, user):
    if not user.has_perm("orders.approve_statuschange"):
        raise StatusChangeRefused(_("%(user)s may not reject status changes") % {"user": user})
    updated = StatusChange.objects.filter(pk=change.pk, state=StatusChange.State.PENDING).update(
        state=StatusChange.State.REJECTED, approved_by=user, finished_at=timezone.now()
    )
    if not updated:
        raise StatusChangeRefused(_("only a change awaiting approval can be rejected"))
    _event(change.order, _("%(action)s rejected") % {"action": change.get_action_display()}, user)


def _queue_send(change_id):
    from django_q.tasks import async_task

    async_task("orders.tasks.send_status_change", change_id, task_name=f"status change {change_id}")


def status_change_send(*, change_id, client=None):
    """Send one approved change to Kaspi exactly once.

    A change whose earlier attempt got no answer is first read back from Kaspi: if the order
    already has the target status the change is done, and nothing is sent again.
    """
    client = client or KaspiClient()
    if not client.token:  # before claiming: a missing setting must not fail the changes themselves
        raise KaspiError("KASPI_TOKEN is not set", temporary=False)
    change = StatusChange.objects.select_related("order").get(pk=change_id)
    claimable = [StatusChange.State.APPROVED, StatusChange.State.UNCERTAIN]
    claimed = StatusChange.objects.filter(pk=change.pk, state__in=claimable).update(
        state=StatusChange.State.SENDING, sent_at=timezone.now(), attempts=F("attempts") + 1
    )
    if not claimed:
        return change  # another worker has it, or it is finished
    change.refresh_from_db()
    tried_before = change.attempts > 1  # an earlier attempt may have been applied without an answer
    try:
        if tried_before and not change.is_code_request and _applied_at_kaspi(client, change):
            return _finish(change, StatusChange.State.DONE, _("found applied at Kaspi when read back"))
        client.set_status(order_id=change.order.kaspi_id, code=change.order.code, status=TARGET_STATUS[change.action],
                          reason=change.reason, comment=change.comment, send_code=change.is_code_request,
                          security_code=change.security_code)
    except KaspiError as exc:
        if not exc.temporary:
            return _finish(change, StatusChange.State.FAILED, str(exc))
        if change.attempts >= settings.STATUS_MAX_ATTEMPTS:
            if not change.is_code_request and _read_back_quietly(client, change):
                return _finish(change, StatusChange.State.DONE, _("found applied at Kaspi when read back"))
            gave_up = ngettext(
                "gave up after %(count)d attempt: %(error)s", "gave up after %(count)d attempts: %(error)s",
                change.attempts,
            )
            return _finish(change, StatusChange.State.FAILED, gave_up % {"count": change.attempts, "error": exc})
        change.state, change.message = StatusChange.State.UNCERTAIN, str(exc)
        change.save(update_fields=["state", "message"])
        return change
    if change.is_code_request:
        return _finish(change, StatusChange.State.DONE, _("Kaspi sent the buyer a code; enter it to complete"))
    return _finish(change, StatusChange.State.DONE, _("accepted by Kaspi"))


def _applied_at_kaspi(client, change):
    resource = client.order_by_code(change.order.code)
    status = (resource or {}).get("attributes", {}).get("status")
    return status == TARGET_STATUS[change.action] or (
        change.action == StatusChange.Action.CANCEL and status == KaspiStatus.CANCELLING
    )


def _read_back_quietly(client, change):
    try:
        return _applied_at_kaspi(client, change)
    except KaspiError:
        return False


def _finish(change, state, message):
    change.state, change.message, change.finished_at = state, message[:2000], timezone.now()
    change.save(update_fields=["state", "message", "finished_at"])
    order = change.order
    if state == StatusChange.State.DONE and not change.is_code_request:
        order.status = TARGET_STATUS[change.action]
        order.save(update_fields=["status", "updated_at"])
    _event(order, _("%(action)s: %(state)s — %(message)s") % {
        "action": change.get_action_display(), "state": change.get_state_display(), "message": message}, None)
    return change


def status_changes_push(*, client=None):
    """Send every approved change, and settle those whose answer was lost (also a stuck 'sending')."""
    client = client or KaspiClient()
    stale = timezone.now() - timedelta(minutes=10)
    StatusChange.objects.filter(state=StatusChange.State.SENDING, sent_at__lt=stale).update(
        state=StatusChange.State.UNCERTAIN, message=_("the sending worker stopped without an answer"))
    due = StatusChange.objects.filter(state__in=[StatusChange.State.APPROVED, StatusChange.State.UNCERTAIN])
    results = [status_change_send(change_id=pk, client=client) for pk in due.values_list("pk", flat=True)]
    return {state: sum(1 for change in results if change.state == state) for state in StatusChange.State.values}


def _label(choices, value):
    return choices(value).label if value in choices.values else value


def _event(order, text, user):
    OrderEvent.objects.create(order=order, status=order.status, state=order.state, text=text, user=user)


def _detail(change):
    parts = [change.get_reason_display() if change.reason else "", change.comment]
    text = "; ".join(part for part in parts if part)
    return f" ({text})" if text else ""

