"""Supplier orders before they are sent: proposed for accepted Kaspi orders, edited, merged, approved
or rejected by staff, withdrawn when their Kaspi orders are cancelled first; and cancelled at Al-Style
by someone allowed to. Sending is `purchasing.sending`, following Al-Style's statuses `purchasing.tracking`.
"""

import logging
import math
from collections import defaultdict

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from catalog.alstyle import AlstyleClient, AlstyleError
from catalog.models import Product
from common.log import security_event
from orders.models import OPEN_STATUSES, KaspiStatus, OrderEntry

from .models import Coverage, SupplierOrder, SupplierOrderEvent, SupplierOrderLine

log = logging.getLogger(__name__)

State = SupplierOrder.State
EDITABLE = [State.PROPOSED, State.HELD]  # quantities, terms: what a person decides on
USER_DATA_CACHE = "purchasing:user-data"
USER_DATA_SECONDS = 600


class SupplierOrderRefused(Exception):
    """What the rules (or Al-Style) refuse; the message says why, for people."""


# --- proposing ----------------------------------------------------------------------------------

def supplier_orders_propose():
    """Propose buying what each accepted Kaspi order needs beyond the shop's own stock.

    A line gets one proposal in its life: once a supplier order served it (even one rejected or
    cancelled later: that was a decision), a new one is only made by hand (`supplier_order_propose`).
    How many were proposed.
    """
    served = Coverage.objects.filter(entry=OuterRef("pk"))
    entries = (OrderEntry.objects.filter(order__status=KaspiStatus.ACCEPTED_BY_MERCHANT, product__isnull=False,
                                         quantity__gt=F("own_units"))
               .exclude(Exists(served)).select_related("order", "product")
               .order_by("order__created_at_kaspi", "order_id", "pk"))
    needs = defaultdict(list)
    for entry in entries:
        needs[entry.order].append((entry, entry.quantity - entry.own_units))
    count = 0
    for order, lines in needs.items():
        try:
            _propose(order, lines, user=None)
            count += 1
        except SupplierOrderRefused as exc:
            log.info("no supplier order proposed for order %s: %s", order.code, exc)
    return count


def supplier_order_propose(*, order, user):
    """Propose buying the lines of one Kaspi order that neither own stock nor a live supplier order
    covers; None when there is nothing left to buy."""
    if order.status != KaspiStatus.ACCEPTED_BY_MERCHANT:
        raise SupplierOrderRefused(_("order %(code)s is %(status)s: supplier orders are for accepted orders") % {
            "code": order.code, "status": order.get_status_display()})
    covered = dict(Coverage.objects.filter(order=order, live=True).values("entry_id").annotate(units=Sum("units"))
                   .values_list("entry_id", "units"))
    lines = []
    for entry in order.entries.select_related("product"):
        units = entry.quantity - entry.own_units - covered.get(entry.pk, 0)
        if units > 0 and entry.product is None:
            raise SupplierOrderRefused(_("order %(code)s: line %(sku)s matches no Al-Style product") % {
                "code": order.code, "sku": entry.sku})
        if units > 0:
            lines.append((entry, units))
    return _propose(order, lines, user=user) if lines else None


def _propose(order, lines, *, user):
    try:
        with transaction.atomic():
            supplier_order = SupplierOrder.objects.create(requested_by=user)
            Coverage.objects.bulk_create([
                Coverage(supplier_order=supplier_order, order=order, entry=entry, article=entry.product.article,
                         units=units) for entry, units in lines])
            _rebuild_lines(supplier_order)
            SupplierOrderEvent.note(supplier_order, _("proposed for Kaspi order №%(code)s: %(lines)s") % {
                "code": order.code, "lines": _lines_text(supplier_order)}, user)
    except IntegrityError:
        raise SupplierOrderRefused(
            _("order %(code)s: another supplier order took these lines at the same time") % {"code": order.code}
        ) from None
    return supplier_order


def _rebuild_lines(supplier_order):
    """One line per article for what the Kaspi lines need, rounded up to Al-Style's multiple.

    A line whose need did not change keeps its quantity (a person may have edited it).
    """
    needs = dict(supplier_order.coverage.filter(units__gt=0).values("article").annotate(units=Sum("units"))
                 .values_list("article", "units"))
    existing = {line.article: line for line in supplier_order.lines.all()}
    products = Product.objects.in_bulk(list(needs), field_name="article")
    for article, units in needs.items():
        line = existing.pop(article, None)
        if line is not None and line.needed == units:
            continue
        product = products.get(article)
        multiplicity = product.multiplicity if product else None
        if line is None:
            cost = product.cost if product else None
            line = SupplierOrderLine(supplier_order=supplier_order, article=article, product=product,
                                     name=product.name[:1000] if product else "", multiplicity=multiplicity,
                                     expected_price=cost if cost and cost > 1 else None)
        line.needed, line.quantity = units, rounded_up(units, line.multiplicity)
        line.save()
    SupplierOrderLine.objects.filter(pk__in=[line.pk for line in existing.values()]).delete()
    _recount(supplier_order)


def rounded_up(units, multiplicity):
    """`units` rounded up to Al-Style's multiple (null or 1: any quantity)."""
    if not multiplicity or multiplicity <= 1:
        return units
    return math.ceil(units / multiplicity) * multiplicity


def _recount(supplier_order):
    lines = supplier_order.lines.all()
    supplier_order.expected_total = sum(line.quantity * (line.expected_price or 0) for line in lines)
    SupplierOrder.objects.filter(pk=supplier_order.pk).update(expected_total=supplier_order.expected_total)


def _lines_text(supplier_order):
    return ", ".join(f"{line.article} × {line.quantity}" for line in supplier_order.lines.all()) or "—"


def kaspi_codes(supplier_order):
    """The Kaspi order numbers a supplier order serves, oldest first, as `external_id` carries them."""
    codes = (supplier_order.coverage.filter(units__gt=0).order_by("order__created_at_kaspi", "order_id")
             .values_list("order__code", flat=True))
    return ", ".join(dict.fromkeys(codes))


# --- deciding -----------------------------------------------------------------------------------

def _check_permission(user, permission, text):
    if user is not None and not user.has_perm(f"purchasing.{permission}"):
        raise SupplierOrderRefused(text % {"user": user})


def _locked(pk, states):
    """Lock the row for this transaction if it is in `states` (a conditional write: SQLite's single
    writer and PostgreSQL's row lock both keep a sender from claiming it meanwhile)."""
    return SupplierOrder.objects.filter(pk=pk, state__in=states).update(state=F("state")) == 1


def _refuse_state(supplier_order, what):
    supplier_order.refresh_from_db()
    raise SupplierOrderRefused(_("supplier order %(number)s is %(state)s: %(what)s") % {
        "number": supplier_order.pk, "state": supplier_order.get_state_display(), "what": what})


def supplier_order_approve(*, supplier_order, user, queue=True):
    """Approve a proposal (or a held order again: at the prices Al-Style's cart showed); with `queue`,
    it is sent from the queue once the approval is committed. `user` None: SUPPLIER_AUTO_APPROVE."""
    _check_permission(user, "approve_supplierorder", _("%(user)s may not approve supplier orders"))
    with transaction.atomic():
        if not _locked(supplier_order.pk, EDITABLE):
            _refuse_state(supplier_order, _("only a proposal or a held order can be approved"))
        supplier_order.refresh_from_db()
        if not supplier_order.lines.filter(quantity__gt=0).exists():
            raise SupplierOrderRefused(_("supplier order %(number)s has nothing to buy") % {
                "number": supplier_order.pk})
        repriced = supplier_order.lines.filter(cart_price__isnull=False).exclude(expected_price=F("cart_price"))
        if supplier_order.state == State.HELD and repriced.exists():
            repriced.update(expected_price=F("cart_price"))
            _recount(supplier_order)
            SupplierOrderEvent.note(supplier_order, _("approved at the prices Al-Style's cart showed"), user)
        SupplierOrder.objects.filter(pk=supplier_order.pk).update(state=State.APPROVED, approved_by=user,
                                                                  approved_at=timezone.now(), message="", attempts=0)
        supplier_order.refresh_from_db()
        SupplierOrderEvent.note(supplier_order, _("approved") if user else _("approved automatically"), user)
    security_event("approval", f"{user or 'auto-approval'} approved supplier order {supplier_order.pk}",
                   user=user or "", level=logging.INFO)
    if queue:
        transaction.on_commit(lambda: _queue_send(supplier_order.pk))
    return supplier_order


def _queue_send(supplier_order_id):
    from django_q.tasks import async_task

    async_task("purchasing.tasks.send_supplier_order", supplier_order_id,
               task_name=f"supplier order {supplier_order_id}")


def supplier_order_reject(*, supplier_order, user):
    _check_permission(user, "approve_supplierorder", _("%(user)s may not reject supplier orders"))
    with transaction.atomic():
        if not _locked(supplier_order.pk, EDITABLE):
            _refuse_state(supplier_order, _("only a proposal or a held order can be rejected"))
        _finish(supplier_order, State.REJECTED, _("rejected"), user)


def _finish(supplier_order, state, text, user=None, *, notify=False):
    """End an unsent supplier order: its Kaspi lines are free for another one (by hand)."""
    SupplierOrder.objects.filter(pk=supplier_order.pk).update(state=state, finished_at=timezone.now(),
                                                              message=text[:2000])
    Coverage.objects.filter(supplier_order=supplier_order).update(live=False)
    supplier_order.refresh_from_db()
    SupplierOrderEvent.note(supplier_order, text, user, notify=notify)


def supplier_orders_merge(*, supplier_orders, user):
    """Merge proposals into the oldest of them (a shop may buy once a day); the merged one."""
    _check_permission(user, "change_supplierorder", _("%(user)s may not change supplier orders"))
    with transaction.atomic():
        chosen = sorted(supplier_orders, key=lambda so: (so.created_at, so.pk))
        if len(chosen) < 2:
            raise SupplierOrderRefused(_("choose at least two proposals to merge"))
        for supplier_order in chosen:
            if not _locked(supplier_order.pk, [State.PROPOSED]):
                _refuse_state(supplier_order, _("only proposals can be merged"))
        target, others = chosen[0], chosen[1:]
        for other in others:
            Coverage.objects.filter(supplier_order=other).update(supplier_order=target)
            other.lines.all().delete()
            SupplierOrder.objects.filter(pk=other.pk).update(merged_into=target, expected_total=0)
            _finish(other, State.MERGED, _("merged into supplier order %(number)s") % {"number": target.pk}, user)
        _rebuild_lines(target)
        SupplierOrderEvent.note(target, _("merged with %(numbers)s: %(lines)s") % {
            "numbers": ", ".join(str(other.pk) for other in others), "lines": _lines_text(target)}, user)
    target.refresh_from_db()
    return target


def supplier_line_set_quantity(*, line, quantity, user):
    """Change what a line buys while its order awaits a decision: a multiple of Al-Style's, 0 for none."""
    _check_permission(user, "change_supplierorder", _("%(user)s may not change supplier orders"))
    multiplicity = line.multiplicity or 1
    if quantity < 0 or quantity % multiplicity:
        raise SupplierOrderRefused(_("article %(article)s is sold in multiples of %(multiple)d") % {
            "article": line.article, "multiple": multiplicity})
    with transaction.atomic():
        if not _locked(line.supplier_order_id, EDITABLE):
            _refuse_state(line.supplier_order, _("quantities change only while it awaits a decision"))
        before = SupplierOrderLine.objects.get(pk=line.pk).quantity
        if before == quantity:
            return line
        SupplierOrderLine.objects.filter(pk=line.pk).update(quantity=quantity)
        _recount(line.supplier_order)
        SupplierOrderEvent.note(line.supplier_order, ngettext(
            "article %(article)s: %(before)d → %(after)d unit", "article %(article)s: %(before)d → %(after)d units",
            quantity) % {"article": line.article, "before": before, "after": quantity}, user)
    line.quantity = quantity
    return line


def supplier_order_set_terms(*, supplier_order, user, shipping_date, attorney, delivery):
    """The shipping date, power of attorney and delivery method the submit carries."""
    _check_permission(user, "change_supplierorder", _("%(user)s may not change supplier orders"))
    if shipping_date and shipping_date < timezone.localdate():
        raise SupplierOrderRefused(_("the shipping date is in the past"))
    terms = {"shipping_date": shipping_date, "attorney": attorney or {}, "delivery": delivery or {}}
    with transaction.atomic():
        if not _locked(supplier_order.pk, EDITABLE):
            _refuse_state(supplier_order, _("its terms change only while it awaits a decision"))
        current = SupplierOrder.objects.get(pk=supplier_order.pk)
        changed = [name for name, value in terms.items() if getattr(current, name) != value]
        if not changed:
            return current
        SupplierOrder.objects.filter(pk=supplier_order.pk).update(**terms)
        current.refresh_from_db()
        SupplierOrderEvent.note(current, _("terms: %(terms)s") % {"terms": terms_text(current)}, user)
    return current


def terms_text(supplier_order):
    return _("shipping %(date)s; power of attorney: %(attorney)s; delivery: %(delivery)s") % {
        "date": supplier_order.shipping_date.strftime("%d.%m.%Y") if supplier_order.shipping_date else _("default"),
        "attorney": entry_label(supplier_order.attorney) or _("default"),
        "delivery": entry_label(supplier_order.delivery) or _("default")}


# --- Al-Style's account: powers of attorney and delivery methods ------------------------------

def user_data(*, client=None, fresh=False):
    """Al-Style's `user-data` lists (attorneys, carriers), kept a few minutes: the admin asks often."""
    data = None if fresh else cache.get(USER_DATA_CACHE)
    if data is None:
        data = (client or AlstyleClient()).user_data()
        cache.set(USER_DATA_CACHE, data, USER_DATA_SECONDS)
    return data


def default_entry(entries):
    """The entry marked Основной; the only one when none is marked; None when there is no clear choice."""
    marked = [entry for entry in entries if _is_main(entry.get("Основной"))]
    if marked:
        return marked[0]
    return entries[0] if len(entries) == 1 else None


def _is_main(flag):
    return flag is True or str(flag).strip().lower() in ("1", "true", "да", "yes")


def entry_label(entry):
    """A power of attorney or delivery method as people read it: its name-like fields, else all of it."""
    if not entry:
        return ""
    names = [str(value) for key, value in entry.items()
             if key != "Основной" and isinstance(value, str | int) and not isinstance(value, bool) and str(value)]
    return " · ".join(names[:3])[:200]


# --- withdrawing --------------------------------------------------------------------------------

def supplier_orders_withdraw():
    """Kaspi orders cancelled (or lines cut) before their supplier order went out take their units back
    out of it; one left with nothing is withdrawn. How many supplier orders changed."""
    unsent = [State.PROPOSED, State.APPROVED, State.HELD]
    closed = (Q(entry__isnull=True) | ~Q(order__status__in=OPEN_STATUSES)
              | Q(units__gt=F("entry__quantity") - F("entry__own_units")))
    touched = (Coverage.objects.filter(closed, units__gt=0, supplier_order__state__in=unsent,
                                       supplier_order__cart_filled=False)
               .values_list("supplier_order_id", flat=True).distinct())
    return sum(1 for pk in list(touched) if _withdraw(pk, unsent))


def _withdraw(pk, states):
    with transaction.atomic():
        if not _locked(pk, states):
            return False
        supplier_order = SupplierOrder.objects.get(pk=pk)
        return supplier_order_withdraw_closed(supplier_order)


def supplier_order_withdraw_closed(supplier_order):
    """In a transaction holding the row: drop what closed Kaspi orders no longer need. True if it changed."""
    gone, codes = [], set()
    for coverage in supplier_order.coverage.select_related("order", "entry"):
        entry = coverage.entry
        needed = entry.quantity - entry.own_units if entry and coverage.order.status in OPEN_STATUSES else 0
        if needed >= coverage.units:
            continue
        codes.add(coverage.order.code)
        if needed <= 0:
            gone.append(coverage.pk)
        else:
            Coverage.objects.filter(pk=coverage.pk).update(units=needed)
    if not codes:
        return False
    Coverage.objects.filter(pk__in=gone).update(units=0, live=False)  # kept: the Kaspi order's page shows it
    _rebuild_lines(supplier_order)
    text = _("Kaspi order №%(codes)s cancelled or cut before sending: %(lines)s") % {
        "codes": ", №".join(sorted(codes)), "lines": _lines_text(supplier_order)}
    if supplier_order.coverage.filter(units__gt=0).exists():
        SupplierOrderEvent.note(supplier_order, text)
    else:
        _finish(supplier_order, State.WITHDRAWN, text)
    return True


# --- cancelling at Al-Style ---------------------------------------------------------------------

def supplier_order_cancel(*, supplier_order, user, client=None):
    """Cancel a sent supplier order at Al-Style (`cart-api/cancel`); its Kaspi lines hold stock again."""
    _check_permission(user, "cancel_supplierorder", _("%(user)s may not cancel supplier orders at Al-Style"))
    supplier_order.refresh_from_db()
    if not supplier_order.is_open_at_alstyle:
        raise SupplierOrderRefused(_("supplier order %(number)s is not open at Al-Style") % {
            "number": supplier_order.pk})
    client = client or AlstyleClient()
    SupplierOrderEvent.note(supplier_order, _("cancellation asked of Al-Style"), user)
    try:
        client.order_cancel(supplier_order.alstyle_id)
    except AlstyleError as exc:
        SupplierOrderEvent.note(supplier_order, _("Al-Style did not confirm the cancellation: %(error)s") % {
            "error": exc}, user)
        raise SupplierOrderRefused(_("Al-Style did not confirm the cancellation (%(error)s); its status, read "
                                     "by the next sync, will show whether it took effect") % {"error": exc}) from None
    return supplier_order_cancelled(supplier_order, _("cancelled at Al-Style by %(user)s") % {"user": user}, user)


def supplier_order_cancelled(supplier_order, text, user=None, *, notify=False):
    """A sent supplier order Al-Style will not deliver: what it bought holds the Kaspi lines' stock again.
    Once only; the one that cancelled it. Al-Style cancelling it proposes cancelling those Kaspi lines."""
    with transaction.atomic():
        if not SupplierOrder.objects.filter(pk=supplier_order.pk, state=State.SENT).update(
                state=State.CANCELLED, finished_at=timezone.now(), message=text[:2000]):
            supplier_order.refresh_from_db()
            return supplier_order
        supplier_order.refresh_from_db()
        delivered = dict.fromkeys(supplier_order.lines.values_list("article", flat=True), 0)
        short_lines(supplier_order, delivered, flag_short=notify)
        SupplierOrderEvent.note(supplier_order, text, user, notify=notify)
    return supplier_order


def short_lines(supplier_order, delivered, *, flag_short):
    """Take back from the Kaspi lines what Al-Style will not deliver (article → units it will), newest
    lines first: their stock is held again; with `flag_short` they should come down to what is left."""
    now = timezone.now()
    rows = defaultdict(list)
    for coverage in supplier_order.coverage.select_related("entry").order_by("-pk"):
        rows[coverage.article].append(coverage)
    shorted = {}
    for article, coverage_rows in rows.items():
        missing = sum(row.bought for row in coverage_rows) - delivered.get(article, 0)
        for row in coverage_rows:
            take = min(row.bought, max(missing, 0))
            if not take:
                continue
            missing -= take
            shorted[article] = shorted.get(article, 0) + take
            row.bought -= take
            if row.entry is not None:
                OrderEntry.objects.filter(pk=row.entry_id).update(bought_units=F("bought_units") - take)
            if flag_short and row.entry is not None:
                row.keep = (row.entry.quantity if row.keep is None else row.keep) - take
                row.short_at = now
            row.save(update_fields=["bought", "keep", "short_at"])
    return shorted
