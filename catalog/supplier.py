"""Turning Al-Style's raw product records into clean rows, whatever shape they arrive in."""

import hashlib
import re
from dataclasses import astuple, dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from common.money import AmountOutOfRange, parse_money
from common.text import clean_text

SKU_MAX_LENGTH = 20  # Kaspi's limit for offer/@sku
_MORE_THAN = re.compile(r"^\s*>\s*(\d+)\s*$")


MAX_ARTICLE = 2**63 - 1  # the article column's range
MAX_COUNT = 2**31 - 1  # a stock or a category id: an integer column on every database


class BadRecord(ValueError):
    """A supplier record that cannot become a product; the message says why."""


@dataclass(frozen=True)
class SupplierItem:
    article: int
    article_pn: str
    name: str
    full_name: str
    brand: str
    category_id: int | None
    purchase_price: int | None
    retail_price: int | None
    discount_price: int | None
    barcode: str
    rrp_controlled: bool
    multiplicity: int | None
    markdown_stock: int
    markdown_price: int | None
    warehouse_stock: tuple  # ((warehouse code, units), ...), sorted
    quantity: str
    stock: int
    is_new: bool

    @property
    def fingerprint(self):
        """Changes when anything the supplier says about the item changes."""
        return hashlib.md5(repr(astuple(self)).encode()).hexdigest()


def make_sku(article):
    """Kaspi's SKU: Latin letters and digits, at most 20, stable: derived from the numeric article."""
    return f"{settings.SKU_PREFIX}{article}"


def parse_item(raw):
    """A `SupplierItem` from one record, or `BadRecord`; returns (item, warnings)."""
    if not isinstance(raw, dict):
        raise BadRecord(_("not an object: %(type)s") % {"type": type(raw).__name__})
    article = _article(raw.get("article"))
    name = clean_text(raw.get("name")) or clean_text(raw.get("full_name"))
    if not name:
        raise BadRecord(_("article %(article)s: no name") % {"article": article})
    quantity, purchase, retail, warnings = parse_numbers(raw, article)
    item = SupplierItem(
        article=article,
        article_pn=clean_text(raw.get("article_pn"), 255),
        name=clean_text(name, 1000),
        full_name=clean_text(raw.get("full_name")),
        brand=clean_text(raw.get("brand"), 255),
        category_id=_category(raw.get("category"), article),
        purchase_price=purchase,
        retail_price=retail,
        discount_price=parse_discount_price(raw.get("discountPrice"), article, warnings),
        barcode=clean_text(raw.get("barcode"), 64),
        rrp_controlled=_flag(raw.get("rrp")),
        multiplicity=_count(raw.get("multiplicity"), article, warnings, "multiplicity") or None,
        markdown_stock=_count(raw.get("quantityMarkdown"), article, warnings, "quantityMarkdown"),
        markdown_price=parse_discount_price(raw.get("priceMarkdown"), article, warnings),
        warehouse_stock=_warehouses(raw.get("warehouses"), article, warnings),
        quantity=quantity,
        stock=supplier_stock(quantity, article),
        is_new=str(raw.get("isnew") or "0").strip() in ("1", "true", "True"),
    )
    return item, warnings


def parse_numbers(raw, article):
    """(quantity text, purchase price, retail price, warnings) from a record or a quantity-price entry."""
    warnings = []
    try:
        purchase, retail = parse_money(raw.get("price1")), parse_money(raw.get("price2"))
    except AmountOutOfRange as exc:
        raise BadRecord(_("article %(article)s: %(error)s") % {"article": article, "error": exc}) from None
    if retail is not None and purchase is not None and purchase > 1 and retail < purchase:
        warnings.append(_("article %(article)s: price2 %(retail)s below price1 %(purchase)s, ignored") % {
            "article": article, "retail": retail, "purchase": purchase})
        retail = None
    return clean_text(raw.get("quantity"))[:32], purchase, retail, warnings


def parse_discount_price(value, article, warnings):
    """The partner price, when Al-Style gives one (0, empty or missing: none); a bad one is ignored."""
    try:
        price = parse_money(value)
    except (AmountOutOfRange, ValueError):
        warnings.append(_("article %(article)s: discountPrice %(value)r ignored") % {"article": article,
                                                                                 "value": str(value)[:40]})
        return None
    return price if price is not None and price > 1 else None


def _flag(value):
    """Al-Style's yes/no fields come as 1/0, true/false or text."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "да", "y")
    return bool(value) and not isinstance(value, (list, dict))


def _count(value, article, warnings, name):
    """A whole number of units (0 when missing); a broken one is ignored with a note."""
    if value in (None, "", 0):
        return 0
    try:
        number = int(Decimal(str(value).strip()))
    except (InvalidOperation, ValueError, OverflowError):
        warnings.append(_("article %(article)s: %(field)s %(value)r ignored") % {
            "article": article, "field": name, "value": str(value)[:40]})
        return 0
    if not 0 <= number <= MAX_COUNT:
        warnings.append(_("article %(article)s: %(field)s %(value)s ignored") % {
            "article": article, "field": name, "value": number})
        return 0
    return number


def _warehouses(value, article, warnings):
    """Units per Al-Style warehouse, `{"almaty": 12, "astana": ">10"}`; anything else is no split."""
    if not isinstance(value, dict):
        return ()
    stock = []
    for code, units in value.items():
        code = clean_text(code, 32)
        if code:
            stock.append((code, min(parse_stock(units), MAX_COUNT)))
    return tuple(sorted(stock))


def parse_stock(quantity):
    """`">50"` means "more than 50": published as STOCK_MORE_THAN, or 50 when that is unset."""
    text = str(quantity or "").strip()
    more = _MORE_THAN.match(text)
    if more:
        return settings.STOCK_MORE_THAN if settings.STOCK_MORE_THAN is not None else int(more.group(1))
    try:
        return max(0, int(Decimal(text)))
    except (InvalidOperation, ValueError, OverflowError):  # "abc", "NaN", "Infinity"
        return 0


def _article(value):
    try:
        article = int(str(value).strip())
    except (TypeError, ValueError):
        raise BadRecord(_("article %(value)r is not a number") % {"value": str(value)[:40]}) from None
    if not 0 < article <= MAX_ARTICLE:
        raise BadRecord(_("article %(article)s is out of range") % {"article": article})
    if len(make_sku(article)) > SKU_MAX_LENGTH:
        raise BadRecord(ngettext("article %(article)s would make a SKU longer than Kaspi's %(limit)d character",
                                 "article %(article)s would make a SKU longer than Kaspi's %(limit)d characters",
                                 SKU_MAX_LENGTH) % {"article": article, "limit": SKU_MAX_LENGTH})
    return article




def _category(value, article):
    """The category id; None when there is none. One no column can hold (-1, 10**20) breaks the record."""
    if value is None or value == "":
        return None
    try:
        category = int(value)
    except (TypeError, ValueError, OverflowError):
        raise BadRecord(_("article %(article)s: category %(value)r is not a number") % {
            "article": article, "value": str(value)[:40]}) from None
    if not 0 < category <= MAX_COUNT:
        raise BadRecord(_("article %(article)s: category %(category)s is out of range") % {
            "article": article, "category": category})
    return category


def supplier_stock(quantity, article):
    """The stock a quantity text means; `BadRecord` for one no column can hold."""
    stock = parse_stock(quantity)
    if stock > MAX_COUNT:
        raise BadRecord(_("article %(article)s: quantity %(value)r is out of range") % {
            "article": article, "value": quantity[:40]})
    return stock


def category_parents(tree):
    """Parent links from Al-Style's nested-set category list: the nearest enclosing node."""
    nodes = []
    for node in tree if isinstance(tree, list) else []:
        try:
            nodes.append((int(node["left"]), int(node["right"]), int(node["id"]), clean_text(node.get("name"), 255)))
        except (TypeError, KeyError, ValueError):
            continue
    nodes.sort()
    result, stack = {}, []
    for left, right, node_id, name in nodes:
        while stack and stack[-1][1] < left:
            stack.pop()
        result[node_id] = (name, stack[-1][2] if stack else None)
        stack.append((left, right, node_id))
    return result
