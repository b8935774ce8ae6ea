from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import F, Q
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from import_export.admin import ImportExportMixin
from import_export.formats.base_formats import CSV, XLSX
from import_export.forms import ExportForm

from common.admin import ReadOnlyLogAdmin
from common.format import decimal_display, tenge, tenge_display

from . import offers, pricing, services, spreadsheets, story
from .kaspi_pricelist import (
    STATUSES,
    PriceListError,
    listed_offer_link,
    listed_offers_leave_out,
    match_counts,
    pricelist_apply,
    pricelist_import,
    pricelist_open,
)
from .models import (
    COST,
    PRICE_ON_REQUEST,
    Brand,
    Category,
    City,
    ListedOffer,
    PriceChange,
    PriceListImport,
    PricingRule,
    Product,
    Store,
)


class YesNoFilter(admin.SimpleListFilter):
    """Products that meet `condition` (yes) or not (no)."""

    condition = None

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(self.condition)
        if self.value() == "no":
            return queryset.exclude(self.condition)
        return queryset


class InStockFilter(YesNoFilter):
    title = _("in stock")
    parameter_name = "in_stock"
    condition = Q(own_stock__gt=0) | Q(manual_stock__gt=0) | Q(manual_stock__isnull=True, supplier_stock__gt=0)


class PriceOnRequestFilter(YesNoFilter):
    title = _("price on request")
    parameter_name = "on_request"
    condition = PRICE_ON_REQUEST


class AwaitingConfirmationFilter(admin.SimpleListFilter):
    title = _("price awaiting confirmation")
    parameter_name = "proposed"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(proposed_price__isnull=False)
        return queryset


class BelowCostFilter(admin.SimpleListFilter):
    title = _("price below cost")
    parameter_name = "below_cost"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.alias(cost=COST).filter(cost__gt=1, price__lt=F("cost"))
        return queryset


class PriceChangeMoney:
    """The old and new price of a `PriceChange`, as money."""

    old_price_display = tenge_display("old_price", _("old price"))
    new_price_display = tenge_display("new_price", _("new price"))


class PriceChangeInline(PriceChangeMoney, admin.TabularInline):
    model = PriceChange
    extra = 0
    fields = ["at", "old_price_display", "new_price_display", "source", "user"]
    readonly_fields = fields
    can_delete = False
    ordering = ["-at"]

    def has_add_permission(self, request, obj=None):
        return False


class ProductForm(forms.ModelForm):
    below_cost_confirmed = forms.BooleanField(
        label=_("Sell below cost"), required=False,
        help_text=_("Publish the price even though it is below the purchase cost."))
    user = None  # set per request by the admin: the permission to sell below cost is the user's

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not (self.user and self.user.has_perm("catalog.sell_below_cost")) or "price" not in self.fields:
            self.fields.pop("below_cost_confirmed", None)
        if "own_stock" in self.fields:  # the page carries what the manager saw, so an edit is a change by
            self.fields["own_stock"].show_hidden_initial = True

    def own_stock_seen(self, default):
        """The own stock the form showed when it was opened (or `default`)."""
        try:
            return int(self.data.get(self.add_initial_prefix("own_stock"), default))
        except (TypeError, ValueError):
            return default

    def clean(self):
        cleaned = super().clean()
        price = cleaned.get("price")
        problem = services.price_problem(price, self.instance) if "price" in self.changed_data and price else None
        if problem:
            allowed = self.user is not None and self.user.has_perm("catalog.sell_below_cost")
            if not (allowed and cleaned.get("below_cost_confirmed")):
                self.add_error("price", problem)
        return cleaned

    def clean_price(self):
        price = self.cleaned_data.get("price")
        if price is not None and price <= 0:
            raise forms.ValidationError(_("A price must be a positive whole number of tenge."))
        if price is None and self.instance.price is not None:
            raise forms.ValidationError(_("A published price cannot be removed; hide the product instead."))
        return price


@admin.register(Product)
class ProductAdmin(ImportExportMixin, admin.ModelAdmin):
    form = ProductForm
    resource_classes = [spreadsheets.ProductResource]
    formats = [CSV, XLSX]
    import_template_name = "admin/catalog/product/import.html"
    change_form_template = "admin/catalog/product/change_form.html"  # the product's story above its fields
    export_form_class = ExportForm  # every column, always: the file comes back as an import
    to_encoding = "utf-8-sig"  # without the BOM Excel reads a CSV's Cyrillic as cp1251
    list_display = [
        "sku", "name_cut", "purchase_display", "price", "proposed_display", "price_locked",
        "supplier_quantity", "manual_stock", "own_stock", "publish",
    ]  # gone from the supplier: a filter; a name cut to the column, whole on hover
    list_display_links = ["sku", "name_cut"]
    list_editable = ["price", "manual_stock", "publish"]
    list_filter = [
        "publish", "at_supplier", InStockFilter, "price_locked", PriceOnRequestFilter, AwaitingConfirmationFilter,
        BelowCostFilter,
        "is_new", "brand", "category",
    ]
    list_select_related = ["brand"]
    list_per_page = 100
    search_fields = ["sku", "kaspi_sku", "=article", "search_text__fold", "brand__name__fold"]
    readonly_fields = [
        "article", "sku", "article_pn", "barcode", "name", "full_name", "brand", "category", "purchase_display",
        "discount_display", "retail_display", "rrp_controlled", "multiplicity", "markdown_display",
        "warehouses_display", "supplier_quantity", "supplier_stock", "is_new", "at_supplier",
        "first_seen", "last_seen", "price_story", "proposed_display", "kaspi_sku", "updated_at",
    ]
    fieldsets = [
        (_("Supplier"), {"fields": [
            "article", "sku", "article_pn", "barcode", "name", "full_name", "brand", "category", "purchase_display",
            "discount_display", "retail_display", "rrp_controlled", "multiplicity", "markdown_display",
            "warehouses_display", "supplier_quantity", "supplier_stock", "is_new", "at_supplier",
            "first_seen", "last_seen",
        ]}),
        (_("Kaspi"), {"fields": [
            "kaspi_sku", "price", "price_story", "price_locked", "proposed_display", "min_price", "max_price",
            "manual_stock", "own_stock", "publish", "updated_at",
        ]}),
    ]
    inlines = [PriceChangeInline]
    actions = ["publish_items", "hide_items", "lock_prices", "unlock_prices", "apply_rules", "confirm_prices"]

    @admin.display(description=_("name"), ordering="name")
    def name_cut(self, product):
        """A long name cut to the column, whole on hover."""
        return format_html('<span class="cut" title="{}">{}</span>', product.name, product.name)

    def has_add_permission(self, request):
        return False  # products come from the supplier

    def process_result(self, result, request):
        """The confirmed import checks the file again: if the catalogue moved since the preview, nothing applied."""
        if result.has_errors() or result.has_validation_errors():
            problems = "; ".join(spreadsheets.import_problems(result))
            self.message_user(request, _("Nothing was imported: %(problems)s") % {"problems": problems}, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:catalog_product_import"))
        return super().process_result(result, request)

    def get_data_for_export(self, request, queryset, **kwargs):
        """The export is remembered with who made it (see spreadsheets.ProductResource.before_export)."""
        return super().get_data_for_export(request, queryset, user=request.user, **kwargs)

    @admin.display(description=_("purchase"), ordering="purchase_price")
    def purchase_display(self, obj):
        return _("on request") if obj.price_on_request else tenge(obj.purchase_price)

    @admin.display(description=_("awaiting confirmation"), ordering="proposed_price")
    def proposed_display(self, obj):
        return tenge(obj.proposed_price) if obj.proposed_price else "—"

    retail_display = tenge_display("retail_price", _("supplier RRP"))
    discount_display = tenge_display("discount_price", _("partner price"))

    @admin.display(description=_("marked-down units"))
    def markdown_display(self, obj):
        """Marked-down units are another product for the buyer: shown here, never in the feed's stock."""
        if not obj.markdown_stock:
            return "—"
        return _("%(units)s at %(price)s (not sold as new)") % {"units": obj.markdown_stock,
                                                               "price": tenge(obj.markdown_price)}

    @admin.display(description=_("stock per supplier warehouse"))
    def warehouses_display(self, obj):
        return ", ".join(f"{code}: {units}" for code, units in sorted(obj.warehouse_stock.items())) or "—"

    @admin.display(description=_("how the price is set"))
    def price_story(self, obj):
        return pricing.price_story(obj)

    def get_changelist_form(self, request, **kwargs):
        form = super().get_changelist_form(request, form=ProductForm, **kwargs)
        form.user = request.user  # a class made for this request
        return form

    def change_view(self, request, object_id, form_url="", extra_context=None):
        product = self.get_object(request, object_id)
        extra = {"story": story.product_story(product, request.user)} if product else {}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        form.user = request.user
        return form

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.has_perm("catalog.sell_below_cost") and obj is not None:
            fieldsets = [(name, {**options, "fields": [*options["fields"], "below_cost_confirmed"]})
                         if name == _("Kaspi") else (name, options) for name, options in fieldsets]
        return fieldsets

    def save_model(self, request, obj, form, change):
        """A price typed by a manager is locked and recorded; everything else saves as usual.

        Own stock moves under the form while it is open (orders take units, returns add them): the
        manager's edit is applied as the change they typed, on top of what is there now.
        """
        limits_moved = change and {"min_price", "max_price"} & set(form.changed_data)
        if change and "price" in form.changed_data:
            services.product_set_price(product=obj, price=obj.price, user=request.user,
                                       below_cost_confirmed=form.cleaned_data.get("below_cost_confirmed", False))
        if change:  # also from the list's inline edits, which do not show own stock: keep what is there now
            now = Product.objects.select_for_update().filter(pk=obj.pk).values_list("own_stock", flat=True).get()
            if "own_stock" in form.fields:
                obj.own_stock = services.own_stock_edited(now=now, seen=form.own_stock_seen(now), typed=obj.own_stock)
            else:
                obj.own_stock = now
        super().save_model(request, obj, form, change)
        if limits_moved:  # the rules take new limits at once
            services.products_reprice(queryset=Product.objects.filter(pk=obj.pk), user=request.user)

    @admin.action(description=_("Publish on Kaspi"), permissions=["change"])
    def publish_items(self, request, queryset):
        count = services.products_set_publish(queryset=queryset, publish=True, user=request.user)
        self.message_user(request, ngettext("%d product published.", "%d products published.", count) % count)

    @admin.action(description=_("Hide from Kaspi (do not publish)"), permissions=["change"])
    def hide_items(self, request, queryset):
        hiding = queryset.filter(publish=True)
        if hiding.count() > settings.BULK_HIDE_CONFIRM_OVER and "confirmed" not in request.POST:
            return self._confirm_hiding(request, hiding)
        count = services.products_set_publish(queryset=queryset, publish=False, user=request.user)
        self.message_user(request, ngettext("%d product hidden.", "%d products hidden.", count) % count)

    def _confirm_hiding(self, request, hiding):
        """Many products leaving the feed at once is asked first; the page's Confirm posts the same action again."""
        context = {**self.admin_site.each_context(request), "opts": self.opts,
                   "title": _("Hide products from Kaspi"), "count": hiding.count(),
                   "offers": offers.offers_on_sale(hiding),
                   "checkbox": ACTION_CHECKBOX_NAME, "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
                   "select_across": request.POST.get("select_across", "0"), "back": request.get_full_path()}
        return TemplateResponse(request, "admin/catalog/product/hide_confirmation.html", context)

    @admin.action(description=_("Lock price"), permissions=["change"])
    def lock_prices(self, request, queryset):
        count = services.products_lock_price(queryset=queryset, user=request.user)
        self.message_user(request, ngettext("%d price locked.", "%d prices locked.", count) % count)

    @admin.action(description=_("Unlock price and apply the rules"), permissions=["change"])
    def unlock_prices(self, request, queryset):
        moved = services.products_unlock_price(queryset=queryset, user=request.user)
        self.message_user(request, _("Prices unlocked; %(moved)d changed by the rules.") % {"moved": moved})

    @admin.action(description=_("Apply pricing rules now"), permissions=["change"])
    def apply_rules(self, request, queryset):
        moved = services.products_reprice(queryset=queryset, user=request.user)
        held = queryset.filter(proposed_price__isnull=False).count()
        self.message_user(
            request, ngettext("%(moved)d price changed; %(held)d await confirmation.",
                              "%(moved)d prices changed; %(held)d await confirmation.", moved)
            % {"moved": moved, "held": held}
        )

    @admin.action(description=_("Confirm prices held by the guard"), permissions=["confirm_price"])
    def confirm_prices(self, request, queryset):
        count = services.products_confirm_price(queryset=queryset, user=request.user)
        level = messages.SUCCESS if count else messages.WARNING
        self.message_user(request, ngettext("%d price confirmed.", "%d prices confirmed.", count) % count, level)

    def has_confirm_price_permission(self, request):
        return request.user.has_perm("catalog.confirm_price")


@admin.register(PricingRule)
class PricingRuleAdmin(admin.ModelAdmin):
    list_display = [
        "name", "is_active", "category", "brand", "min_purchase_display", "max_purchase_display", "markup_percent",
        "markup_fixed", "min_margin_display", "rounding", "priority",
    ]
    list_editable = ["is_active", "markup_percent", "markup_fixed", "priority"]
    list_filter = ["is_active", "rounding", "brand"]
    list_select_related = ["category", "brand"]
    autocomplete_fields = ["category", "brand"]
    search_fields = ["name__fold"]
    min_purchase_display = tenge_display("min_purchase_price", _("purchase price from"))
    max_purchase_display = tenge_display("max_purchase_price", _("purchase price up to"))
    min_margin_display = decimal_display("min_margin_percent", _("minimum margin, %"))


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "parent"]
    list_select_related = ["parent"]
    search_fields = ["name__fold", "=id"]
    readonly_fields = ["id", "name", "parent"]

    def has_add_permission(self, request):
        return False


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    search_fields = ["name__fold"]


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ["store_id", "name", "is_active", "stock_percent", "warehouses", "preorder_days"]
    list_editable = ["is_active", "stock_percent", "warehouses", "preorder_days"]


def describe_cities(names):
    if not names:
        return _("every offer carries one price (<price>) and is sold in every city")
    return _("every offer carries a price per city (<cityprices>) and is sold only in: %(cities)s") % {
        "cities": ", ".join(names)}


class CityForm(forms.ModelForm):
    """Saving a city changes what every offer says to Kaspi: the form shows how, and asks once."""

    feed_change_confirmed = forms.BooleanField(
        label=_("Change the feed as described"), required=False,
        help_text=_("Tick after reading what this does to the offers, then save again."))

    class Meta:
        model = City
        fields = ["city_id", "name", "is_active", "price_adjust_percent"]

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        effect = offers.city_effect(pk=self.instance.pk, city_id=cleaned.get("city_id"), name=cleaned.get("name"),
                                    is_active=cleaned.get("is_active"),
                                    adjust_percent=cleaned.get("price_adjust_percent"))
        if effect.changed and not cleaned.get("feed_change_confirmed"):
            text = ngettext("Saving this changes %(changed)s of %(offers)s offer in the next feed. Now %(before)s; "
                            "after saving %(after)s.",
                            "Saving this changes %(changed)s of %(offers)s offers in the next feed. Now %(before)s; "
                            "after saving %(after)s.", effect.offers) % {
                "changed": effect.changed, "offers": effect.offers,
                "before": describe_cities(effect.cities_before), "after": describe_cities(effect.cities_after)}
            raise forms.ValidationError(text, code="confirm")
        return cleaned


@admin.register(City)
class CityAdmin(admin.ModelAdmin):
    """No inline editing in the list: every change goes through the form that shows its effect."""

    form = CityForm
    change_list_template = "admin/change_list_note.html"
    list_display = ["city_id", "name", "is_active", "price_adjust_display"]
    price_adjust_display = decimal_display("price_adjust_percent", _("price adjustment, %"))
    fields = ["city_id", "name", "is_active", "price_adjust_percent", "feed_change_confirmed"]

    def changelist_view(self, request, extra_context=None):
        names = tuple(City.objects.filter(is_active=True).order_by("name").values_list("name", flat=True))
        note = _("Active cities decide the feed's prices: now %(what)s. Activating a city makes offers sold only "
                 "in the active cities; a price adjustment moves the city's price by the percent, rounded and "
                 "never below the cost floor, like the main price.") % {"what": describe_cities(names)}
        return super().changelist_view(request, {**(extra_context or {}), "title_note": note})


@admin.register(PriceChange)
class PriceChangeAdmin(PriceChangeMoney, ReadOnlyLogAdmin):
    list_display = ["at", "product", "old_price_display", "new_price_display", "source", "user"]
    list_filter = ["source", "at"]
    list_select_related = ["product", "user"]
    search_fields = ["product__sku", "product__search_text__fold", "user__username__fold"]
    date_hierarchy = "at"


class PriceListForm(forms.Form):
    file = forms.FileField(label=_("Price list file"), required=False)
    url = forms.URLField(label=_("or its URL"), required=False, assume_scheme="https",
                         help_text=_("The address the shop's price list is published at now."))

    def clean(self):
        cleaned = super().clean()
        if bool(cleaned.get("file")) == bool(cleaned.get("url")) and not self.has_error("url"):
            raise forms.ValidationError(_("Give either a file or a URL."))
        return cleaned

    def open(self):
        """`(source, binary file)` of the price list given."""
        upload = self.cleaned_data["file"]
        return (upload.name, upload) if upload else pricelist_open(self.cleaned_data["url"])


class ChangesProducts:
    """Taking over a price list's SKUs changes products: whoever may change products sees these pages."""

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("catalog.change_product") or super().has_view_permission(request, obj)


def listed_offers_link(price_list, count, status=None):
    url = reverse("admin:catalog_listedoffer_changelist") + f"?price_list__id__exact={price_list.pk}"
    return format_html('<a href="{}">{}</a>', url + (f"&status={status}" if status else ""), count)


@admin.register(PriceListImport)
class PriceListImportAdmin(ChangesProducts, ReadOnlyLogAdmin):
    list_display = ["at", "source", "dry_run", "offers_display", "matched", "applied", "refused", "unmatched_display",
                    "user"]
    list_filter = ["dry_run", "at"]
    list_select_related = ["user"]
    fields = ["at", "user", "source", "dry_run", "offers_display", "matched", "match_kinds", "applied", "refused",
              "unmatched_display"]
    readonly_fields = fields
    change_form_template = "admin/catalog/pricelistimport/change_form.html"

    def has_add_permission(self, request):
        return request.user.has_perm("catalog.change_product")

    @admin.display(description=_("offers"), ordering="offers")
    def offers_display(self, obj):
        return listed_offers_link(obj, obj.offers)

    @admin.display(description=_("unmatched"), ordering="unmatched")
    def unmatched_display(self, obj):
        return listed_offers_link(obj, obj.unmatched, "unmatched")

    @admin.display(description=_("matched by"))
    def match_kinds(self, obj):
        return ", ".join(f"{label}: {count}" for label, count in match_counts(obj).items())

    def get_urls(self):
        apply = self.admin_site.admin_view(self.apply_view)
        return [path("<int:pk>/apply/", apply, name="catalog_pricelistimport_apply"), *super().get_urls()]

    def add_view(self, request, form_url="", extra_context=None):
        """A file or a URL is read as a dry run first: its page shows the matches and applies them."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = PriceListForm(request.POST or None, request.FILES or None)
        if form.is_valid():
            try:
                source, file = form.open()
                with file:
                    price_list = pricelist_import(file=file, source=source, user=request.user, dry_run=True)
            except PriceListError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, _("Nothing has changed yet: check the matches, then apply them."))
                return redirect("admin:catalog_pricelistimport_change", price_list.pk)
        context = {**self.admin_site.each_context(request), "opts": self.opts, "form": form,
                   "title": _("Import the shop's Kaspi price list")}
        return TemplateResponse(request, "admin/catalog/pricelistimport/import.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_apply": request.user.has_perm("catalog.change_product")}
        return super().change_view(request, object_id, form_url, extra_context)

    def apply_view(self, request, pk):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm("catalog.change_product"):
            raise PermissionDenied
        try:
            price_list = pricelist_apply(price_list=get_object_or_404(PriceListImport, pk=pk), user=request.user)
        except PriceListError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(request, ngettext(
                "%(applied)d product keeps its Kaspi SKU; %(refused)d refused, %(unmatched)d unmatched.",
                "%(applied)d products keep their Kaspi SKU; %(refused)d refused, %(unmatched)d unmatched.",
                price_list.applied) % {
                "applied": price_list.applied, "refused": price_list.refused, "unmatched": price_list.unmatched})
        return redirect("admin:catalog_pricelistimport_change", pk)


class OfferStatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("matched", _("matched")), ("refused", _("refused")), ("unmatched", _("unmatched")),
                ("left_out", _("left out"))]

    def queryset(self, request, queryset):
        return queryset.filter(STATUSES[self.value()]) if self.value() in STATUSES else queryset


@admin.register(ListedOffer)
class ListedOfferAdmin(ChangesProducts, admin.ModelAdmin):
    list_display = ["sku", "model", "brand", "price_display", "product", "match", "applied", "left_out", "note"]
    list_filter = [OfferStatusFilter, "match", "applied", "price_list"]
    list_select_related = ["product"]
    list_per_page = 100
    search_fields = ["sku", "model__fold", "brand__fold", "product__sku", "product__search_text__fold"]
    autocomplete_fields = ["product"]
    fields = ["price_list", "sku", "model", "brand", "barcode", "price_display", "product", "match", "applied",
              "left_out", "note"]
    readonly_fields = ["price_list", "sku", "model", "brand", "barcode", "price_display", "match", "applied", "note"]
    actions = ["leave_out"]
    price_display = tenge_display("price", _("price"))

    def get_readonly_fields(self, request, obj=None):
        return self.fields if obj is not None and obj.applied else self.readonly_fields  # a kept SKU never moves

    def has_add_permission(self, request):
        return False  # offers come from an imported price list

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("catalog.change_product")

    def has_delete_permission(self, request, obj=None):
        return False  # they go with their import

    def save_model(self, request, obj, form, change):
        """A link made by hand, or an offer left out, goes through the service that keeps the SKU rules."""
        try:
            if "left_out" in form.changed_data:
                listed_offers_leave_out(queryset=ListedOffer.objects.filter(pk=obj.pk), left_out=obj.left_out)
            if "product" in form.changed_data:
                obj = listed_offer_link(offer=obj, product=obj.product)
        except PriceListError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        if obj.note:
            self.message_user(request, obj.note, messages.WARNING)

    @admin.action(description=_("Leave out (no product takes their SKU)"), permissions=["change"])
    def leave_out(self, request, queryset):
        count = listed_offers_leave_out(queryset=queryset)
        self.message_user(request, ngettext("%d offer left out.", "%d offers left out.", count) % count)
