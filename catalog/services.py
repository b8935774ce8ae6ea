"""Catalogue services: the one way each thing is done, for admin actions, commands and tasks."""

import logging
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from common.format import tenge
from common.http import ApiError
from jobs.runs import locked_run

from .alstyle import AlstyleClient
from .models import Brand, Category, PriceChange, Product, effective_cost, product_search_text
from .pricing import RuleBook, below_cost, guard_holds, rrp_floor
from .supplier import (
    SKU_MAX_LENGTH,
    BadRecord,
    category_parents,
    make_sku,
    parse_discount_price,
    parse_item,
    parse_numbers,
    supplier_stock,
)

log = logging.getLogger(__name__)

BATCH = 250
SUPPLIER_FIELDS = [
    "article_pn", "name", "full_name", "brand", "category", "purchase_price", "retail_price", "discount_price",
    "barcode", "rrp_controlled", "multiplicity", "markdown_stock", "markdown_price", "warehouse_stock",
    "supplier_quantity", "supplier_stock", "is_new", "at_supplier", "supplier_hash", "last_seen",
]


class SyncError(Exception):
    """A sync that could not finish; nothing it had started was saved."""


def products_sync(*, client=None, progress=None):
    """Read the supplier's whole catalogue, then write it in one transaction.

    Reading comes first so that a failure half-way changes nothing; the write touches only rows
    whose supplier data changed, so an unchanged catalogue writes no product at all.
    """
    client = client or AlstyleClient()
    with locked_run("sync_products", client=client, failure=SyncError, expected=(SyncError,)) as run:
        _products_sync(client, progress, run)
    return run


def _products_sync(client, progress, run):
    raw = []
    for page, pages, elements in client.iter_pages():
        raw.extend(elements)
        if progress:
            progress(ngettext("page %(page)d/%(pages)d: %(count)d product read",
                              "page %(page)d/%(pages)d: %(count)d products read", len(raw))
                     % {"page": page, "pages": pages, "count": len(raw)})
    run.received = len(raw)
    items, run.skipped = _parse_all(raw, run.lines)
    if not items:
        raise SyncError(gettext("the supplier returned no usable products; the catalogue was left as it was"))
    try:
        tree = category_parents(client.categories())
    except ApiError as exc:
        run.lines.append(gettext("categories not refreshed: %(error)s") % {"error": exc})
        tree = {}
    with transaction.atomic():
        run.created, run.updated, run.unchanged, run.vanished = _write(items, tree, run.lines)
        repriced = products_reprice()
    if repriced:
        run.lines.append(ngettext("%(count)d price changed by the rules", "%(count)d prices changed by the rules",
                                  repriced) % {"count": repriced})


def skipped_note(reason):
    """A run note for a record left out: "skipped: …" in the run's language (see `is_skipped_note`)."""
    return gettext("skipped: %(reason)s") % {"reason": reason}


def is_skipped_note(line):
    return line.startswith(gettext("skipped: %(reason)s").split("%(")[0])


def stock_refresh(*, client=None):
    """The cheap refresh: stock and prices for the whole catalogue in one `quantity-price` call.

    Only known products are touched (new ones wait for the full sync); rows whose numbers did not
    change are not written; changed purchase prices go through the pricing rules.
    """
    client = client or AlstyleClient()
    with locked_run("refresh_stock", client=client, failure=SyncError, expected=(SyncError,)) as run:
        _stock_refresh(client, run)
    return run


def _stock_refresh(client, run):
    answer = client.quantity_price()
    run.received = len(answer)
    if not answer:
        raise SyncError(gettext("the supplier returned no stock; nothing was changed"))
    with transaction.atomic():
        changed, run.skipped, run.unchanged = _apply_stock(answer, run.lines)
        run.updated = len(changed)
        products_reprice(queryset=Product.objects.filter(pk__in=changed))


def _apply_stock(answer, notes):
    rows = Product.objects.values_list("id", "article", "supplier_quantity", "purchase_price", "retail_price",
                                       "discount_price")
    changed, skipped, unchanged = [], 0, 0
    for pk, article, quantity, purchase, retail, discount in rows.iterator(chunk_size=2000):
        numbers = answer.get(str(article))
        if not isinstance(numbers, dict):
            skipped += 1
            continue
        try:
            new_quantity, new_purchase, new_retail, _ = parse_numbers(numbers, article)
            new_stock = supplier_stock(new_quantity, article)
        except BadRecord as exc:  # this article keeps what it had; the others go on
            skipped += 1
            notes.append(skipped_note(exc))
            continue
        new_discount = _refreshed_discount(numbers, article, notes, discount, purchase, new_purchase)
        if (new_quantity, new_purchase, new_retail, new_discount) == (quantity, purchase, retail, discount):
            unchanged += 1
            continue
        # The fingerprint no longer describes the row: the next full sync must compare field by field.
        changed.append(Product(pk=pk, supplier_quantity=new_quantity, supplier_stock=new_stock,
                               purchase_price=new_purchase, retail_price=new_retail, discount_price=new_discount,
                               supplier_hash=""))
    fields = ["supplier_quantity", "supplier_stock", "purchase_price", "retail_price", "discount_price",
              "supplier_hash"]
    Product.objects.bulk_update(changed, fields, batch_size=BATCH)
    return [product.pk for product in changed], skipped, unchanged


def _refreshed_discount(numbers, article, warnings, discount, purchase, new_purchase):
    """The partner price after a stock refresh. The refresh's answer may not carry it: then a partner price
    follows a moved price1 by the same discount, so the cost never stays at yesterday's level until the
    next full sync."""
    if "discountPrice" in numbers:
        return parse_discount_price(numbers["discountPrice"], article, warnings)
    if discount is None or purchase is None or new_purchase is None or purchase <= 1 or new_purchase == purchase:
        return discount
    return int((Decimal(discount) * new_purchase / purchase).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _parse_all(raw, notes):
    """Clean records keyed by article; a record repeated on a later page keeps its first form."""
    items, skipped = {}, 0
    for record in raw:
        try:
            item, warnings = parse_item(record)
        except BadRecord as exc:
            skipped += 1
            notes.append(skipped_note(exc))
            continue
        if item.article in items:
            skipped += 1
            notes.append(skipped_note(gettext("article %(article)s listed twice") % {"article": item.article}))
            continue
        notes.extend(warnings)
        items[item.article] = item
    return items, skipped


def _write(items, tree, notes):
    now = timezone.now()
    brands = _brands({item.brand for item in items.values() if item.brand})
    categories = _categories(tree, {item.category_id for item in items.values() if item.category_id})
    existing = {row[0]: row for row in Product.objects.values_list("article", "id", "supplier_hash", "at_supplier")}
    new, changed, unchanged = [], [], 0
    taken = set(Product.objects.exclude(kaspi_sku=None).values_list("kaspi_sku", flat=True))
    for article, item in items.items():
        fields = _supplier_fields(item, brands, categories, now)
        if article not in existing:
            sku = _free_sku(article, taken, notes)
            if sku:
                new.append(Product(article=article, sku=sku, first_seen=now, **fields))
            continue
        _, pk, fingerprint, at_supplier = existing[article]
        if fingerprint == item.fingerprint and at_supplier:
            unchanged += 1
        else:
            changed.append(Product(pk=pk, **fields))
    Product.objects.bulk_create(new, batch_size=BATCH)
    Product.objects.bulk_update(changed, SUPPLIER_FIELDS, batch_size=BATCH)
    _write_search_text(changed)
    gone = [pk for article, pk, _, at_supplier in existing.values() if at_supplier and article not in items]
    for start in range(0, len(gone), BATCH):
        Product.objects.filter(pk__in=gone[start : start + BATCH]).update(at_supplier=False, updated_at=now)
    return len(new), len(changed), unchanged, len(gone)


def _write_search_text(products):
    """`search_text` of changed rows, one plain UPDATE each: as one more of bulk_update's CASE columns it made
    a sync that changes every row a quarter slower."""
    update = f"UPDATE {connection.ops.quote_name(Product._meta.db_table)} SET search_text = %s WHERE id = %s"
    with connection.cursor() as cursor:
        cursor.executemany(update, [(product.search_text, product.pk) for product in products])


def _free_sku(article, taken, notes):
    """The derived SKU, unless a product kept it from the shop's own price list: then the first free one
    with a letter after it. A product's SKU is stored once and never derived again, so it stays stable."""
    sku = make_sku(article)
    if sku not in taken:
        return sku
    free = next((f"{sku}{letter}" for letter in "ABCDEFGHJKLMNPQRSTUVWXYZ"
                 if f"{sku}{letter}" not in taken and len(sku) < SKU_MAX_LENGTH), None)
    kept = gettext("article %(article)s: SKU %(sku)s is kept by another product from the shop's price list") % {
        "article": article, "sku": sku}
    outcome = gettext("published as %(sku)s") % {"sku": free} if free else gettext("not added")
    notes.append(f"{kept}; {outcome}")
    return free


def _supplier_fields(item, brands, categories, now):
    return {
        "article_pn": item.article_pn,
        "name": item.name,
        "full_name": item.full_name,
        "brand_id": brands.get(item.brand),
        "category_id": item.category_id if item.category_id in categories else None,
        "purchase_price": item.purchase_price,
        "retail_price": item.retail_price,
        "discount_price": item.discount_price,
        "barcode": item.barcode,
        "rrp_controlled": item.rrp_controlled,
        "multiplicity": item.multiplicity,
        "markdown_stock": item.markdown_stock,
        "markdown_price": item.markdown_price,
        "warehouse_stock": dict(item.warehouse_stock),
        "supplier_quantity": item.quantity,
        "supplier_stock": item.stock,
        "is_new": item.is_new,
        "at_supplier": True,
        "supplier_hash": item.fingerprint,
        "last_seen": now,
        "search_text": product_search_text(item.name, item.full_name, item.article_pn, item.barcode),
    }


def _brands(names):
    """Brand ids by name, creating the new ones."""
    Brand.objects.bulk_create([Brand(name=name) for name in names], ignore_conflicts=True)
    return dict(Brand.objects.filter(name__in=names).values_list("name", "id"))


def _categories(tree, used_ids):
    """Upsert the category tree, writing only what changed; return the ids that exist.

    An id a product uses but the tree lacks (or a tree that failed to load) gets a bare row.
    """
    known = {cid: (name, parent) for cid, name, parent in Category.objects.values_list("id", "name", "parent_id")}
    wanted = {cid: (name or f"#{cid}", parent) for cid, (name, parent) in tree.items()}
    for cid in used_ids - wanted.keys() - known.keys():
        wanted[cid] = (f"#{cid}", None)
    ids = wanted.keys() | known.keys()
    rows = [Category(id=cid, name=name, parent_id=parent if parent in ids else None)
            for cid, (name, parent) in wanted.items()]
    Category.objects.bulk_create([row for row in rows if row.id not in known], batch_size=BATCH)
    changed = [row for row in rows if row.id in known and known[row.id] != (row.name, row.parent_id)]
    Category.objects.bulk_update(changed, ["name", "parent"], batch_size=BATCH)
    return ids


def products_reprice(*, queryset=None, user=None):
    """Apply the pricing rules to `queryset` (default: every product); return how many prices moved.

    Locked prices are left alone. A move larger than PRICE_GUARD_PERCENT is parked in
    `proposed_price` until someone confirms it. Only rows whose price changes are written.
    """
    book = RuleBook()
    rows = (queryset if queryset is not None else Product.objects.all()).filter(price_locked=False)
    changed, history = [], []
    fields = ("id", "category_id", "brand_id", "purchase_price", "discount_price", "min_price", "max_price",
              "rrp_controlled", "retail_price", "price", "proposed_price")
    # Rows stay locked until written, so a manager's price typed meanwhile is not overwritten.
    with transaction.atomic():
        for pk, category_id, brand_id, purchase, discount, low, high, rrp, retail, price, proposed in (
            rows.select_for_update().values_list(*fields).iterator(chunk_size=2000)
        ):
            cost = effective_cost(purchase, discount)
            target = book.price(category_id=category_id, brand_id=brand_id, purchase=cost, min_price=low,
                                max_price=high, rrp_price=rrp_floor(rrp, retail))
            new_price, new_proposed = _next_price(price, target, cost)
            if (new_price, new_proposed) != (price, proposed):
                changed.append(Product(pk=pk, price=new_price, proposed_price=new_proposed))
                if new_price != price:
                    history.append(PriceChange(product_id=pk, old_price=price, new_price=new_price,
                                               source=PriceChange.Source.RULES, user=user))
        Product.objects.bulk_update(changed, ["price", "proposed_price"], batch_size=BATCH)
        PriceChange.objects.bulk_create(history, batch_size=BATCH)
    return len(history)


def _next_price(price, target, purchase=None):
    """(price, proposed) after the rules ask for `target`; no target keeps the last price."""
    if target is None or target == price:
        return price, None
    if guard_holds(price, target, settings.PRICE_GUARD_PERCENT, cost=purchase):
        return price, target
    return target, None


class PriceRefused(ValueError):
    """A manager's price that may not be published as asked; the message says why."""


def product_set_price(*, product, price, user, below_cost_confirmed=False, source=PriceChange.Source.MANAGER):
    """A manager's price: published as is, and locked so neither the sync nor the rules move it.

    A price below the floor (the cost, or the RRP the brand controls) is refused unless someone allowed to
    sell below cost confirms it.
    """
    if price is None or price <= 0:
        raise PriceRefused(gettext("A price must be a positive whole number of tenge."))
    current = Product.objects.only("purchase_price", "discount_price", "rrp_controlled", "retail_price").get(
        pk=product.pk)
    problem = price_problem(price, current)
    if problem and not (below_cost_confirmed and user.has_perm("catalog.sell_below_cost")):
        raise PriceRefused(problem)
    old = Product.objects.values_list("price", flat=True).get(pk=product.pk)
    product.price, product.price_locked, product.proposed_price = price, True, None
    product.save(update_fields=["price", "price_locked", "proposed_price", "updated_at"])
    if old != price:
        PriceChange.objects.create(product=product, old_price=old, new_price=price,
                                   source=source, user=user)


def price_problem(price, product):
    """Why a manager's `price` for `product` needs a confirmation (below cost, or below the RRP the brand
    controls), or None."""
    if below_cost(price, product.cost):
        return below_cost_message(price, product.cost)
    rrp = rrp_floor(product.rrp_controlled, product.retail_price)
    if rrp and price < rrp:
        return gettext("%(price)s is below the supplier RRP of %(rrp)s, which the brand controls: refused. Someone "
                       "allowed to sell below cost can confirm it on the product page.") % {
            "price": tenge(price), "rrp": tenge(rrp)}
    return None


def below_cost_message(price, purchase):
    return gettext("%(price)s is below the purchase cost of %(cost)s: refused. Someone allowed to sell below cost "
                   "can confirm it on the product page.") % {"price": tenge(price), "cost": tenge(purchase)}


def own_stock_edited(*, now, seen, typed):
    """Own stock moves under a manager's edit (orders take units, returns add them): the edit is the change
    they made to what they saw, applied on top of what is there now, and never below zero."""
    return max(0, now + typed - seen)


def products_set_publish(*, queryset, publish, user):
    """Publish products on Kaspi, or hide them (listed as unavailable); how many changed."""
    return queryset.exclude(publish=publish).update(publish=publish, updated_at=timezone.now())


def products_lock_price(*, queryset, user):
    """Lock published prices as they are, so neither the sync nor the rules move them; how many were locked.

    A lock is in the price history like every other price decision, with who and when.
    """
    with transaction.atomic():
        locking = list(queryset.select_for_update().filter(price__isnull=False, price_locked=False))
        Product.objects.filter(pk__in=[p.pk for p in locking]).update(price_locked=True, proposed_price=None,
                                                                      updated_at=timezone.now())
        PriceChange.objects.bulk_create([PriceChange(product=p, old_price=p.price, new_price=p.price, user=user,
                                                     source=PriceChange.Source.LOCKED) for p in locking])
    return len(locking)


def products_confirm_price(*, queryset, user):
    """Publish the prices the guard held back; returns how many were confirmed."""
    history, count = [], 0
    with transaction.atomic():
        for product in queryset.select_for_update().filter(proposed_price__isnull=False):
            history.append(PriceChange(product=product, old_price=product.price, new_price=product.proposed_price,
                                       source=PriceChange.Source.CONFIRMED, user=user))
            product.price, product.proposed_price = product.proposed_price, None
            product.save(update_fields=["price", "proposed_price", "updated_at"])
            count += 1
        PriceChange.objects.bulk_create(history)
    return count


def products_unlock_price(*, queryset, user):
    """Hand prices back to the rules and apply them at once."""
    ids = list(queryset.values_list("pk", flat=True))
    Product.objects.filter(pk__in=ids).update(price_locked=False, updated_at=timezone.now())
    return products_reprice(queryset=Product.objects.filter(pk__in=ids), user=user)
