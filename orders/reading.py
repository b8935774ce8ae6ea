"""Kaspi's orders and lines as rows: what each answer means, stored once, one bad record at a time."""

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import Product, effective_cost
from common.money import parse_money
from common.text import clean_text
from jobs.models import JobRun

from .models import FINAL_STATUSES, KaspiState, KaspiStatus, Order, OrderEntry, OrderEvent, customer_search_fields
from .money import order_money_refresh
from .stock import give_own_stock, order_take_back_returned, stock_follows, take_own_stock

MAX_UNITS = 100_000
LINK_BATCH = 1000  # SKUs per query when lines are linked to the products that kept them
# What an answer that does not parse raises (huge numbers: OverflowError).
MALFORMED = (KeyError, TypeError, ValueError, ArithmeticError)


def order_store(resource):
    """Store one order resource as Kaspi sent it; the order row, or None when it is unusable."""
    tally = JobRun(kind="sync_orders")  # counts of this one-off store; not saved
    tally.lines = []
    store_page([resource], set(), tally)
    return Order.objects.filter(kaspi_id=str(resource.get("id"))).first()


def store_page(resources, seen, run):
    """Store one page of orders, counting on `run`; an order stored as it is costs no write."""
    page = []
    for resource in resources:
        run.received += 1
        try:
            fields = order_fields(resource)
        except MALFORMED as exc:
            run.skipped += 1
            run.lines.append((_("skipped a malformed order: %(error)r") % {"error": exc})[:300])
            continue
        if fields["kaspi_id"] not in seen:
            seen.add(fields["kaspi_id"])
            page.append(fields)
    ids = [f["kaspi_id"] for f in page]
    stored = {order.kaspi_id: order for order in Order.objects.filter(kaspi_id__in=ids)}
    for fields in page:
        order = stored.get(fields["kaspi_id"])
        try:
            outcome = "unchanged" if order is not None and not _changed_fields(order, fields) else upsert_order(fields)
        except DatabaseError as exc:  # a value the database refuses: this order only
            outcome = "skipped"
            run.lines.append((_("order %(code)s not stored: %(error)s") % {"code": fields["code"], "error": exc})[:300])
        setattr(run, outcome, getattr(run, outcome) + 1)
    Order.objects.filter(kaspi_id__in=ids).update(refreshed_at=timezone.now())  # read just now: not stale


def _changed_fields(order, fields):
    # The customer's fields read decrypted and their search forms are keyed the same way every time:
    # an unchanged order compares equal and is not encrypted again (each encryption makes a new token).
    return {name: value for name, value in fields.items() if getattr(order, name) != value}


def upsert_order(fields):
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
        stock_follows(order, changed)
        if "delivery_cost_for_seller" in changed:
            order_money_refresh(order.pk)
        return "updated"


def order_fields(resource):
    """Order columns from one JSON:API `orders` resource; KeyError/ValueError when it is unusable.

    Fields Kaspi may send empty or masked (the customer's name and phone) are left out rather
    than stored blank, so they never overwrite what is already known.
    """
    attrs = resource["attributes"]
    kaspi_id, code = _identifier(resource.get("id")), _identifier(attrs.get("code"))
    if not kaspi_id or not code or not attrs.get("status"):
        raise ValueError(_("an order without id, code or status"))
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


def fields_or_none(resource):
    try:
        return order_fields(resource) if resource else None
    except MALFORMED:
        return None


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
    return {**fields, **customer_search_fields(fields)}  # compared and written with the rest


def _is_masked(phone):
    """Kaspi masks the phone on finished orders, e.g. `+0(000)-000-00-00`."""
    digits = [ch for ch in phone if ch.isdigit()]
    return "*" in phone or not digits or set(digits) == {"0"}


# Orders whose lines matter now: they hold stock, or their goods are on the way back.


def entry_fields(resource):
    """Line columns from one `orderentries` resource; KeyError/ValueError when it is unusable.

    Kaspi numbers lines from 0 and may leave out `entryNumber` and `totalPrice`: the line is
    known by its own id, and its total is the unit price times the quantity when not given.
    """
    attrs = resource["attributes"]
    kaspi_id = str(resource["id"] or "")
    if not kaspi_id or attrs.get("quantity") is None:
        raise ValueError(_("a line without id or quantity"))
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


def store_entries(order, resources):
    """Make the order's lines what Kaspi has now: new ones added, changed ones updated, gone ones removed.

    A new line of an open order takes what it can from the product's own stock; a line that
    shrinks or goes gives back what it no longer needs.
    """
    rows = {}
    for resource in resources:
        fields = entry_fields(resource)
        rows[fields["kaspi_id"]] = fields
    skus = [f["sku"] for f in rows.values()]
    found = (Product.objects.filter(Q(sku__in=skus) | Q(kaspi_sku__in=skus))
             .values_list("sku", "kaspi_sku", "id", "own_stock", "purchase_price", "discount_price"))
    # A line names the SKU the feed published: the shop's own Kaspi SKU where it kept one.
    products = {sku: pk for sku, _kaspi, pk, *_rest in found}
    products.update({kaspi: pk for _sku, kaspi, pk, *_rest in found if kaspi})
    costs = {pk: _unit_cost(effective_cost(purchase, discount)) for _s, _k, pk, _o, purchase, discount in found}
    shelved = {pk for _s, _k, pk, own, *_rest in found if own > 0}  # only these can give a new line own units
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        holds = order.is_open and not order.own_units_released  # its own units are still on the shelf
        existing = {}
        for entry in order.entries.all():
            if entry.kaspi_id in rows:
                existing[entry.kaspi_id] = entry
                continue
            if holds:  # gone at Kaspi (cancelled): its own units were never handed over
                give_own_stock(entry.product_id, entry.own_units)
            entry.delete()  # or a row left by an old import
        new = []
        for kaspi_id, fields in rows.items():
            fields["product_id"] = products.get(fields["sku"])
            entry = existing.get(kaspi_id)
            if entry is None:
                takes = holds and fields["product_id"] in shelved
                own = take_own_stock(fields["product_id"], fields["quantity"]) if takes else 0
                # The cost is what the goods cost when the line came in; later price moves leave it.
                new.append(OrderEntry(order=order, own_units=own, unit_cost=costs.get(fields["product_id"]), **fields))
                continue
            if entry.unit_cost is None and fields["product_id"] is not None:
                fields["unit_cost"] = costs[fields["product_id"]]  # linked only now (e.g. its SKU was taken over)
            if holds and fields["quantity"] < entry.own_units:
                give_own_stock(entry.product_id, entry.own_units - fields["quantity"])
                fields["own_units"] = fields["quantity"]
            changed = {name: value for name, value in fields.items() if getattr(entry, name) != value}
            if changed:
                OrderEntry.objects.filter(pk=entry.pk).update(**changed)
        OrderEntry.objects.bulk_create(new)
        Order.objects.filter(pk=order.pk).update(entries_loaded=True)
        order_money_refresh(order.pk)
    if order.returned_to_warehouse and not order.stock_taken_back:
        order_take_back_returned(order=order)  # the return was seen before its lines


def order_entries_link(*, kept):
    """Link the lines that came in under a SKU no product had to the product that keeps it now.

    `kept` is a list of (product id, SKU), as `catalog.models.skus_kept` sends it when products take
    the SKUs of the shop's price list. The lines take the product's cost as it is now (the best known
    for lines that had none) and their orders' money is counted again. How many lines were linked.
    """
    product_of = {sku: pk for pk, sku in kept}
    skus = list(product_of)
    lines = defaultdict(list)  # product id → [(line id, order id)]
    for start in range(0, len(skus), LINK_BATCH):
        unlinked = OrderEntry.objects.filter(product=None, sku__in=skus[start:start + LINK_BATCH])
        for pk, sku, order_id in unlinked.values_list("pk", "sku", "order_id"):
            lines[product_of[sku]].append((pk, order_id))
    found = Product.objects.filter(pk__in=list(lines)).values_list("id", "purchase_price", "discount_price")
    costs = {pk: _unit_cost(effective_cost(purchase, discount)) for pk, purchase, discount in found}
    with transaction.atomic():
        for product_id, entries in lines.items():
            OrderEntry.objects.filter(pk__in=[pk for pk, _order in entries], product=None).update(
                product_id=product_id, unit_cost=costs.get(product_id))
        for order_id in sorted({order_id for entries in lines.values() for _pk, order_id in entries}):
            order_money_refresh(order_id)
    return sum(map(len, lines.values()))


def _unit_cost(cost):
    return cost if cost is not None and cost > 1 else None  # a price on request is no cost


def _money(value):
    return parse_money(value) or 0  # AmountOutOfRange (a ValueError) makes the order or line unusable


def _identifier(value):
    """An id or a number as text; empty for what is none (None, "", a list, True)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return ""
    return str(value).strip()


def whole_or_zero(value):
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
    raise ValueError(_("an unusable %(field)s: %(value)r") % {"field": name, "value": str(value)[:40]})


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


def _label(choices, value):
    return choices(value).label if value in choices.values else value
