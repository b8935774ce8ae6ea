"""A product's whole story for its admin page: what set its price, what it costs and earns, its stock at the
supplier and what open orders hold of it, what the feed offers per store, and the orders that sold it.

The catalogue sits below orders, but a manager reading about a product needs both: this page reads the
orders app's public pieces (its models, `stock.reserved_of_product`, `money.SEES_MONEY`), and nothing in
orders reads this module.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from common.format import decimal, moment, tenge
from orders.models import OrderEntry, customer_data
from orders.money import SEES_MONEY
from orders.stock import reserved_of_product

from .models import PriceChange, Product, Store, is_price_on_request
from .offers import OfferError, iter_offers
from .pricing import price_story

LAST_ORDERS = 5


@dataclass(frozen=True)
class StoreOffer:
    name: str
    available: bool
    stock: str
    preorder: str


@dataclass(frozen=True)
class OrderLine:
    order: object  # orders.Order
    quantity: int
    unit_price: str


@dataclass(frozen=True)
class Story:
    price: str
    rule: str  # how the price is worked out (`pricing.price_story`)
    last_change: str  # the last move of the price: by what or whom, when
    cost: str
    margin: str | None  # None: this user does not see margins
    supplier_stock: str
    warehouses: str
    own_stock: str
    reserved: str
    stores: list  # of StoreOffer, one per active store
    not_offered: str  # why the feed lists no offer for it, when it does not
    last_orders: list  # of OrderLine, the newest first


def units(count):
    return ngettext("%(count)d unit", "%(count)d units", count) % {"count": count}


def product_story(product, user):
    reserved = Product.objects.filter(pk=product.pk).values_list(reserved_of_product(product.pk), flat=True).get()
    stores, not_offered = _store_offers(product, reserved or 0)
    return Story(
        price=tenge(product.price), rule=price_story(product), last_change=_last_change(product),
        cost=_cost(product), margin=_margin(product) if user.has_perm(SEES_MONEY) else None,
        supplier_stock=_supplier_stock(product),
        warehouses=", ".join(f"{code}: {count}" for code, count in sorted(product.warehouse_stock.items())) or "—",
        own_stock=units(product.own_stock), reserved=units(reserved or 0), stores=stores, not_offered=not_offered,
        last_orders=[OrderLine(line.order, line.quantity, tenge(line.unit_price)) for line in
                     OrderEntry.objects.filter(product=product).select_related("order")
                     .defer(*customer_data("order"))
                     .order_by("-order__created_at_kaspi", "-pk")[:LAST_ORDERS]],
    )


def _last_change(product):
    change = PriceChange.objects.filter(product=product).select_related("user").order_by("-at", "-pk").first()
    if change is None:
        return _("The price has not changed since the product came from the supplier.")
    who = change.user.get_username() if change.user else _("automatically")
    return _("%(old)s → %(new)s: %(source)s, %(who)s, %(when)s") % {
        "old": tenge(change.old_price), "new": tenge(change.new_price), "source": change.get_source_display(),
        "who": who, "when": moment(change.at)}


def _cost(product):
    if is_price_on_request(product.cost):
        return _("on request")
    if product.discount_price and product.discount_price > 1:
        return _("%(cost)s (partner price)") % {"cost": tenge(product.cost)}
    return _("%(cost)s (purchase price)") % {"cost": tenge(product.cost)}


def _margin(product):
    """What the price leaves over the cost, in tenge and as a share of the price (before Kaspi's commission)."""
    if not product.price or is_price_on_request(product.cost):
        return "—"
    margin = product.price - product.cost
    percent = (Decimal(margin) * 100 / product.price).quantize(Decimal("0.1"))
    return _("%(margin)s (%(percent)s %% of the price, before Kaspi's commission)") % {
        "margin": tenge(margin), "percent": decimal(percent)}


def _supplier_stock(product):
    if product.manual_stock is None:
        return units(product.supplier_stock)
    return _("%(manual)s set by hand (the supplier has %(supplier)s)") % {
        "manual": units(product.manual_stock), "supplier": units(product.supplier_stock)}


def _store_offers(product, reserved):
    """What the feed offers of the product at each active store, worked out as the feed builder does."""
    try:
        offer = next(iter_offers({product.sku: reserved}, Product.objects.filter(pk=product.pk)), None)
    except OfferError as exc:
        return [], str(exc)
    if offer is None:
        return [], _("No price yet: the feed does not list it.")
    names = dict(Store.objects.values_list("store_id", "name"))
    return [StoreOffer(name=names.get(a.store_id, a.store_id), available=a.available, stock=units(a.stock),
                       preorder=ngettext("%(days)d day", "%(days)d days", a.preorder) % {"days": a.preorder}
                       if a.preorder else "—")
            for a in offer.availabilities], ""
