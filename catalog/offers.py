"""What the catalogue offers Kaspi: one `Offer` per product that has (or once had) a price.

The feed builder only writes these out; every decision about price, stock and availability is
made here, from the product row, the stores and cities configured in the admin, and the stock
that open orders reserve.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.utils.translation import gettext as _

from common.text import clean_text

from .models import PRICE_ON_REQUEST, City, Product, Rounding, Store, effective_cost, is_price_on_request
from .pricing import RuleBook, city_price, quote, rrp_floor


class OfferError(Exception):
    """The catalogue cannot be offered as configured (e.g. no store)."""


@dataclass(frozen=True)
class Availability:
    store_id: str
    available: bool
    stock: int
    preorder: int | None


@dataclass(frozen=True)
class Offer:
    sku: str
    model: str
    brand: str
    price: int
    city_prices: tuple  # ((city_id, price), ...); when present, replaces `price` in the feed
    availabilities: tuple
    stock: int  # published stock before the per-store split (after reservations)

    @property
    def available(self):
        return any(a.available for a in self.availabilities)




def is_sellable(*, publish, at_supplier, price_on_request, price_locked):
    """A product is on sale when published, still supplied, and priced for real.

    A "price on request" item (`price1 == 1`) is sold only at a price a manager set by hand.
    """
    return publish and at_supplier and (price_locked or not price_on_request)


# `is_sellable` as a query, for the products the feed lists (those with a price).
ON_SALE = Q(price__gt=0, publish=True, at_supplier=True) & (Q(price_locked=True) | ~PRICE_ON_REQUEST)


def offers_on_sale(queryset):
    """How many offers the products of `queryset` have on sale now: one per product and active store,
    as the feed lists each product's availability per store."""
    return queryset.filter(ON_SALE).count() * Store.objects.filter(is_active=True).count()


def sellable_stock(*, supplier, own, reserved):
    """Units a buyer can order: the supplier's stock less what open orders keep of it, plus the shop's own.

    `reserved` counts only supplier units: what orders took from own stock is already off `own`.
    """
    return max(0, supplier - reserved) + own


def iter_offers(reserved=None, products=None):
    """Yield an `Offer` per listable product (of `products`, default all), streaming rows so memory stays flat.

    `reserved` maps SKU → supplier units held by open orders; it is taken off the published stock.
    """
    reserved = reserved or {}
    stores = [(store_id, percent, preorder, _codes(warehouses)) for store_id, percent, preorder, warehouses in
              Store.objects.filter(is_active=True).values_list("store_id", "stock_percent", "preorder_days",
                                                               "warehouses")]
    if not stores:
        raise OfferError(_("no active store: add one under Stores in the admin"))
    cities = list(City.objects.filter(is_active=True).values_list("city_id", "price_adjust_percent"))
    book = RuleBook() if cities else None
    rows = (
        (Product.objects if products is None else products).filter(price__gt=0)
        .order_by("sku")
        .values_list(
            "sku", "kaspi_sku", "name", "brand__name", "price", "publish", "at_supplier", "purchase_price",
            "price_locked", "supplier_stock", "manual_stock", "own_stock", "category_id", "brand_id",
            "discount_price", "min_price", "max_price", "rrp_controlled", "retail_price", "warehouse_stock",
        )
    )
    for (sku, kaspi_sku, name, brand, price, publish, at_supplier, purchase, locked, supplier_stock, manual,
         own, category_id, brand_id, discount, low, high, rrp, retail, warehouses) in rows.iterator(
            chunk_size=2000):
        on_sale = is_sellable(
            publish=publish, at_supplier=at_supplier, price_on_request=is_price_on_request(purchase),
            price_locked=locked,
        )
        # Lines name the SKU the buyer ordered: the shop's own Kaspi SKU, or the derived one before it.
        held = reserved.get(kaspi_sku, 0) + reserved.get(sku, 0) if kaspi_sku else reserved.get(sku, 0)
        stock = sellable_stock(supplier=manual if manual is not None else supplier_stock, own=own, reserved=held)
        product = pricing_inputs(category_id, brand_id, purchase, discount, low, high, locked, rrp, retail)
        yield Offer(
            sku=kaspi_sku or sku,
            model=clean_text(name, settings.FEED_MODEL_MAX_LENGTH),
            brand=clean_text(brand, 255),
            price=price,
            city_prices=city_prices(book, product, price, cities) if cities else (),
            # A manager's stock is the whole stock, not split by the supplier's warehouses.
            availabilities=tuple(_availability(store, stock, own, on_sale, None if manual is not None else warehouses)
                                 for store in stores),
            stock=stock,
        )


def pricing_inputs(category_id, brand_id, purchase, discount, low, high, locked, rrp, retail):
    """What a city's price is worked out from; a locked price is the manager's: its limits do not apply."""
    return {"category_id": category_id, "brand_id": brand_id, "purchase": effective_cost(purchase, discount),
            "min_price": None if locked else low, "max_price": None if locked else high,
            "rrp_price": rrp_floor(rrp, retail)}


def city_prices(book, product, price, cities):
    """((city_id, price), ...) for the active cities: the published price moved by each city's percent,
    rounded, limited and floored by the product's own rule."""
    rule = book.rule_for(category_id=product["category_id"], brand_id=product["brand_id"],
                         purchase=product["purchase"])
    floor = quote(product["purchase"], rule, rrp_price=product["rrp_price"]).floor
    rounding = rule.rounding if rule else Rounding.NONE
    return tuple((city_id, city_price(price, adjust, rounding=rounding, floor=floor, min_price=product["min_price"],
                                      max_price=product["max_price"])) for city_id, adjust in cities)


def _codes(warehouses):
    return frozenset(code.strip().lower() for code in warehouses.split(",") if code.strip())


def _availability(store, stock, own, on_sale, warehouse_stock):
    """A store's stock: its share of what is sellable; a store fed by chosen Al-Style warehouses gets no more
    supplier units than those warehouses hold (the shop's own shelf counts everywhere)."""
    store_id, percent, preorder, codes = store
    if codes and warehouse_stock:
        from_warehouses = sum(units for code, units in warehouse_stock.items() if code.lower() in codes)
        stock = min(stock - own, from_warehouses) + own
    store_stock = stock * percent // 100 if on_sale else 0
    return Availability(store_id, store_stock > 0, store_stock, preorder or None)


@dataclass(frozen=True)
class CityEffect:
    """What saving a city would do to the feed."""

    offers: int  # offers in the feed
    changed: int  # offers whose price in this city appears, goes or moves
    cities_before: tuple  # names of the cities offers are sold in; empty: one price, sold everywhere
    cities_after: tuple


def city_effect(*, pk, city_id, name, is_active, adjust_percent):
    """The effect of saving the city `pk` (None: a new one) with these values, against the feed as it is now."""
    saved = City.objects.filter(pk=pk).first() if pk else None
    active = dict(City.objects.filter(is_active=True).values_list("pk", "name"))
    before = tuple(sorted(active.values()))
    after = {key: value for key, value in active.items() if key != pk}
    if is_active:
        after[pk] = name
    after = tuple(sorted(after.values()))
    was_active, old_adjust = (saved.is_active, saved.price_adjust_percent) if saved else (False, None)
    offers = Product.objects.filter(price__gt=0)
    total = offers.count()
    recoded = saved is not None and saved.is_active and is_active and saved.city_id != city_id
    if was_active != bool(is_active) or (before == ()) != (after == ()) or recoded:
        return CityEffect(total, total, before, after)
    if not is_active or old_adjust == adjust_percent:
        return CityEffect(total, 0, before, after)
    book = RuleBook()
    changed = 0
    fields = ["category_id", "brand_id", "purchase_price", "discount_price", "min_price", "max_price", "price_locked",
              "rrp_controlled", "retail_price"]
    for *inputs, price in offers.values_list(*fields, "price").iterator(chunk_size=2000):
        old, new = city_prices(book, pricing_inputs(*inputs), price, [("old", old_adjust), ("new", adjust_percent)])
        changed += old[1] != new[1]
    return CityEffect(total, changed, before, after)
