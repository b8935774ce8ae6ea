"""Turning Al-Style's raw product records into clean rows, whatever shape they arrive in."""

import hashlib
import re
from dataclasses import astuple, dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings

from common.money import parse_money
from common.text import clean_text

SKU_MAX_LENGTH = 20  # Kaspi's limit for offer/@sku
_MORE_THAN = re.compile(r"^\s*>\s*(\d+)\s*$")


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
        raise BadRecord(f"not an object: {type(raw).__name__}")
    article = _article(raw.get("article"))
    name = clean_text(raw.get("name")) or clean_text(raw.get("full_name"))
    if not name:
        raise BadRecord(f"article {article}: no name")
    quantity, purchase, retail, warnings = parse_numbers(raw, article)
    item = SupplierItem(
        article=article,
        article_pn=clean_text(raw.get("article_pn"), 255),
        name=clean_text(name, 1000),
        full_name=clean_text(raw.get("full_name")),
        brand=clean_text(raw.get("brand"), 255),
        category_id=_int_or_none(raw.get("category")),
        purchase_price=purchase,
        retail_price=retail,
        quantity=quantity,
        stock=parse_stock(quantity),
        is_new=str(raw.get("isnew") or "0").strip() in ("1", "true", "True"),
    )
    return item, warnings


def parse_numbers(raw, article):
    """(quantity text, purchase price, retail price, warnings) from a record or a quantity-price entry."""
    warnings = []
    purchase = parse_money(raw.get("price1"))
    retail = parse_money(raw.get("price2"))
    if retail is not None and purchase is not None and purchase > 1 and retail < purchase:
        warnings.append(f"article {article}: price2 {retail} below price1 {purchase}, ignored")
        retail = None
    return clean_text(raw.get("quantity"))[:32], purchase, retail, warnings


def parse_stock(quantity):
    """`">50"` means "more than 50": published as STOCK_MORE_THAN, or 50 when that is unset."""
    text = str(quantity or "").strip()
    more = _MORE_THAN.match(text)
    if more:
        return settings.STOCK_MORE_THAN if settings.STOCK_MORE_THAN is not None else int(more.group(1))
    try:
        return max(0, int(Decimal(text)))
    except (InvalidOperation, ValueError):
        return 0


def _article(value):
    try:
        article = int(str(value).strip())
    except (TypeError, ValueError):
        raise BadRecord(f"article {value!r} is not a number") from None
    if article <= 0:
        raise BadRecord(f"article {article} is out of range")
    if len(make_sku(article)) > SKU_MAX_LENGTH:
        raise BadRecord(f"article {article} would make a SKU longer than Kaspi's {SKU_MAX_LENGTH} characters")
    return article




def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


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
