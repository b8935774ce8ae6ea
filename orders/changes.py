"""Status changes: proposed or requested, approved by staff, sent to Kaspi once, settled by what Kaspi has."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone
from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from common.log import security_event
from jobs.locks import holder_alive, holder_id
from jobs.runs import locked_run

from .kaspi import KaspiClient, KaspiError, answer_errors, answer_resource
from .models import OPEN_STATUSES, KaspiStatus, Order, OrderEvent, StatusChange, customer_data
from .reading import MALFORMED, fields_or_none, order_fields, order_store, store_entries
from .stock import held_before, order_take_back_returned, supplier_units

log = logging.getLogger(__name__)

MAX_COMMENT = 1000  # Kaspi's limit for a cancellation comment
MAX_PLACES = 99  # parcels of one Kaspi Delivery hand-over
STALE_SENDING = timedelta(minutes=10)  # a sender on another machine that says nothing this long has died
APPLY_HOURS = 1  # a part cancellation Kaspi accepted but has not applied after this long has failed
class StatusChangeRefused(Exception):
    """A change the rules (or Kaspi) refuse; the message says why, for people."""


def orders_propose():
    """Propose what to do with each new paid order: accept it when every line is in stock.

    When only some lines (or some units) are short, the proposal cancels just those, one line at a
    time, and accepts the rest afterwards; when nothing can be delivered, it cancels the order.
    Stock goes first come, first served: an order counts against it what accepted orders hold and
    what paid orders placed before it ask for, never what later orders ask for.
    """
    # Decided: anything but part cancellations done (the rest still waits) and proposals replaced by hand.
    decided = (StatusChange.objects.filter(order=OuterRef("pk"))
               .exclude(action=StatusChange.Action.CANCEL_ENTRY, state=StatusChange.State.DONE)
               .exclude(state=StatusChange.State.SUPERSEDED))
    waiting = (Order.objects.filter(status=KaspiStatus.APPROVED_BY_BANK, entries_loaded=True)
               .exclude(Exists(decided)).prefetch_related("entries__product").order_by("created_at_kaspi", "pk"))
    count = 0
    for order in waiting:
        if not order.entries.all():
            continue  # Kaspi gave no lines: nothing to decide on
        try:
            status_change_request(order=order, user=None, proposed=True, **_proposal(order))
            count += 1
        except StatusChangeRefused:
            continue  # someone acted on the order meanwhile
    return count


def _proposal(order):
    """The request to propose for `order`: accept, cancel one short line, or cancel the whole order."""
    held = held_before(order)
    short, deliverable = [], 0
    for entry in order.entries.all():
        quantity = entry.quantity
        can = min(quantity, entry.own_units + max(0, supplier_units(entry, held)))
        held[entry.product_id] = held.get(entry.product_id, 0) + max(0, can - entry.own_units)  # one product, two lines
        deliverable += can
        if can < quantity:
            short.append((entry, can))
    if not short:
        return {"action": StatusChange.Action.ACCEPT}
    skus = ", ".join(entry.sku for entry, _can in short)
    comment = (_("not in stock: %(skus)s") % {"skus": skus})[:MAX_COMMENT]
    if not deliverable:
        return {"action": StatusChange.Action.CANCEL, "reason": StatusChange.Reason.MERCHANT_OUT_OF_STOCK,
                "comment": comment}
    entry, can = short[0]
    return {"action": StatusChange.Action.CANCEL_ENTRY, "reason": StatusChange.Reason.MERCHANT_OUT_OF_STOCK,
            "comment": comment, "entry_id": entry.kaspi_id, "keep": can}


@dataclass(frozen=True)
class Transition:
    status: str  # what the POST asks Kaspi for ("" for a part cancellation, which has its own call)
    allowed_from: tuple
    applied: object  # order_fields of what Kaspi has → did the change take effect?


Action = StatusChange.Action
TRANSITIONS = {
    Action.ACCEPT: Transition("ACCEPTED_BY_MERCHANT", (KaspiStatus.APPROVED_BY_BANK,),
                              lambda f: f["status"] in (KaspiStatus.ACCEPTED_BY_MERCHANT, KaspiStatus.COMPLETED)),
    Action.COMPLETE: Transition("COMPLETED", (KaspiStatus.ACCEPTED_BY_MERCHANT,),
                                lambda f: f["status"] == KaspiStatus.COMPLETED),
    Action.CANCEL: Transition("CANCELLED", tuple(OPEN_STATUSES),
                              lambda f: f["status"] in (KaspiStatus.CANCELLED, KaspiStatus.CANCELLING)),
    Action.CANCEL_ENTRY: Transition("", tuple(OPEN_STATUSES), None),
    # The status stays ACCEPTED_BY_MERCHANT: the waybill shows the hand-over took effect.
    Action.ASSEMBLE: Transition("ASSEMBLE", (KaspiStatus.ACCEPTED_BY_MERCHANT,),
                                lambda f: f["assembled"] or bool(f["waybill"]) or f["status"] == "ASSEMBLE"),
    # Uncertain what Kaspi shows after ARRIVED: the order stops being a pre-order, or the status says so.
    Action.ARRIVED: Transition("ARRIVED", tuple(OPEN_STATUSES),
                               lambda f: not f["pre_order"] or f["status"] == "ARRIVED"),
    Action.RETURNED: Transition("ARRIVED_BACKWARD",
                                (KaspiStatus.CANCELLING, KaspiStatus.KASPI_DELIVERY_RETURN_REQUESTED),
                                lambda f: f["returned_to_warehouse"]
                                or f["status"] in (KaspiStatus.CANCELLED, KaspiStatus.RETURNED)),
}
CANCELS = (Action.CANCEL, Action.CANCEL_ENTRY)


def status_change_request(*, order, action, user, reason="", comment="", security_code="", places=None, sku="",
                          entry_id="", keep=None, proposed=False):
    """Ask for a status change; it waits for a staff member's approval before anything is sent.

    `places` (parcels) goes with `assemble`; a line (its Kaspi id `entry_id`, or its `sku` when
    only one line has it) and `keep` (units left on it) with `cancel_entry`, a part cancellation.
    """
    entry = _check_transition(order, action, reason=reason, comment=comment, security_code=security_code,
                              places=places, line=(entry_id, sku), keep=keep)
    request = {"action": action, "reason": reason, "comment": comment, "security_code": security_code,
               "places": places, "sku": entry.sku if entry else "", "keep_quantity": keep,
               "entry_kaspi_id": entry.kaspi_id if entry else ""}
    with transaction.atomic():
        active = StatusChange.objects.select_for_update().filter(order=order, state__in=StatusChange.ACTIVE).first()
        if active and active.state != StatusChange.State.PENDING:
            raise StatusChangeRefused(
                _("order %(code)s: a change is already being sent to Kaspi") % {"code": order.code}
            )
        if active and all(getattr(active, name) == value for name, value in request.items()):
            return _approve_if_allowed(active, user) if active.proposed else active
        if active:
            active.state, active.finished_at = StatusChange.State.SUPERSEDED, timezone.now()
            active.save(update_fields=["state", "finished_at"])
        try:
            with transaction.atomic():
                change = StatusChange.objects.create(order=order, proposed=proposed, requested_by=user, **request)
        except IntegrityError:
            raise StatusChangeRefused(
                _("order %(code)s: another change was requested at the same time") % {"code": order.code}
            ) from None
        text = _("%(action)s proposed%(detail)s") if proposed else _("%(action)s requested%(detail)s")
        OrderEvent.note(order, text % {"action": change.get_action_display(), "detail": _detail(change)}, user)
    return change


def _approve_if_allowed(change, user):
    """Asking by hand for what is already proposed approves it, for someone allowed to approve."""
    if user is None or not user.has_perm("orders.approve_statuschange"):
        return change
    try:
        return status_change_approve(change=change, user=user)
    except StatusChangeRefused:
        return change  # e.g. the four-eyes rule: it stays pending for someone else


def allowed_actions(order):
    """The actions Kaspi would take for this order now (what the order page offers)."""
    return [action for action in TRANSITIONS if _refusal(order, action) is None]


def _check_transition(order, action, *, reason, comment, security_code, places, line, keep):
    """Refuse what Kaspi would refuse, in words staff understand; the line a part cancellation names."""
    if action not in TRANSITIONS:
        raise StatusChangeRefused(_("unknown action %(action)s") % {"action": repr(action)})
    refusal = _refusal(order, action)
    if refusal:
        raise StatusChangeRefused(refusal)
    _check_extras(action, reason=reason, comment=comment, security_code=security_code, places=places,
                  line=any(line), keep=keep)
    if action == Action.ASSEMBLE and (not isinstance(places, int) or not 1 <= places <= MAX_PLACES):
        raise StatusChangeRefused(_("a hand-over needs the number of parcels, 1 to %(limit)d") % {"limit": MAX_PLACES})
    return _entry_to_cancel(order, line, keep) if action == Action.CANCEL_ENTRY else None


def _refusal(order, action):
    """Why Kaspi would refuse `action` for this order as it stands, or None."""
    allowed = TRANSITIONS[action].allowed_from
    if order.status not in allowed:
        return _("order %(code)s is %(status)s: Kaspi allows %(action)s only from %(allowed)s") % {
            "code": order.code, "status": order.get_status_display(), "action": Action(action).label,
            "allowed": get_text_list([KaspiStatus(status).label for status in allowed], _("or")),
        }
    if action == Action.COMPLETE and order.is_kaspi_delivery:
        return _("order %(code)s goes by Kaspi Delivery: Kaspi completes it on delivery; hand it over with «hand "
                 "over to Kaspi Delivery»") % {"code": order.code}
    if action == Action.ASSEMBLE and not order.is_kaspi_delivery:
        return _("order %(code)s does not go by Kaspi Delivery") % {"code": order.code}
    if action == Action.ASSEMBLE and order.assembled:
        return _("order %(code)s is already handed over (waybill %(number)s)") % {
            "code": order.code, "number": order.waybill_number or "—"}
    if action == Action.ARRIVED and not order.pre_order:
        return _("order %(code)s is not a pre-order") % {"code": order.code}
    return None


def _check_extras(action, *, reason, comment, security_code, places, line, keep):
    """Each extra goes only with its own action, and is well-formed."""
    if action not in CANCELS and (reason or comment):
        raise StatusChangeRefused(_("a reason and a comment go only with a cancellation"))
    if action != Action.COMPLETE and security_code:
        raise StatusChangeRefused(_("the buyer's code goes only with a completion"))
    if action != Action.ASSEMBLE and places is not None:
        raise StatusChangeRefused(_("the number of parcels goes only with a hand-over to Kaspi Delivery"))
    if action != Action.CANCEL_ENTRY and (line or keep is not None):
        raise StatusChangeRefused(_("a line and the units to keep go only with a part cancellation"))
    if action in CANCELS and reason not in StatusChange.Reason.values:
        reasons = ", ".join(str(label) for label in StatusChange.Reason.labels)
        raise StatusChangeRefused(_("a cancellation needs one of Kaspi's reasons: %(reasons)s") % {"reasons": reasons})
    if len(comment) > MAX_COMMENT:
        raise StatusChangeRefused(
            ngettext("a cancellation comment may be at most %(limit)d character",
                     "a cancellation comment may be at most %(limit)d characters", MAX_COMMENT) % {"limit": MAX_COMMENT}
        )
    if security_code and not security_code.isdigit():
        raise StatusChangeRefused(_("the buyer's code is digits only"))


def _entry_to_cancel(order, line, keep):
    """The line of `order` a part cancellation names, when `keep` leaves something to cancel and to sell."""
    entry_id, sku = line
    entries = list(order.entries.exclude(kaspi_id=None))
    named = [e for e in entries if (e.kaspi_id == entry_id if entry_id else e.sku == sku)]
    if not named:
        raise StatusChangeRefused(_("order %(code)s has no line with SKU %(sku)s") % {"code": order.code,
                                                                                       "sku": sku or entry_id or "—"})
    if len(named) > 1:
        raise StatusChangeRefused(_("order %(code)s has several lines with SKU %(sku)s: choose the line on the order "
                                    "page") % {"code": order.code, "sku": sku})
    entry = named[0]
    if not isinstance(keep, int) or not 0 <= keep < entry.quantity:
        raise StatusChangeRefused(_("the units to keep must be 0 to %(most)d (the line has %(quantity)d)") % {
            "most": entry.quantity - 1, "quantity": entry.quantity})
    if keep == 0 and sum(e.quantity for e in entries if e.pk != entry.pk) == 0:
        raise StatusChangeRefused(_("nothing would be left of order %(code)s: cancel the whole order instead") % {
            "code": order.code})
    return entry


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
    OrderEvent.note(change.order, _("%(action)s approved") % {"action": change.get_action_display()}, user)
    security_event("approval", f"{user} approved {change.action} of order {change.order.code}", user=user,
                   level=logging.INFO)
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
    OrderEvent.note(change.order, _("%(action)s rejected") % {"action": change.get_action_display()}, user)


def _queue_send(change_id):
    from django_q.tasks import async_task

    async_task("orders.tasks.send_status_change", change_id, task_name=f"status change {change_id}")


def status_change_send(*, change_id, client=None):
    """Send one approved change to Kaspi exactly once.

    A change whose earlier attempt got no answer is first read back from Kaspi: if the order
    already shows it, the change is done, and nothing is sent again. An answer counts as a success
    only when it shows the change; otherwise the order is read back and what Kaspi has decides.
    """
    client = client or KaspiClient()
    if not client.token:  # before claiming: a missing setting must not fail the changes themselves
        raise KaspiError("KASPI_TOKEN is not set", temporary=False)
    change = StatusChange.objects.select_related("order").get(pk=change_id)
    claimable = [StatusChange.State.APPROVED, StatusChange.State.UNCERTAIN]
    claimed = StatusChange.objects.filter(pk=change.pk, state__in=claimable).update(
        state=StatusChange.State.SENDING, sent_at=timezone.now(), attempts=F("attempts") + 1, claimed_by=holder_id()
    )
    if not claimed:
        return change  # another worker has it, or it is finished
    change.refresh_from_db()
    tried_before = change.attempts > 1  # an earlier attempt may have been applied without an answer
    if tried_before and change.is_code_request:
        return _code_maybe_sent(client, change)
    if tried_before:
        found = _read_back_quietly(client, change)
        if found:
            return _finish(change, StatusChange.State.DONE, _("found applied at Kaspi when read back"))
        if found is None and change.attempts >= settings.STATUS_MAX_ATTEMPTS:
            return _give_up(change, _("the order could not be read back to see whether the change took effect; "
                                      "check it in Kaspi's cabinet"))
        if found is None:  # Kaspi could not be read: nothing is known, nothing is sent
            return _uncertain(change, _("not read back from Kaspi yet; nothing sent again"))
        if change.action == Action.CANCEL_ENTRY:
            return _applying(change)  # Kaspi applies these later: the lost one may be on its way, never send two
    try:
        body = _post(client, change)
    except KaspiError as exc:
        if not exc.temporary:
            return _refused(client, change, exc, tried_before)
        if change.is_code_request:
            return _code_maybe_sent(client, change)
        if change.attempts >= settings.STATUS_MAX_ATTEMPTS:
            if _read_back_quietly(client, change):
                return _finish(change, StatusChange.State.DONE, _("found applied at Kaspi when read back"))
            return _give_up(change, exc)
        return _uncertain(change, str(exc))
    return _settle(client, change, body)


def _code_maybe_sent(client, change):
    """A code request whose answer was lost may well have reached Kaspi, which then texted the buyer.
    Kaspi shows no trace of a code it sent, and a second request would void the buyer's code: it is
    never sent again by itself. The order is read back (and stored) for what it shows; someone asks
    for a new code by hand only if the buyer got none."""
    found = _read_back_quietly(client, change)
    if found is not None:
        change.order.refresh_from_db()
    if change.order.status == KaspiStatus.COMPLETED:
        return _finish(change, StatusChange.State.DONE, _("the order is already completed at Kaspi"))
    return _finish(change, StatusChange.State.DONE, _(
        "Kaspi's answer was lost, so the buyer has probably been sent a code: ask for it; request a new "
        "one only if none came (each new code voids the one before)"))


def _give_up(change, error):
    gave_up = ngettext("gave up after %(count)d attempt: %(error)s", "gave up after %(count)d attempts: %(error)s",
                       change.attempts)
    return _finish(change, StatusChange.State.FAILED, gave_up % {"count": change.attempts, "error": error})


def _uncertain(change, message):
    """No answer that settles it: the sweep reads it back (and only then may send it again)."""
    change.state, change.message = StatusChange.State.UNCERTAIN, message
    change.save(update_fields=["state", "message"])
    return change


def _post(client, change):
    order = change.order
    if change.action == Action.CANCEL_ENTRY:
        return client.cancel_entry(entry_id=change.entry_kaspi_id, remained=change.keep_quantity,
                                   reason=change.reason, notes=change.comment)
    attributes = {}
    if change.action == Action.CANCEL:
        attributes["cancellationReason"] = change.reason
        if change.comment:
            attributes["cancellationComment"] = change.comment
    if change.action == Action.ASSEMBLE:
        attributes["numberOfSpace"] = str(change.places)
    return client.set_status(order_id=order.kaspi_id, code=order.code, status=TRANSITIONS[change.action].status,
                             attributes=attributes,
                             security_code=change.security_code if change.action == Action.COMPLETE else None)


def _refused(client, change, exc, tried_before):
    """Kaspi said no. After an attempt whose answer was lost, the no may be to a change already made."""
    if tried_before and not change.is_code_request and _read_back_quietly(client, change):
        return _finish(change, StatusChange.State.DONE, _("found applied at Kaspi when read back"))
    return _finish(change, StatusChange.State.FAILED, str(exc))


def _settle(client, change, body):
    """Decide what a 2xx answer means: Kaspi's `errors`, or an answer not showing the change, is no success.

    What the order is now is always read back from Kaspi and stored, never taken from the answer
    alone (it may carry only some attributes).
    """
    errors = answer_errors(body)
    if change.is_code_request:
        if errors:
            return _finish(change, StatusChange.State.FAILED, errors)
        return _finish(change, StatusChange.State.DONE, _("Kaspi sent the buyer a code; enter it to complete"))
    shown = fields_or_none(answer_resource(body))
    accepted = not errors and (change.action == Action.CANCEL_ENTRY or (shown and TRANSITIONS[change.action].applied(
        shown)))
    found = _read_back_quietly(client, change)
    if found:
        return _finish(change, StatusChange.State.DONE,
                       _("accepted by Kaspi") if accepted else _("found applied at Kaspi when read back"))
    if accepted and change.action == Action.CANCEL_ENTRY:
        return _applying(change)
    if accepted:
        return _finish(change, StatusChange.State.DONE, _("accepted by Kaspi"))
    if found is None and not errors:  # an answer that says nothing, and no read-back: decide later
        return _uncertain(change, _("Kaspi's answer did not show the change and the order could not be read back"))
    change.order.refresh_from_db()
    return _finish(change, StatusChange.State.FAILED, errors or _(
        "Kaspi answered without applying it; the order is %(status)s there") % {
        "status": change.order.get_status_display()})


def _applying(change):
    """Kaspi took a part cancellation and applies it later: it is settled once the lines show it."""
    change.state, change.message = StatusChange.State.APPLYING, _("accepted by Kaspi, which is still applying it")
    change.save(update_fields=["state", "message"])
    OrderEvent.note(change.order, _("%(action)s: %(state)s") % {"action": change.get_action_display(),
                                                        "state": change.get_state_display()}, None)
    return change


def status_changes_settle(*, client=None):
    """Settle the part cancellations Kaspi is applying: done once the lines show them, failed if they never do."""
    client = client or KaspiClient()
    late = timezone.now() - timedelta(hours=APPLY_HOURS)
    for change in StatusChange.objects.filter(state=StatusChange.State.APPLYING).select_related("order").defer(
            *customer_data("order")):
        if _read_back_quietly(client, change):
            _finish(change, StatusChange.State.DONE, _("applied by Kaspi; the lines read back"))
        elif change.sent_at < late:
            _finish(change, StatusChange.State.FAILED, ngettext(
                "Kaspi has not applied it within %(count)d hour: check the order in Kaspi's cabinet",
                "Kaspi has not applied it within %(count)d hours: check the order in Kaspi's cabinet",
                APPLY_HOURS) % {"count": APPLY_HOURS})


def _read_back(client, change):
    """Read the order (and for a part cancellation its lines) from Kaspi, store it, and say if the change shows."""
    resource = client.order_by_code(change.order.code)
    if resource is None:
        return False
    fields = order_fields(resource)  # an answer not understood is no answer: `_read_back_quietly` says None
    order = order_store(resource)
    if change.action != Action.CANCEL_ENTRY:
        return TRANSITIONS[change.action].applied(fields)
    store_entries(order, client.entries(order.kaspi_id))
    entry = order.entries.filter(kaspi_id=change.entry_kaspi_id).first()
    return entry is None or entry.quantity <= change.keep_quantity


def _read_back_quietly(client, change):
    """`_read_back`, with None when Kaspi could not be read (or its answer not understood)."""
    try:
        return _read_back(client, change)
    except (KaspiError, DatabaseError, *MALFORMED) as exc:
        log.warning("status change %s: not read back: %s", change.pk, exc)
        return None


def _finish(change, state, message):
    """Finish a change in flight, once: one that another worker finished meanwhile stays as it is."""
    now = timezone.now()
    in_flight = [StatusChange.State.SENDING, StatusChange.State.UNCERTAIN, StatusChange.State.APPLYING]
    if not StatusChange.objects.filter(pk=change.pk, state__in=in_flight).update(state=state, message=message[:2000],
                                                                                 finished_at=now):
        change.refresh_from_db()
        return change
    change.state, change.message, change.finished_at = state, message[:2000], now
    order = Order.objects.get(pk=change.order_id)
    OrderEvent.note(order, _("%(action)s: %(state)s — %(message)s") % {
        "action": change.get_action_display(), "state": change.get_state_display(), "message": message}, None)
    if state == StatusChange.State.DONE and change.action == Action.RETURNED:
        Order.objects.filter(pk=order.pk).update(returned_to_warehouse=True)  # what Kaspi accepted from us
        order_take_back_returned(order=order)
    if state == StatusChange.State.DONE and change.action == Action.CANCEL_ENTRY:
        orders_propose()  # the next short line, or accepting the rest
    change.order = order
    return change


def order_statuses_push(*, client=None):
    """Send every approved change, and settle those whose answer was lost (also a stuck 'sending').

    One sweep at a time, whoever starts it (the schedule or the command): a second raises `JobBusy`.
    Each sweep is a run of the job `push_order_statuses`; each change also keeps its own attempts.
    """
    client = client or KaspiClient()
    with locked_run("push_order_statuses", client=client) as run:
        results = _push(client)
        run.received = sum(results.values())
        run.updated = results[StatusChange.State.DONE]
        run.lines = [f"{state}: {count}" for state, count in results.items() if count]
    return results


def _push(client):
    _release_abandoned_sends()
    due = StatusChange.objects.filter(state__in=[StatusChange.State.APPROVED, StatusChange.State.UNCERTAIN])
    results = [status_change_send(change_id=pk, client=client) for pk in due.values_list("pk", flat=True)]
    status_changes_settle(client=client)
    return {state: sum(1 for change in results if change.state == state) for state in StatusChange.State.values}


def _release_abandoned_sends():
    """A change "sending" whose process died is uncertain: the push reads it back before anything is
    sent again. On this machine a dead sender is seen at once; one elsewhere after STALE_SENDING."""
    stale = timezone.now() - STALE_SENDING
    for pk, holder, sent_at in StatusChange.objects.filter(state=StatusChange.State.SENDING).values_list(
            "pk", "claimed_by", "sent_at"):
        alive = holder_alive(holder)
        if alive is False or (alive is None and sent_at and sent_at < stale):
            StatusChange.objects.filter(pk=pk, state=StatusChange.State.SENDING, claimed_by=holder).update(
                state=StatusChange.State.UNCERTAIN, message=_("the sending worker stopped without an answer"))


def _detail(change):
    parts = [change.get_reason_display() if change.reason else "", change.comment]
    if change.places:
        parts.insert(0, ngettext("%(count)d parcel", "%(count)d parcels", change.places) % {"count": change.places})
    if change.sku:
        parts.insert(0, _("%(sku)s: keep %(keep)d") % {"sku": change.sku, "keep": change.keep_quantity})
    text = "; ".join(part for part in parts if part)
    return f" ({text})" if text else ""
