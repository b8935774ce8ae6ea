"""Sending a supplier order to Al-Style exactly once, never touching someone else's cart.

The cart is one per token and shared with the partner's people in the B2B portal. A send holds a
lock across workers and machines (`CART_LOCK`), claims the row, reads the cart and refuses when it
holds anything it did not put there; then it adds its lines, reads the cart back, checks articles,
quantities and prices, and submits. A submit whose answer was lost is looked for among Al-Style's
newest orders before anything is sent again; when it cannot be found and the cart is empty, nothing
is added again by itself: a person decides.
"""

import json
import logging
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from catalog.alstyle import ORDER_TYPES, AlstyleClient, AlstyleError
from common.http import Cause
from jobs.locks import JobBusy, holder_id, job_lock
from orders.models import OrderEntry

from .models import SupplierOrder, SupplierOrderEvent
from .services import default_entry, entry_label, kaspi_codes, supplier_order_withdraw_closed, user_data

log = logging.getLogger(__name__)

State = SupplierOrder.State
CART_LOCK = "alstyle-cart"
MAX_ATTEMPTS = 8  # a send that cannot settle after this many tries is held for a person
MAX_CANDIDATES = 10  # newest orders of the right time and sum whose carts are read, per lookup
CLOCK_SLACK = timedelta(minutes=5)  # how far behind ours Al-Style's clock may be when it dates an order


def supplier_order_send(*, supplier_order_id, client=None):
    """Send one approved supplier order (or settle one whose last attempt got no answer), once.

    Another send holding the cart leaves this one as it is, for the next sweep.
    """
    client = _configured(client)
    try:
        with job_lock(CART_LOCK):
            _release_abandoned()
            return _claim_and_send(client, supplier_order_id)
    except JobBusy:
        return SupplierOrder.objects.get(pk=supplier_order_id)


def supplier_orders_send_due(*, client=None):
    """Send every approved supplier order and settle those whose answer was lost (also a "sending" one
    whose process died); the supplier orders tried. Another send holding the cart: none, this time."""
    due = SupplierOrder.objects.filter(state__in=[State.APPROVED, State.UNCERTAIN, State.SENDING])
    if not due.exists():
        return []
    client = _configured(client)
    try:
        with job_lock(CART_LOCK):
            _release_abandoned()
            # One that filled the cart settles first: its lines there would hold up the others.
            pks = due.exclude(state=State.SENDING).order_by("-cart_filled", "pk").values_list("pk", flat=True)
            return [_claim_and_send(client, pk) for pk in pks]
    except JobBusy:
        return []


def _configured(client):
    """Checked before claiming: a missing setting must not hold the orders themselves."""
    client = client or AlstyleClient()
    if not client.token:
        raise AlstyleError("ALSTYLE_TOKEN is not set", temporary=False, cause=Cause.NOT_CONFIGURED)
    return client


def _release_abandoned():
    """With the cart lock held no other send is at work: a row still "sending" lost its process."""
    for supplier_order in SupplierOrder.objects.filter(state=State.SENDING):
        _retry_later(supplier_order, _("the sending worker stopped without an answer"))


def _claim_and_send(client, pk):
    claimed = SupplierOrder.objects.filter(pk=pk, state__in=[State.APPROVED, State.UNCERTAIN]).update(
        state=State.SENDING, attempts=F("attempts") + 1, claimed_by=holder_id(), claimed_at=timezone.now())
    supplier_order = SupplierOrder.objects.get(pk=pk)
    if not claimed:
        return supplier_order  # another worker sent it, or it is finished
    if not supplier_order.cart_filled and not supplier_order.submitted_at:
        with transaction.atomic():
            supplier_order_withdraw_closed(supplier_order)  # Kaspi orders cancelled since the approval
        supplier_order.refresh_from_db()
        if supplier_order.state != State.SENDING:
            return supplier_order
    try:
        return _send(client, supplier_order)
    except AlstyleError as exc:  # a read that failed: nothing more is known, nothing more is sent
        if not exc.temporary:
            return _hold(supplier_order, str(exc))
        return _retry_later(supplier_order, str(exc))


def _send(client, supplier_order):
    if supplier_order.submitted_at:
        found = _find_submitted(client, supplier_order)
        if found:
            return _sent(supplier_order, *found)
    cart = _by_article(client.cart_get())
    ours = _ours(supplier_order)
    mine = bool(cart) and supplier_order.cart_filled and _leftovers(cart, ours)  # all in it is ours
    if mine and supplier_order.submitted_at:
        _mark(supplier_order, submitted_at=None)  # a submit empties the cart: the lost one made no order
    if mine and _quantities_of(cart) == ours:
        return _check_and_submit(client, supplier_order, cart)  # an earlier attempt filled it and stopped
    if mine:
        _take_back(client, supplier_order, cart)
        return _retry_later(supplier_order, _("part of our lines were left in the cart: taken back, to be sent "
                                              "again"))
    if cart and (other := _filled_by_another(supplier_order, cart)):
        return _retry_later(supplier_order, _("the cart holds the lines of supplier order %(number)s: this one "
                                              "waits for it") % {"number": other})
    if cart:
        return _hold(supplier_order, _("Al-Style's cart is not empty (%(items)s): someone else's items, so "
                                       "nothing was added, submitted or cleared. Empty the cart in the B2B "
                                       "portal (or submit it there), then approve again.") % {
            "items": _items_text(cart)})
    if supplier_order.submitted_at and not _resend_approved(supplier_order):
        return _unconfirmed(supplier_order)
    return _fill(client, supplier_order, ours)


def _resend_approved(supplier_order):
    """Held after a lost submit nobody could find, and approved again by a person who checked the B2B
    portal: the lookup just ran once more and the cart is empty, so the lines go again."""
    if not (supplier_order.approved_by_id and supplier_order.approved_at > supplier_order.submitted_at):
        return False
    _mark(supplier_order, submitted_at=None)
    SupplierOrderEvent.note(supplier_order, _("approved again after the lost submit: sent again"))
    return True


def _filled_by_another(supplier_order, cart):
    """Another supplier order of ours whose lines are what the cart holds (it settles first); its number."""
    for other in SupplierOrder.objects.filter(cart_filled=True).exclude(pk=supplier_order.pk):
        if _leftovers(cart, _ours(other)):
            return other.pk
    return None


def _fill(client, supplier_order, ours):
    _mark(supplier_order, cart_filled=True)  # from here on the cart may hold our lines
    try:
        client.cart_add(list(ours.items()))
        SupplierOrderEvent.note(supplier_order, _("added to Al-Style's cart: %(items)s") % {
            "items": _items_text(ours)})
    except AlstyleError as exc:
        SupplierOrderEvent.note(supplier_order, _("adding to the cart: %(error)s") % {"error": exc})
        if not exc.maybe_applied:
            _mark(supplier_order, cart_filled=False)
            return (_retry_later if exc.temporary else _hold)(supplier_order, str(exc))
    cart = _by_article(client.cart_get())
    if not cart:
        _mark(supplier_order, cart_filled=False)
        return _retry_later(supplier_order, _("nothing reached the cart; to be sent again"))
    if set(cart) - set(ours):
        _take_back(client, supplier_order, cart)
        return _hold(supplier_order, _("someone put other items in the cart while ours were added (%(items)s): "
                                       "ours were taken back, theirs left as they are") % {
            "items": _items_text({a: item for a, item in cart.items() if a not in ours})})
    return _check_and_submit(client, supplier_order, cart)


def _check_and_submit(client, supplier_order, cart):
    problems = _problems(supplier_order, cart)
    if problems:
        _take_back(client, supplier_order, cart)
        return _hold(supplier_order, "; ".join(problems))
    return _submit(client, supplier_order, cart)


def _problems(supplier_order, cart):
    """What the cart shows that was not expected: a missing article, another quantity, a higher price."""
    tolerance = Decimal(str(settings.SUPPLIER_PRICE_TOLERANCE_PERCENT))
    problems = []
    for line in supplier_order.lines.filter(quantity__gt=0):
        item = cart.get(line.article)
        if item is None:
            problems.append(_("article %(article)s did not go into the cart (out of stock?)") % {
                "article": line.article})
            continue
        if item["quantity"] != line.quantity:
            problems.append(_("article %(article)s: the cart holds %(held)d, not %(quantity)d (sold in multiples of "
                              "%(multiple)s)") % {"article": line.article, "held": item["quantity"],
                                                  "quantity": line.quantity, "multiple": item.get("multiplicity") or 1})
        price = item.get("price")
        line.cart_price = price
        line.save(update_fields=["cart_price"])
        if price is None:
            problems.append(_("article %(article)s: the cart shows no price") % {"article": line.article})
        elif line.expected_price is None or price * 100 > line.expected_price * (100 + tolerance):
            problems.append(_("article %(article)s costs %(price)s ₸, above the expected %(expected)s ₸ by more than "
                              "%(tolerance)s %%: approve again to buy at this price, or reject") % {
                "article": line.article, "price": price, "expected": line.expected_price or "—",
                "tolerance": settings.SUPPLIER_PRICE_TOLERANCE_PERCENT})
    return problems


def _submit(client, supplier_order, cart):
    attorney, delivery = _terms(client, supplier_order)
    if not attorney or not delivery:
        _take_back(client, supplier_order, cart)
        return _hold(supplier_order, _("choose a power of attorney and a delivery method: Al-Style's user-data "
                                       "marks none as the default (Основной)"))
    shipping = _shipping_date(supplier_order)
    codes = kaspi_codes(supplier_order)
    _mark(supplier_order, submitted_at=timezone.now(), external_id=codes[:255], attorney=attorney,
          delivery=delivery, shipping_date=shipping,
          submitted_total=sum(item["quantity"] * (item.get("price") or 0) for item in cart.values()))
    SupplierOrderEvent.note(supplier_order, _("submitting: shipping %(date)s, %(attorney)s, %(delivery)s, "
                                              "reference %(codes)s") % {
        "date": shipping.strftime("%d.%m.%Y"), "attorney": entry_label(attorney), "delivery": entry_label(delivery),
        "codes": codes})
    try:
        alstyle_id = client.cart_submit(shipping_date=shipping, attorney=attorney, delivery=delivery,
                                        external_id=codes, comments=_("Kaspi orders %(codes)s") % {"codes": codes})
    except AlstyleError as exc:
        return _submit_failed(client, supplier_order, cart, exc)
    return _sent(supplier_order, alstyle_id, json.dumps({"status": "ok", "id": alstyle_id}))


def _submit_failed(client, supplier_order, cart, exc):
    if exc.maybe_applied:  # the order may exist all the same: look before anything else
        SupplierOrderEvent.note(supplier_order, _("submit: %(error)s; looking for it among Al-Style's newest "
                                                  "orders") % {"error": exc})
        try:
            found = _find_submitted(client, supplier_order)
        except AlstyleError as lookup:
            found = None
            log.warning("supplier order %s: lookup failed: %s", supplier_order.pk, lookup)
        if found:
            return _sent(supplier_order, *found)
        return _retry_later(supplier_order, str(exc))
    _mark(supplier_order, submitted_at=None)  # refused, or never sent: no order was made
    if exc.temporary:
        return _retry_later(supplier_order, str(exc))
    _take_back(client, supplier_order, cart)
    return _hold(supplier_order, _("Al-Style refused the order: %(error)s") % {"error": exc})


def _find_submitted(client, supplier_order):
    """(Al-Style order id, its answer) of the order a lost submit made, or None when there is none yet.

    The list does not show `external_id`: a candidate is an order placed since the submit, of its sum,
    that no other supplier order has; its cart, read with `order(id)`, must hold exactly our lines.
    """
    known = set(SupplierOrder.objects.exclude(pk=supplier_order.pk).exclude(alstyle_id=None)
                .values_list("alstyle_id", flat=True))
    ours = _ours(supplier_order)
    candidates = []
    for kind in ORDER_TYPES:  # a new order is usually among the заявки; it may have moved on already
        elements, _pagination = client.orders(type=kind, page=1)
        for element in elements:
            number = whole_number(element.get("id"))
            if number and number not in known and number not in candidates and _may_be(element, supplier_order):
                candidates.append(number)
    for number in candidates[:MAX_CANDIDATES]:
        order = client.order(number)
        if cart_quantities(order.get("cart")) == ours:
            SupplierOrderEvent.note(supplier_order, _("found among Al-Style's orders: №%(number)s") % {
                "number": number})
            return number, json.dumps(order, ensure_ascii=False, default=str)[:4000]
    return None


def _may_be(element, supplier_order):
    """Placed since the submit (an earlier order of the same goods is someone else's) and of its sum."""
    since = supplier_order.submitted_at - CLOCK_SLACK
    when, day = moment_of(element.get("date")), day_of(element.get("date"))
    recent = when >= since if when else day is None or day >= timezone.localdate(since)
    total = whole_number(element.get("sum"))
    return recent and (total is None or not supplier_order.submitted_total or total == supplier_order.submitted_total)


def moment_of(value):
    """An order's `date` with its time (12.05.2026 10:15:00 or ISO, Almaty time); None when it has none."""
    text = str(value or "").strip()
    for pattern, size in (("%d.%m.%Y %H:%M:%S", 19), ("%Y-%m-%d %H:%M:%S", 19), ("%Y-%m-%dT%H:%M:%S", 19),
                          ("%d.%m.%Y %H:%M", 16)):
        try:
            return timezone.make_aware(datetime.strptime(text[:size], pattern))
        except ValueError:
            continue
    return None


def day_of(value):
    """The day of an order's `date` as Al-Style writes it (12.05.2026 10:15:00 or ISO); None when unreadable."""
    text = str(value or "").strip()
    for pattern, size in (("%d.%m.%Y", 10), ("%Y-%m-%d", 10)):
        try:
            return datetime.strptime(text[:size], pattern).date()
        except ValueError:
            continue
    return None


def whole_number(value):
    try:
        return int(Decimal(str(value).replace(" ", "").replace(",", ".")))
    except (ArithmeticError, ValueError, TypeError):
        return None


def cart_quantities(cart):
    """Article → units of an order's `cart` list (rows of one article added up)."""
    units = {}
    for row in cart if isinstance(cart, list) else []:
        article, quantity = whole_number((row or {}).get("article")), whole_number((row or {}).get("quantity"))
        if article is None or quantity is None:
            return None
        units[article] = units.get(article, 0) + quantity
    return units


def _unconfirmed(supplier_order):
    """A submit went out, the cart is empty, and no new order shows it: it most likely went through.
    Adding the lines again could order them twice, so it waits; in the end a person looks."""
    if supplier_order.attempts >= MAX_ATTEMPTS:
        return _hold(supplier_order, _("the submit got no answer and its order was not found among Al-Style's "
                                       "newest orders, yet the cart is empty: check the orders in the B2B portal; "
                                       "approve again only if the order is not there"))
    return _retry_later(supplier_order, _("the submit got no answer; its order is not among Al-Style's newest yet"))


def _sent(supplier_order, alstyle_id, answer):
    """Sent: Al-Style's number stored, and the reservations of the Kaspi lines it buys for released."""
    with transaction.atomic():
        if not SupplierOrder.objects.filter(pk=supplier_order.pk, state=State.SENDING).update(
                state=State.SENT, alstyle_id=alstyle_id, answer=answer, sent_at=timezone.now(), cart_filled=False,
                message=_("Al-Style order №%(number)s") % {"number": alstyle_id}):
            supplier_order.refresh_from_db()
            return supplier_order
        supplier_order.refresh_from_db()
        _release_reservations(supplier_order)
        SupplierOrderEvent.note(supplier_order, _("sent: Al-Style order №%(number)s") % {"number": alstyle_id})
    return supplier_order


def _release_reservations(supplier_order):
    """Al-Style's stock drops by what it sold us: the Kaspi lines no longer hold those units of it."""
    bought = dict(supplier_order.lines.values_list("article", "quantity"))
    for coverage in supplier_order.coverage.order_by("pk"):
        units = min(coverage.units, bought.get(coverage.article, 0))
        bought[coverage.article] = bought.get(coverage.article, 0) - units
        coverage.bought = units
        coverage.save(update_fields=["bought"])
        if units and coverage.entry_id:
            OrderEntry.objects.filter(pk=coverage.entry_id).update(bought_units=F("bought_units") + units)


def _take_back(client, supplier_order, cart):
    """Remove our lines from the cart (we put them into an empty one); what others added stays, and so
    does a line of ours that holds more than ours: `remove` would take someone else's units with it."""
    ours = _ours(supplier_order)
    left = []
    for article in [article for article in cart if article in ours]:
        if cart[article]["quantity"] > ours[article]:
            left.append(str(article))
            continue
        try:
            client.cart_remove(article)
        except AlstyleError as exc:
            left.append(str(article))
            log.warning("supplier order %s: article %s not taken back: %s", supplier_order.pk, article, exc)
    if not left:
        _mark(supplier_order, cart_filled=False)
    text = (_("our lines taken back out of the cart") if not left
            else _("not taken back out of the cart: %(articles)s") % {"articles": ", ".join(left)})
    SupplierOrderEvent.note(supplier_order, text)


def _terms(client, supplier_order):
    """The power of attorney and delivery method chosen, else those Al-Style marks Основной."""
    attorney, delivery = supplier_order.attorney, supplier_order.delivery
    if not attorney or not delivery:
        data = user_data(client=client)
        attorney = attorney or default_entry(data["attorneys"])
        delivery = delivery or default_entry(data["carriers"])
    return attorney, delivery


def _shipping_date(supplier_order):
    chosen = supplier_order.shipping_date
    return chosen if chosen and chosen >= timezone.localdate() else next_working_day(timezone.localdate())


def next_working_day(start, days=None):
    """`days` (SUPPLIER_SHIPPING_DAYS) working days after `start`, Saturdays and Sundays skipped."""
    days = settings.SUPPLIER_SHIPPING_DAYS if days is None else days
    day = start
    while days > 0 or day.weekday() >= 5:
        day += timedelta(days=1)
        days -= day.weekday() < 5
    return day


def _ours(supplier_order):
    return dict(supplier_order.lines.filter(quantity__gt=0).values_list("article", "quantity"))


def _by_article(items):
    """Cart items by article; each item's quantity the sum of its rows."""
    cart = {}
    for item in items:
        article = item["article"]
        if article in cart:
            cart[article] = {**cart[article], "quantity": cart[article]["quantity"] + item["quantity"]}
        else:
            cart[article] = dict(item)
    return cart


def _quantities_of(cart):
    return {article: item["quantity"] for article, item in cart.items()}


def _leftovers(cart, ours):
    """The cart holds only part of our lines (an add or a take-back cut short)."""
    return all(article in ours and item["quantity"] <= ours[article] for article, item in cart.items())


def _items_text(items):
    parts = []
    for article, item in items.items():
        quantity = item["quantity"] if isinstance(item, dict) else item
        parts.append(f"{article} × {quantity}")
    return ", ".join(parts)


def _mark(supplier_order, **fields):
    SupplierOrder.objects.filter(pk=supplier_order.pk).update(**fields)
    for name, value in fields.items():
        setattr(supplier_order, name, value)


def _retry_later(supplier_order, message):
    """Not sent (yet): tried again by the next sweep, uncertain when something may have reached Al-Style."""
    if supplier_order.attempts >= MAX_ATTEMPTS:
        return _hold(supplier_order, ngettext(
            "gave up after %(count)d attempt: %(error)s", "gave up after %(count)d attempts: %(error)s",
            supplier_order.attempts) % {
            "count": supplier_order.attempts, "error": message})
    doubt = supplier_order.cart_filled or supplier_order.submitted_at
    return _settle(supplier_order, State.UNCERTAIN if doubt else State.APPROVED, message)


def _hold(supplier_order, message):
    """Stopped for a person: they approve it again (after fixing what it says) or reject it; people are told."""
    return _settle(supplier_order, State.HELD, message, notify=True)


def _settle(supplier_order, state, message, *, notify=False):
    if not SupplierOrder.objects.filter(pk=supplier_order.pk, state=State.SENDING).update(
            state=state, message=message[:2000]):
        supplier_order.refresh_from_db()
        return supplier_order
    supplier_order.refresh_from_db()
    SupplierOrderEvent.note(supplier_order, f"{supplier_order.get_state_display()}: {message}", notify=notify)
    return supplier_order
