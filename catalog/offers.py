"""What the catalogue offers Kaspi: one `Offer` per product that has (or once had) a price.

The feed builder only writes these out; every decision about price, stock and availability is
made here, from the product row, the stores and cities configured in the admin, and the stock
that open orders reserve.
"""

import math
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext as _

from common.text import clean_text

from .models import City, Product, Store, is_price_on_request


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




def city_price(price, adjust_percent):
    return math.ceil(Decimal(price) * (100 + adjust_percent) / 100)


def is_sellable(*, publish, at_supplier, price_on_request, price_locked):
    """A product is on sale when published, still supplied, and priced for real.

    A "price on request" item (`price1 == 1`) is sold only at a price a manager set by hand.
    """
    return publish and at_supplier and (price_locked or not price_on_request)


def sellable_stock(*, supplier, own, reserved):
    """Units a buyer can order: the supplier's stock less what open orders keep of it, plus the shop's own.

    `reserved` counts only supplier units: what orders took from own stock is already off `own`.
    """
    return max(0, supplier - reserved) + own


def iter_offers(reserved=None):
    """Yield an `Offer` per listable product, streaming rows so memory stays flat.

    `reserved` maps SKU → supplier units held by open orders; it is taken off the published stock.
    """
    reserved = reserved or {}
    stores = list(Store.objects.filter(is_active=True).values_list("store_id", "stock_percent", "preorder_days"))
    if not stores:
        raise OfferError(_("no active store: add one under Stores in the admin"))
    cities = list(City.objects.filter(is_active=True).values_list("city_id", "price_adjust_percent"))
    rows = (
        Product.objects.filter(price__gt=0)
        .order_by("sku")
        .values_list(
            "sku", "kaspi_sku", "name", "brand__name", "price", "publish", "at_supplier", "purchase_price",
            "price_locked", "supplier_stock", "manual_stock", "own_stock",
        )
    )
    for (sku, kaspi_sku, name, brand, price, publish, at_supplier, purchase, locked, supplier_stock, manual,
         own) in rows.iterator(chunk_size=2000):
        on_sale = is_sellable(
            publish=publish, at_supplier=at_supplier, price_on_request=is_price_on_request(purchase),
            price_locked=locked,
        )
        # Lines name the SKU the buyer ordered: the shop's own Kaspi SKU, or the derived one before it.
        held = reserved.get(kaspi_sku, 0) + reserved.get(sku, 0) if kaspi_sku else reserved.get(sku, 0)
        stock = sellable_stock(supplier=manual if manual is not None else supplier_stock, own=own, reserved=held)
        yield Offer(
            sku=kaspi_sku or sku,
            model=clean_text(name, settings.FEED_MODEL_MAX_LENGTH),
            brand=clean_text(brand, 255),
            price=price,
            city_prices=tuple((city_id, city_price(price, adjust)) for city_id, adjust in cities),
            availabilities=tuple(_availability(store, stock, on_sale) for store in stores),
            stock=stock,
        )


def _availability(store, stock, on_sale):
    store_id, percent, preorder = store
    store_stock = stock * percent // 100 if on_sale else 0
    return Availability(store_id, store_stock > 0, store_stock, preorder or None)
