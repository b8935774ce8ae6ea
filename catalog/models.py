from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Case, F, Q, When
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from common.format import moment, tenge
from common.search import SearchField, with_derived
from common.text import fold

# Al-Style's `price1 == 1` means "price on request", not a price; a missing price1 is none either.
PRICE_ON_REQUEST = Q(purchase_price__isnull=True) | Q(purchase_price__lte=1)


def is_price_on_request(purchase_price):
    return purchase_price is None or purchase_price <= 1


# `effective_cost` in SQL, for filters and sums.
COST = Case(When(discount_price__gt=1, then=F("discount_price")), default=F("purchase_price"))


def effective_cost(purchase_price, discount_price):
    """The unit cost margins and floors use: Al-Style's discountPrice when present, else price1."""
    if discount_price is not None and discount_price > 1:
        return discount_price
    return purchase_price


# The supplier's texts a product is found by (its SKUs and brand are searched on their own fields).
SEARCHED = {"search_text": ("name", "full_name", "article_pn", "barcode")}


def product_search_text(name, full_name, article_pn, barcode):
    """`Product.search_text`: the folded texts, one a line so that a phrase never spans two of them."""
    name, full_name = fold(name), fold(full_name)
    parts = [name if name not in full_name else "", full_name, fold(article_pn), fold(barcode)]
    return "\n".join(part for part in parts if part)


class Category(models.Model):
    """A supplier category (Al-Style's nested-set tree, flattened to parent links)."""

    id = models.PositiveIntegerField(_("supplier ID"), primary_key=True)
    name = models.CharField(_("name"), max_length=255)
    parent = models.ForeignKey("self", models.SET_NULL, null=True, blank=True, verbose_name=_("parent"))

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["name"]

    def __str__(self):
        return self.name or f"#{self.id}"


class Brand(models.Model):
    name = models.CharField(_("name"), max_length=255, unique=True)

    class Meta:
        verbose_name = _("brand")
        verbose_name_plural = _("brands")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Store(models.Model):
    """A pickup point or warehouse, as Kaspi's cabinet names it («Склады и магазины»)."""

    store_id = models.CharField(
        _("Kaspi store ID"),
        max_length=64,
        unique=True,
        help_text=_("Exactly as the cabinet page “Warehouses and stores” shows it, e.g. PP1 or 12345_PP1."),
    )
    name = models.CharField(_("name"), max_length=255, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    stock_percent = models.PositiveSmallIntegerField(
        _("stock share, %"),
        default=100,
        validators=[MaxValueValidator(100)],
        help_text=_("Share of a product's stock shown at this store."),
    )
    warehouses = models.CharField(
        _("supplier warehouses"), max_length=255, blank=True,
        help_text=_("Al-Style warehouse codes this store's stock comes from, comma-separated (e.g. almaty); "
                    "empty: the supplier's whole stock."),
    )
    preorder_days = models.PositiveSmallIntegerField(
        _("pre-order days"),
        default=0,
        validators=[MaxValueValidator(30)],
        help_text=_("0: not a pre-order; otherwise days added to delivery (at most 30)."),
    )

    class Meta:
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        ordering = ["store_id"]

    def __str__(self):
        return self.store_id


class City(models.Model):
    """When any city is active, offers carry one price per city instead of a single price."""

    city_id = models.CharField(_("Kaspi city ID"), max_length=16, unique=True)
    name = models.CharField(_("name"), max_length=100)
    is_active = models.BooleanField(_("active"), default=True)
    price_adjust_percent = models.DecimalField(
        _("price adjustment, %"),
        max_digits=5,
        decimal_places=2,
        default=0,
        validators=[MinValueValidator(-50), MaxValueValidator(100)],
    )

    class Meta:
        verbose_name = _("city")
        verbose_name_plural = _("cities")
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.city_id})"


class Rounding(models.TextChoices):
    NONE = "1", _("to 1 ₸")
    TEN = "10", _("to 10 ₸")
    HUNDRED = "100", _("to 100 ₸")
    END_90 = "90", _("ends in 90")
    END_990 = "990", _("ends in 990")


class PricingRule(models.Model):
    """Markup for a category, a brand and/or a purchase-price band; the most specific rule wins.

    A rule with no category, brand or band is the global default.
    """

    name = models.CharField(_("name"), max_length=100)
    is_active = models.BooleanField(_("active"), default=True)
    category = models.ForeignKey(
        Category, models.CASCADE, null=True, blank=True, verbose_name=_("category"),
        help_text=_("Applies to subcategories too."),
    )
    brand = models.ForeignKey(Brand, models.CASCADE, null=True, blank=True, verbose_name=_("brand"))
    min_purchase_price = models.PositiveIntegerField(_("purchase price from, ₸"), null=True, blank=True)
    max_purchase_price = models.PositiveIntegerField(_("purchase price up to, ₸"), null=True, blank=True)
    markup_percent = models.DecimalField(
        _("markup, %"), max_digits=6, decimal_places=2, default=0, validators=[MinValueValidator(0)]
    )
    markup_fixed = models.PositiveIntegerField(_("markup, ₸"), default=0)
    min_margin_percent = models.DecimalField(
        _("minimum margin, %"),
        max_digits=6,
        decimal_places=2,
        default=0,
        validators=[MinValueValidator(0)],
        help_text=_("The price never goes below the purchase price plus this percent."),
    )
    rounding = models.CharField(_("rounding"), max_length=4, choices=Rounding.choices, default=Rounding.TEN)
    priority = models.IntegerField(
        _("priority"), default=0, help_text=_("Between equally specific rules the higher priority wins.")
    )

    class Meta:
        verbose_name = _("pricing rule")
        verbose_name_plural = _("pricing rules")
        ordering = ["-priority", "name"]

    def __str__(self):
        return self.name


class Product(models.Model):
    # Supplier data: written by the sync, read-only for managers.
    article = models.PositiveBigIntegerField(_("Al-Style article"), unique=True)
    sku = models.CharField(_("Kaspi SKU"), max_length=20, unique=True)
    article_pn = models.CharField(_("part number"), max_length=255, blank=True)
    name = models.CharField(_("name"), max_length=1000)
    full_name = models.TextField(_("full name"), blank=True)
    brand = models.ForeignKey(Brand, models.SET_NULL, null=True, blank=True, verbose_name=_("brand"))
    category = models.ForeignKey(Category, models.SET_NULL, null=True, blank=True, verbose_name=_("category"))
    purchase_price = models.PositiveIntegerField(_("purchase price, ₸"), null=True, blank=True)
    retail_price = models.PositiveIntegerField(_("supplier RRP, ₸"), null=True, blank=True)
    discount_price = models.PositiveIntegerField(
        _("partner price, ₸"), null=True, blank=True,
        help_text=_("Al-Style's discountPrice: what the shop really pays for it, when Al-Style gives one."),
    )
    barcode = models.CharField(_("barcode"), max_length=64, blank=True, db_index=True)
    rrp_controlled = models.BooleanField(
        _("retail price controlled"), default=False,
        help_text=_("Al-Style's rrp: the brand controls the retail price, so it is never sold below the supplier "
                    "RRP (price2)."),
    )
    multiplicity = models.PositiveIntegerField(
        _("sold in multiples of"), null=True, blank=True,
        help_text=_("Al-Style sells it only in multiples of this number."),
    )
    markdown_stock = models.PositiveIntegerField(
        _("marked-down units"), default=0,
        help_text=_("Al-Style's quantityMarkdown: marked-down units, a different product for the buyer; never "
                    "sold as new."),
    )
    markdown_price = models.PositiveIntegerField(_("marked-down price, ₸"), null=True, blank=True)
    warehouse_stock = models.JSONField(
        _("stock per supplier warehouse"), default=dict, blank=True,
        help_text=_("Units per Al-Style warehouse, from the last full sync."),
    )
    supplier_quantity = models.CharField(_("supplier quantity"), max_length=32, blank=True)
    supplier_stock = models.PositiveIntegerField(_("supplier stock"), default=0)
    is_new = models.BooleanField(_("new"), default=False)
    at_supplier = models.BooleanField(
        _("at supplier"), default=True, help_text=_("Cleared when the item disappears from the supplier's catalogue.")
    )
    supplier_hash = models.CharField(max_length=32, blank=True, editable=False)
    search_text = SearchField(_("search text"))
    first_seen = models.DateTimeField(_("first seen"), default=timezone.now)
    last_seen = models.DateTimeField(_("last seen"), default=timezone.now)

    # Pricing: `price` is what the feed publishes; it only ever moves through catalog.pricing.
    price = models.PositiveIntegerField(_("Kaspi price, ₸"), null=True, blank=True)
    price_locked = models.BooleanField(
        _("price locked"), default=False, help_text=_("Neither the sync nor the rules change this price.")
    )
    proposed_price = models.PositiveIntegerField(
        _("awaiting confirmation, ₸"),
        null=True,
        blank=True,
        help_text=_("A rule price that moved too far; published once someone confirms it."),
    )

    # Stock and publication: the manager's edits survive every sync.
    manual_stock = models.PositiveIntegerField(
        _("manual stock"), null=True, blank=True, help_text=_("When set, replaces the supplier's stock.")
    )
    own_stock = models.PositiveIntegerField(
        _("own stock"), default=0,
        help_text=_("Units on the shop's own shelf (returned goods) that no order holds yet: published on top of "
                    "the supplier's stock and used first by new orders."),
    )
    publish = models.BooleanField(_("publish"), default=True)

    # Limits a manager sets per product: the rules' price is clamped to them (never below the cost floor).
    min_price = models.PositiveIntegerField(
        _("minimum price, ₸"), null=True, blank=True,
        help_text=_("The rules never price it lower (the cost floor still wins over a lower minimum)."),
    )
    max_price = models.PositiveIntegerField(
        _("maximum price, ₸"), null=True, blank=True,
        help_text=_("The rules never price it higher, unless the cost floor is higher still."),
    )
    # The SKU the shop already sold this product under at Kaspi (cards and reviews hang on it): once
    # set it is what the feed publishes and what order lines are matched on, and it never changes.
    kaspi_sku = models.CharField(
        _("SKU kept from the shop's price list"), max_length=20, unique=True, null=True, blank=True,
        help_text=_("The shop's existing Kaspi SKU, taken over from its price list; published instead of "
                    "the derived one."),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["name"]
        permissions = [
            ("confirm_price", _("Can confirm prices held by the guard")),
            ("sell_below_cost", _("Can publish a price below the purchase cost")),
        ]

    def __str__(self):
        return f"{self.sku} {self.name}"

    def save(self, *args, **kwargs):
        self.search_text = product_search_text(self.name, self.full_name, self.article_pn, self.barcode)
        kwargs["update_fields"] = with_derived(kwargs.get("update_fields"), SEARCHED)
        super().save(*args, **kwargs)

    @property
    def price_on_request(self):
        return is_price_on_request(self.purchase_price)

    def clean(self):
        if self.min_price and self.max_price and self.max_price < self.min_price:
            raise ValidationError({"max_price": _("The maximum price is below the minimum price.")})

    @property
    def cost(self):
        """What one unit costs the shop: the partner price where Al-Style gives one, else `price1`."""
        return effective_cost(self.purchase_price, self.discount_price)

    @property
    def feed_sku(self):
        """The SKU the feed publishes: the shop's own Kaspi SKU when it kept one."""
        return self.kaspi_sku or self.sku

    @property
    def stock(self):
        return self.manual_stock if self.manual_stock is not None else self.supplier_stock


class PriceChange(models.Model):
    """Who moved a published price, when, and why."""

    class Source(models.TextChoices):
        RULES = "rules", _("rules")
        MANAGER = "manager", _("manager")
        CONFIRMED = "confirmed", _("confirmation")
        LOCKED = "locked", _("locked as it is")
        IMPORT = "import", _("spreadsheet import")

    product = models.ForeignKey(Product, models.CASCADE, related_name="price_changes", verbose_name=_("product"))
    old_price = models.PositiveIntegerField(_("old price"), null=True)
    new_price = models.PositiveIntegerField(_("new price"), null=True)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, verbose_name=_("user")
    )
    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("price change")
        verbose_name_plural = _("price history")
        ordering = ["-at"]

    def __str__(self):
        return f"{self.product}: {tenge(self.old_price)} → {tenge(self.new_price)}"


class PriceListImport(models.Model):
    """One reading of the shop's existing Kaspi price list, matched against the catalogue.

    A dry run stores its report (the listed offers and what would happen to each) and changes no
    product; applying it later matches the same offers again and writes the SKUs.
    """

    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, verbose_name=_("user")
    )
    source = models.CharField(_("source"), max_length=1000, help_text=_("The file's name or the URL."))
    dry_run = models.BooleanField(_("dry run"), default=True, help_text=_("Not applied: no product was changed."))
    offers = models.PositiveIntegerField(_("offers"), default=0)
    matched = models.PositiveIntegerField(_("matched"), default=0)
    applied = models.PositiveIntegerField(_("SKUs kept"), default=0)
    refused = models.PositiveIntegerField(_("refused"), default=0)
    unmatched = models.PositiveIntegerField(_("unmatched"), default=0)

    class Meta:
        verbose_name = _("price list import")
        verbose_name_plural = _("price list imports")
        ordering = ["-at"]

    def __str__(self):
        return f"{self.source} ({moment(self.at)})"


class ListedOffer(models.Model):
    """An offer of an imported price list: the product it was matched to, how, and whether it kept its SKU."""

    class Match(models.TextChoices):
        SKU = "sku", _("by SKU")
        PART_NUMBER = "part_number", _("by part number")
        BARCODE = "barcode", _("by barcode")
        NAME = "name", _("by name")
        MANUAL = "manual", _("by hand")

    price_list = models.ForeignKey(
        PriceListImport, models.CASCADE, related_name="listed_offers", verbose_name=_("price list import")
    )
    sku = models.CharField(_("SKU"), max_length=64, blank=True)
    model = models.CharField(_("model"), max_length=1000, blank=True)
    brand = models.CharField(_("brand"), max_length=255, blank=True)
    barcode = models.CharField(_("barcode"), max_length=64, blank=True)
    price = models.PositiveIntegerField(_("price, ₸"), null=True, blank=True)
    product = models.ForeignKey(
        Product, models.SET_NULL, null=True, blank=True, related_name="listed_offers", verbose_name=_("product")
    )
    match = models.CharField(_("matched"), max_length=16, choices=Match.choices, blank=True)
    applied = models.BooleanField(_("SKU kept"), default=False, help_text=_("The product carries this SKU."))
    left_out = models.BooleanField(_("left out"), default=False)
    note = models.CharField(_("note"), max_length=255, blank=True, help_text=_("Why it is unmatched or refused."))

    class Meta:
        verbose_name = _("listed offer")
        verbose_name_plural = _("listed offers")
        ordering = ["price_list", "id"]

    def __str__(self):
        return f"{self.sku} {self.model}"


# Sent with `kept`, a list of (product id, SKU), when products take SKUs of the shop's price list, so
# that what came in under those SKUs before (order lines) can follow. Defined here: the other apps may
# read the catalogue's models, not its services.
skus_kept = Signal()


class ProductExport(models.Model):
    """One export of the product list, remembered so that importing its file changes only the cells a manager
    edited: a cell still as exported is left alone, whatever the rules, the sync or orders did since.

    `values` holds the writable cells as exported, by product id: {"12": {"price": 12990, "publish": true, …}}.
    """

    KEEP_DAYS = 90  # older exports are forgotten, and the import refuses their files

    created_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, verbose_name=_("user")
    )
    values = models.JSONField(_("exported values"), default=dict, editable=False)

    class Meta:
        verbose_name = _("product export")
        verbose_name_plural = _("product exports")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self._meta.verbose_name} {moment(self.created_at)}"
