"""Stock and orders: what open orders hold of the supplier's stock, and the shop's own stock (returns)."""


from django.db.models import F, IntegerField, Q, Subquery, Sum, Value
from django.db.models.functions import Greatest
from django.utils.translation import ngettext

from catalog.models import Product
from catalog.offers import is_sellable

from .models import OPEN_STATUSES, KaspiStatus, Order, OrderEntry, OrderEvent

# What a line still holds of the supplier's stock. Units it took from the shop's own stock are off
# that stock already, and so are units bought in a supplier order sent to Al-Style (its stock drops
# by them there): neither is counted again.
HELD_UNITS = Greatest(F("quantity") - F("own_units") - F("bought_units"), Value(0), output_field=IntegerField())


def reserved_quantities():
    """SKU → units the supplier's stock must keep for orders paid for and not handed over yet."""
    rows = (OrderEntry.objects.filter(order__status__in=OPEN_STATUSES)
            .values("sku").annotate(units=Sum(HELD_UNITS)).values_list("sku", "units"))
    return {sku: units for sku, units in rows if units}


def reserved_of_product(product):
    """Supplier units open orders hold of a product (a pk, or an `OuterRef` to annotate many), as a subquery;
    by product, not SKU, as `held_before` counts them."""
    held = (OrderEntry.objects.filter(order__status__in=OPEN_STATUSES, product=product)
            .values("product").annotate(units=Sum(HELD_UNITS)).values("units"))
    return Subquery(held, output_field=IntegerField())


def held_before(order):
    """Product id → supplier units held by accepted orders and by paid orders placed before `order` (by
    product, not SKU: lines of one product may name its derived SKU or the one the shop kept)."""
    earlier = Q(order__status=KaspiStatus.APPROVED_BY_BANK) & (
        Q(order__created_at_kaspi__lt=order.created_at_kaspi)
        | Q(order__created_at_kaspi=order.created_at_kaspi, order__pk__lt=order.pk)
    )
    rows = (OrderEntry.objects.filter(Q(order__status=KaspiStatus.ACCEPTED_BY_MERCHANT) | earlier,
                                      product__isnull=False)
            .values("product_id").annotate(units=Sum(HELD_UNITS))
            .values_list("product_id", "units"))
    return dict(rows)


def supplier_units(entry, held):
    """Supplier units still free for this line once what `held` counts is set aside."""
    product = entry.product
    if product is None or not is_sellable(publish=product.publish, at_supplier=product.at_supplier,
                                          price_on_request=product.price_on_request,
                                          price_locked=product.price_locked):
        return 0
    return product.stock - held.get(entry.product_id, 0)


def take_own_stock(product_id, wanted):
    """Take up to `wanted` units from a product's own stock; how many it got."""
    if not product_id or wanted <= 0:
        return 0
    have = Product.objects.select_for_update().filter(pk=product_id).values_list("own_stock", flat=True).first()
    taken = min(have or 0, wanted)
    if taken:
        Product.objects.filter(pk=product_id).update(own_stock=F("own_stock") - taken)
    return taken


def give_own_stock(product_id, units):
    if product_id and units > 0:
        Product.objects.filter(pk=product_id).update(own_stock=F("own_stock") + units)


def stock_follows(order, changed):
    """Own stock follows the goods.

    An open order cancelled before anything left gives its own-stock units back to the shelf;
    goods that come back from a buyer (returned to the warehouse) become own stock. An order seen
    cancelled and returned at once takes the second path only, so no unit counts twice.
    """
    returned = changed.get("returned_to_warehouse")
    if order.status in OPEN_STATUSES and changed.get("status") == KaspiStatus.CANCELLED and not returned:
        if Order.objects.filter(pk=order.pk, own_units_released=False).update(own_units_released=True):
            for entry in order.entries.filter(own_units__gt=0):
                give_own_stock(entry.product_id, entry.own_units)
    if returned:
        order_take_back_returned(order=order)


def order_take_back_returned(*, order):
    """Add the units of a returned order to its products' own stock, once per order.

    Units its lines took from own stock and already gave back (the order was cancelled first)
    are not added again.
    """
    # Only once its lines are here: a return seen first is taken back when they arrive (store_entries).
    if not Order.objects.filter(pk=order.pk, stock_taken_back=False, entries_loaded=True).update(
            stock_taken_back=True):
        return 0
    released = Order.objects.filter(pk=order.pk, own_units_released=True).exists()
    units = 0
    lines = order.entries.filter(product__isnull=False).values_list("product_id", "quantity", "own_units")
    for product_id, quantity, own in lines:
        back = quantity - own if released else quantity
        give_own_stock(product_id, back)
        units += back
    text = ngettext("%(count)d returned unit added to own stock", "%(count)d returned units added to own stock", units)
    OrderEvent.note(order, text % {"count": units}, None)
    return units
