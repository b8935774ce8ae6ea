"""A feed build's sample of changes (`FeedRun.change_sample`) in words: one row per offer, with its product."""

from dataclasses import dataclass

from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from catalog.models import Product
from common.format import tenge


@dataclass(frozen=True)
class ChangeRow:
    kind: str
    sku: str
    product: Product | None  # None: no product has this SKU any more
    before: str
    after: str


def _units(count):
    return ngettext("%(count)d unit", "%(count)d units", count) % {"count": count}


def _rows(sample):
    """(kind, sku, before, after) for each change the sample holds, in the order people read them."""
    yield from ((_("added"), sku, _("not in the feed"), _("in the feed")) for sku in sample.get("added", []))
    yield from ((_("removed"), sku, _("in the feed"), _("not in the feed")) for sku in sample.get("removed", []))
    yield from ((_("price"), sku, tenge(old), tenge(new)) for sku, old, new in sample.get("price_changes", []))
    yield from ((_("stock"), sku, _units(old), _units(new)) for sku, old, new in sample.get("stock_changes", []))
    held = sample.get("reserved", {}).items()
    yield from ((_("held by open orders"), sku, "—", _units(units)) for sku, units in held)


def change_rows(sample):
    """The sample's changes, each with the product its SKU names (one query for all of them)."""
    rows = list(_rows(sample or {}))
    skus = {sku for _kind, sku, _before, _after in rows}
    products = {}
    for product in Product.objects.filter(Q(sku__in=skus) | Q(kaspi_sku__in=skus)).only("pk", "sku", "kaspi_sku",
                                                                                        "name"):
        products[product.sku] = products.get(product.sku, product)
        if product.kaspi_sku:
            products[product.kaspi_sku] = product  # the feed names an offer by its kept Kaspi SKU first
    return [ChangeRow(kind, sku, products.get(sku), before, after) for kind, sku, before, after in rows]
