"""Order services: import from Kaspi, status changes with approval, stock held by open orders."""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Exists, F, Min, OuterRef, Q, Sum
from django.utils import timezone
from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from catalog.models import Product, SyncRun
from catalog.offers import clean_text, is_sellable
from catalog.runs import recorded_run
from catalog.supplier import parse_money
from kaspiconnect.locks import job_lock

from .kaspi import STATES, WINDOW_DAYS, KaspiClient, KaspiError, answer_errors, answer_resource
from .models import FINAL_STATUSES, OPEN_STATUSES, KaspiState, KaspiStatus, Order, OrderEntry, OrderEvent, StatusChange

log = logging.getLogger(__name__)

MAX_PAGES = 1000  # per state and window: a guard against an answer whose pageCount never ends
MAX_COMMENT = 1000  # Kaspi's limit for a cancellation comment
MAX_PLACES = 99  # parcels of one Kaspi Delivery hand-over
# Old unfinished orders read by number in one run at most; the longest unread go first, so a crowd that
# fell due together spreads over a few runs and stays spread.
STALE_PER_RUN = 50
FINISHED_LINES_PER_RUN = 500  # a routine run reads at most this many finished orders' lines (a backlog spreads)
RETURN_DAYS = 14  # a completed order may still come back this long after its delivery
APPLY_HOURS = 1  # a part cancellation Kaspi accepted but has not applied after this long has failed
MAX_MONEY = 2_000_000_000  # fits every integer column, far above any real order
MAX_UNITS = 100_000
# What an answer that does not parse raises (huge numbers: OverflowError).
MALFORMED = (KeyError, TypeError, ValueError, ArithmeticError)


class OrderSyncError(Exception):
    """An import that could not finish; what it had stored stays, the watermark does not move."""


class StatusChangeRefused(Exception):
    """A change the rules (or Kaspi) refuse; the message says why, for people."""


# --- import ---------------------------------------------------------------------------------------


def orders_sync(*, days=None, client=None, progress=None):
    """Import every order created since `_since` (or the last `days` days), in every state.

    What each page brings is stored as it comes, so a failed run keeps its progress; the
    watermark only moves with a successful run. A routine run re-reads the last 14 days in pages,
    so what it costs grows with the orders of those days, not with every order still open.
    """
    client = client or KaspiClient()
    with job_lock("orders-sync"), recorded_run(SyncRun.Kind.ORDERS, client=client, failure=OrderSyncError) as run:
        until = timezone.now()
        since = until - timedelta(days=days) if days else _since(until)
        seen = set()
        for state in STATES:
            for low, high in windows(since, until):
                _import_window(client, state, low, high, seen, run)
            if progress:
                progress(f"{state}: {run.received} orders read so far")
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
    last = SyncRun.objects.filter(kind=SyncRun.Kind.ORDERS, outcome=SyncRun.Outcome.OK).order_by("-started").first()
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
        _store_page(data, seen, run)
        if not data or page + 1 >= _int(meta.get("pageCount")):
            return


def order_import_by_code(*, code, client=None):
    """Fetch one order (and its lines) from Kaspi by its number; None when Kaspi has no such order."""
    client = client or KaspiClient()
    resource = client.order_by_code(code)
    if resource is None:
        return None
    order = order_store(resource)
    if order is not None and not order.entries_loaded:
        _store_entries(order, client.entries(order.kaspi_id))
        order.refresh_from_db()
    return order


def order_store(resource):
    """Store one order resource as Kaspi sent it; the order row, or None when it is unusable."""
    tally = SyncRun(kind=SyncRun.Kind.ORDERS)  # counts of this one-off store; not saved
    tally.lines = []
    _store_page([resource], set(), tally)
    return Order.objects.filter(kaspi_id=str(resource.get("id"))).first()


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
            run.lines.append(f"order {code}: not read again: {exc}"[:300])
            continue
        if resource:
            _store_page([resource], seen, run)


def _store_page(resources, seen, run):
    """Store one page of orders, counting on `run`; an order stored as it is costs no write."""
    page = []
    for resource in resources:
        run.received += 1
        try:
            fields = order_fields(resource)
        except MALFORMED as exc:
            run.skipped += 1
            run.lines.append(f"skipped a malformed order: {exc!r}"[:300])
            continue
        if fields["kaspi_id"] not in seen:
            seen.add(fields["kaspi_id"])
            page.append(fields)
    ids = [f["kaspi_id"] for f in page]
    stored = {order.kaspi_id: order for order in Order.objects.filter(kaspi_id__in=ids)}
    for fields in page:
        order = stored.get(fields["kaspi_id"])
        try:
            outcome = "unchanged" if order is not None and not _changed_fields(order, fields) else _upsert_order(fields)
        except DatabaseError as exc:  # a value the database refuses: this order only
            outcome = "skipped"
            run.lines.append(f"order {fields['code']} not stored: {exc}"[:300])
        setattr(run, outcome, getattr(run, outcome) + 1)
    Order.objects.filter(kaspi_id__in=ids).update(refreshed_at=timezone.now())  # read just now: not stale


def _changed_fields(order, fields):
    return {name: value for name, value in fields.items() if getattr(order, name) != value}


def _upsert_order(fields):
    """Create or update one order; record a status or state change in its history, and let stock follow."""
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(kaspi_id=fields["kaspi_id"]).first()
        if order is None:
            settled = fields["status"] in FINAL_STATUSES or fields["returned_to_warehouse"]
            try:
                with transaction.atomic():
                    # An order first seen finished or returned settled its goods before this shop counted them.
                    order = Order.objects.create(**fields, stock_taken_back=settled, own_units_released=settled)
            except IntegrityError:
                if Order.objects.filter(kaspi_id=fields["kaspi_id"]).exists():
                    return "unchanged"  # a concurrent import created it first
                raise
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
        if "total_price" in changed:
            changed["entries_loaded"] = False  # the lines changed at Kaspi (a part cancellation): read them again
        Order.objects.filter(pk=order.pk).update(**changed, updated_at=timezone.now())
        _stock_follows(order, changed)
        return "updated"


def order_fields(resource):
    """Order columns from one JSON:API `orders` resource; KeyError/ValueError when it is unusable.

    Fields Kaspi may send empty or masked (the customer's name and phone) are left out rather
    than stored blank, so they never overwrite what is already known.
    """
    attrs = resource["attributes"]
    kaspi_id, code = str(resource["id"]), str(attrs["code"])
    if not kaspi_id or not code or not attrs.get("status"):
        raise ValueError("an order without id, code or status")
    delivery = _kaspi_delivery(attrs)
    return {
        "kaspi_id": kaspi_id,
        "code": code[:32],
        "state": str(attrs.get("state") or "")[:32],
        "status": str(attrs["status"])[:40],
        "total_price": _money(attrs.get("totalPrice")),
        "delivery_cost": _money(attrs.get("deliveryCost")),
        "delivery_cost_for_seller": _money(attrs.get("deliveryCostForSeller")),
        "payment_mode": str(attrs.get("paymentMode") or "")[:32],
        "credit_term": _bounded(attrs.get("creditTerm"), 1, 600),
        "delivery_mode": str(attrs.get("deliveryMode") or "")[:40],
        "is_kaspi_delivery": bool(attrs.get("isKaspiDelivery")),
        "express": bool(delivery("express")),
        "delivery_address": _address(attrs.get("deliveryAddress")),
        "pickup_point_id": str(attrs.get("pickupPointId") or "")[:64],
        "signature_required": bool(attrs.get("signatureRequired")),
        "pre_order": bool(attrs.get("preOrder")),
        "cancellation_reason": str(attrs.get("cancellationReason") or "")[:64],
        "assembled": bool(attrs.get("assembled")),
        "waybill": _url(delivery("waybill")),
        "waybill_number": clean_text(delivery("waybillNumber"), 64),
        "courier_transmission_planning_date": _moment(delivery("courierTransmissionPlanningDate")),
        "courier_transmission_date": _moment(delivery("courierTransmissionDate")),
        "returned_to_warehouse": bool(delivery("returnedToWarehouse")),
        "created_at_kaspi": _moment(attrs["creationDate"]) or _unusable("creationDate", attrs["creationDate"]),
        "approved_by_bank_at": _moment(attrs.get("approvedByBankDate")),
        "planned_delivery_date": _moment(attrs.get("plannedDeliveryDate")),
        "reservation_date": _moment(attrs.get("reservationDate")),
        **_customer_fields(attrs.get("customer")),
    }


def _kaspi_delivery(attrs):
    """A reader for the Kaspi Delivery fields: real answers nest them in `kaspiDelivery`, the guide lists them flat."""
    nested = attrs.get("kaspiDelivery") if isinstance(attrs.get("kaspiDelivery"), dict) else {}
    return lambda name: nested[name] if nested.get(name) not in (None, "") else attrs.get(name)


def _customer_fields(customer):
    """Name as `firstName lastName` when `name` is empty or only a first name; a masked phone is no phone."""
    customer = customer if isinstance(customer, dict) else {}
    name = clean_text(customer.get("name"), 255)
    full = clean_text(" ".join(str(customer.get(key) or "") for key in ("firstName", "lastName")), 255)
    if not name or (" " not in name and len(full) > len(name)):
        name = full
    phone = clean_text(customer.get("cellPhone"), 32)
    fields = {"customer_name": name} if name else {}
    if phone and not _is_masked(phone):
        fields["customer_phone"] = phone
    return fields


def _is_masked(phone):
    """Kaspi masks the phone on finished orders, e.g. `+0(000)-000-00-00`."""
    digits = [ch for ch in phone if ch.isdigit()]
    return "*" in phone or not digits or set(digits) == {"0"}


# Orders whose lines matter now: they hold stock, or their goods are on the way back.
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
            _store_entries(order, client.entries(order.kaspi_id))
            failures = 0
        except KaspiError as exc:
            failures = failures + 1 if exc.temporary else 0
            if failures >= FAILURES_IN_A_ROW:
                raise
            notes.append(f"order {order.code}: lines not read: {exc}"[:300])
        except (*MALFORMED, DatabaseError) as exc:
            notes.append(f"order {order.code}: lines not read, a malformed line: {exc!r}"[:300])


def entry_fields(resource):
    """Line columns from one `orderentries` resource; KeyError/ValueError when it is unusable.

    Kaspi numbers lines from 0 and may leave out `entryNumber` and `totalPrice`: the line is
    known by its own id, and its total is the unit price times the quantity when not given.
    """
    attrs = resource["attributes"]
    kaspi_id = str(resource["id"] or "")
    if not kaspi_id or attrs.get("quantity") is None:
        raise ValueError("a line without id or quantity")
    offer = attrs.get("offer") if isinstance(attrs.get("offer"), dict) else {}
    category = attrs.get("category") if isinstance(attrs.get("category"), dict) else {}
    quantity = _bounded(attrs["quantity"], 0, MAX_UNITS)
    if quantity is None:
        _unusable("quantity", attrs["quantity"])
    unit = _money(attrs.get("basePrice"))
    total = attrs.get("totalPrice")
    return {
        "kaspi_id": kaspi_id[:255],
        "entry_number": _bounded(attrs.get("entryNumber"), 0, MAX_UNITS),
        "sku": clean_text(offer.get("code"), 64),
        "name": clean_text(offer.get("name"), 1000),
        "quantity": quantity,
        "unit_price": unit,
        "total_price": _money(unit * quantity if total is None else total),
        "category_code": clean_text(category.get("code"), 255),
        "category_title": clean_text(category.get("title"), 255),
        "delivery_cost": _money(attrs.get("deliveryCost")),
        "weight": _weight(attrs.get("weight")),
        "unit_type": clean_text(attrs.get("unitType"), 32),
    }


def _store_entries(order, resources):
    """Make the order's lines what Kaspi has now: new ones added, changed ones updated, gone ones removed.

    A new line of an open order takes what it can from the product's own stock; a line that
    shrinks or goes gives back what it no longer needs.
    """
    rows = {}
    for resource in resources:
        fields = entry_fields(resource)
        rows[fields["kaspi_id"]] = fields
    products = dict(Product.objects.filter(sku__in=[f["sku"] for f in rows.values()]).values_list("sku", "id"))
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        holds = order.is_open and not order.own_units_released  # its own units are still on the shelf
        existing = {}
        for entry in order.entries.all():
            if entry.kaspi_id in rows:
                existing[entry.kaspi_id] = entry
                continue
            if holds:  # gone at Kaspi (cancelled): its own units were never handed over
                _give_own_stock(entry.product_id, entry.own_units)
            entry.delete()  # or a row left by an old import
        for kaspi_id, fields in rows.items():
            fields["product_id"] = products.get(fields["sku"])
            entry = existing.get(kaspi_id)
            if entry is None:
                own = _take_own_stock(fields["product_id"], fields["quantity"]) if holds else 0
                OrderEntry.objects.create(order=order, own_units=own, **fields)
                continue
            if holds and fields["quantity"] < entry.own_units:
                _give_own_stock(entry.product_id, entry.own_units - fields["quantity"])
                fields["own_units"] = fields["quantity"]
            changed = {name: value for name, value in fields.items() if getattr(entry, name) != value}
            if changed:
                OrderEntry.objects.filter(pk=entry.pk).update(**changed)
        Order.objects.filter(pk=order.pk).update(entries_loaded=True)
    if order.returned_to_warehouse and not order.stock_taken_back:
        order_take_back_returned(order=order)  # the return was seen before its lines


def _money(value):
    amount = parse_money(value) or 0
    if amount > MAX_MONEY:
        _unusable("amount", value)
    return amount


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return 0


def _bounded(value, low, high):
    """A whole number from `low` to `high`, or None for anything else (missing, fractional, huge)."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if low <= number <= high else None


def _unusable(name, value):
    raise ValueError(f"an unusable {name}: {str(value)[:40]!r}")


def _weight(value):
    try:
        weight = Decimal(str(value)).quantize(Decimal("0.001"))
    except (InvalidOperation, ValueError):
        return None
    return weight if weight.is_finite() and 0 <= weight < 10**9 else None


def _moment(epoch_ms):
    """Kaspi's epoch milliseconds as a moment; None when missing or not a moment at all."""
    try:
        return datetime.fromtimestamp(int(epoch_ms) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _url(value):
    text = str(value or "").strip()
    return text[:1000] if text.startswith(("https://", "http://")) else ""


def _address(value):
    if isinstance(value, dict):
        return clean_text(value.get("formattedAddress") or ", ".join(str(v) for v in value.values() if v))
    return clean_text(value)


# --- stock held by open orders, and the shop's own stock -----------------------------------------


def reserved_quantities():
    """SKU → units the supplier's stock must keep for orders paid for and not handed over yet.

    Units a line took from the shop's own stock are already off that stock, so they are not
    counted again here.
    """
    rows = (OrderEntry.objects.filter(order__status__in=OPEN_STATUSES)
            .values("sku").annotate(units=Sum(F("quantity") - F("own_units"))).values_list("sku", "units"))
    return {sku: units for sku, units in rows if units}


def _take_own_stock(product_id, wanted):
    """Take up to `wanted` units from a product's own stock; how many it got."""
    if not product_id or wanted <= 0:
        return 0
    have = Product.objects.select_for_update().filter(pk=product_id).values_list("own_stock", flat=True).first()
    taken = min(have or 0, wanted)
    if taken:
        Product.objects.filter(pk=product_id).update(own_stock=F("own_stock") - taken)
    return taken


def _give_own_stock(product_id, units):
    if product_id and units > 0:
        Product.objects.filter(pk=product_id).update(own_stock=F("own_stock") + units)


def _stock_follows(order, changed):
    """Own stock follows the goods.

    An open order cancelled before anything left gives its own-stock units back to the shelf;
    goods that come back from a buyer (returned to the warehouse) become own stock. An order seen
    cancelled and returned at once takes the second path only, so no unit counts twice.
    """
    returned = changed.get("returned_to_warehouse")
    if order.status in OPEN_STATUSES and changed.get("status") == KaspiStatus.CANCELLED and not returned:
        if Order.objects.filter(pk=order.pk, own_units_released=False).update(own_units_released=True):
            for entry in order.entries.filter(own_units__gt=0):
                _give_own_stock(entry.product_id, entry.own_units)
    if returned:
        order_take_back_returned(order=order)


def order_take_back_returned(*, order):
    """Add the units of a returned order to its products' own stock, once per order.

    Units its lines took from own stock and already gave back (the order was cancelled first)
    are not added again.
    """
    # Only once its lines are here: a return seen first is taken back when they arrive (_store_entries).
    if not Order.objects.filter(pk=order.pk, stock_taken_back=False, entries_loaded=True).update(
            stock_taken_back=True):
        return 0
    released = Order.objects.filter(pk=order.pk, own_units_released=True).exists()
    units = 0
    lines = order.entries.filter(product__isnull=False).values_list("product_id", "quantity", "own_units")
    for product_id, quantity, own in lines:
        back = quantity - own if released else quantity
        _give_own_stock(product_id, back)
        units += back
    _event(order, ngettext("%(count)d returned unit added to own stock", "%(count)d returned units added to own stock",
                           units) % {"count": units}, None)
    return units


# --- proposals ------------------------------------------------------------------------------------


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
    held = _held_before(order)
    short, deliverable = [], 0
    for entry in order.entries.all():
        quantity = entry.quantity
        can = min(quantity, entry.own_units + max(0, _supplier_units(entry, held)))
        held[entry.sku] = held.get(entry.sku, 0) + max(0, can - entry.own_units)  # a SKU on two lines
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


def _held_before(order):
    """SKU → supplier units held by accepted orders and by paid orders placed before `order`."""
    earlier = Q(order__status=KaspiStatus.APPROVED_BY_BANK) & (
        Q(order__created_at_kaspi__lt=order.created_at_kaspi)
        | Q(order__created_at_kaspi=order.created_at_kaspi, order__pk__lt=order.pk)
    )
    rows = (OrderEntry.objects.filter(Q(order__status=KaspiStatus.ACCEPTED_BY_MERCHANT) | earlier)
            .values("sku").annotate(units=Sum(F("quantity") - F("own_units"))).values_list("sku", "units"))
    return dict(rows)


def _supplier_units(entry, held):
    """Supplier units still free for this line once what `held` counts is set aside."""
    product = entry.product
    if product is None or not is_sellable(publish=product.publish, at_supplier=product.at_supplier,
                                          price_on_request=product.price_on_request,
                                          price_locked=product.price_locked):
        return 0
    return product.stock - held.get(entry.sku, 0)


# --- status changes --------------------------------------------------------------------------------


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
        _event(order, text % {"action": change.get_action_display(), "detail": _detail(change)}, user)
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
            _("a cancellation comment may be at most %(limit)d characters") % {"limit": MAX_COMMENT}
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
    already shows it, the change is done, and nothing is sent again. An answer counts as a success
    only when it shows the change; otherwise the order is read back and what Kaspi has decides.
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
    if tried_before and not change.is_code_request:
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
        if change.attempts >= settings.STATUS_MAX_ATTEMPTS:
            if not change.is_code_request and _read_back_quietly(client, change):
                return _finish(change, StatusChange.State.DONE, _("found applied at Kaspi when read back"))
            return _give_up(change, exc)
        return _uncertain(change, str(exc))
    return _settle(client, change, body)


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
    shown = _fields(answer_resource(body))
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
    _event(change.order, _("%(action)s: %(state)s") % {"action": change.get_action_display(),
                                                        "state": change.get_state_display()}, None)
    return change


def status_changes_settle(*, client=None):
    """Settle the part cancellations Kaspi is applying: done once the lines show them, failed if they never do."""
    client = client or KaspiClient()
    late = timezone.now() - timedelta(hours=APPLY_HOURS)
    for change in StatusChange.objects.filter(state=StatusChange.State.APPLYING).select_related("order"):
        if _read_back_quietly(client, change):
            _finish(change, StatusChange.State.DONE, _("applied by Kaspi; the lines read back"))
        elif change.sent_at < late:
            _finish(change, StatusChange.State.FAILED, ngettext(
                "Kaspi has not applied it within %(count)d hour: check the order in Kaspi's cabinet",
                "Kaspi has not applied it within %(count)d hours: check the order in Kaspi's cabinet",
                APPLY_HOURS) % {"count": APPLY_HOURS})


def _fields(resource):
    try:
        return order_fields(resource) if resource else None
    except MALFORMED:
        return None


def _read_back(client, change):
    """Read the order (and for a part cancellation its lines) from Kaspi, store it, and say if the change shows."""
    resource = client.order_by_code(change.order.code)
    if resource is None:
        return False
    fields = order_fields(resource)  # an answer not understood is no answer: `_read_back_quietly` says None
    order = order_store(resource)
    if change.action != Action.CANCEL_ENTRY:
        return TRANSITIONS[change.action].applied(fields)
    _store_entries(order, client.entries(order.kaspi_id))
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
    _event(order, _("%(action)s: %(state)s — %(message)s") % {
        "action": change.get_action_display(), "state": change.get_state_display(), "message": message}, None)
    if state == StatusChange.State.DONE and change.action == Action.RETURNED:
        Order.objects.filter(pk=order.pk).update(returned_to_warehouse=True)  # what Kaspi accepted from us
        order_take_back_returned(order=order)
    if state == StatusChange.State.DONE and change.action == Action.CANCEL_ENTRY:
        orders_propose()  # the next short line, or accepting the rest
    change.order = order
    return change


def status_changes_push(*, client=None):
    """Send every approved change, and settle those whose answer was lost (also a stuck 'sending').

    One sweep at a time, whoever starts it (the schedule or the command): a second raises `JobBusy`.
    """
    with job_lock("status-push"):
        return _push(client or KaspiClient())


def _push(client):
    stale = timezone.now() - timedelta(minutes=10)
    StatusChange.objects.filter(state=StatusChange.State.SENDING, sent_at__lt=stale).update(
        state=StatusChange.State.UNCERTAIN, message=_("the sending worker stopped without an answer"))
    due = StatusChange.objects.filter(state__in=[StatusChange.State.APPROVED, StatusChange.State.UNCERTAIN])
    results = [status_change_send(change_id=pk, client=client) for pk in due.values_list("pk", flat=True)]
    status_changes_settle(client=client)
    return {state: sum(1 for change in results if change.state == state) for state in StatusChange.State.values}


def _label(choices, value):
    return choices(value).label if value in choices.values else value


def _event(order, text, user):
    OrderEvent.objects.create(order=order, status=order.status, state=order.state, text=text, user=user)


def _detail(change):
    parts = [change.get_reason_display() if change.reason else "", change.comment]
    if change.places:
        parts.insert(0, ngettext("%(count)d parcel", "%(count)d parcels", change.places) % {"count": change.places})
    if change.sku:
        parts.insert(0, _("%(sku)s: keep %(keep)d") % {"sku": change.sku, "keep": change.keep_quantity})
    text = "; ".join(part for part in parts if part)
    return f" ({text})" if text else ""
