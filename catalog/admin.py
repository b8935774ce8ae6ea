from django import forms
from django.contrib import admin, messages
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from common.admin import ReadOnlyLogAdmin
from common.format import tenge, tenge_display

from . import services
from .models import PRICE_ON_REQUEST, Brand, Category, City, PriceChange, PricingRule, Product, Store
from .pricing import below_cost


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
            return queryset.filter(purchase_price__gt=1, price__lt=F("purchase_price"))
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
        if "price" in self.changed_data and below_cost(price, self.instance.purchase_price):
            allowed = self.user is not None and self.user.has_perm("catalog.sell_below_cost")
            if not (allowed and cleaned.get("below_cost_confirmed")):
                self.add_error("price", services.below_cost_message(price, self.instance.purchase_price))
        return cleaned

    def clean_price(self):
        price = self.cleaned_data.get("price")
        if price is not None and price <= 0:
            raise forms.ValidationError(_("A price must be a positive whole number of tenge."))
        if price is None and self.instance.price is not None:
            raise forms.ValidationError(_("A published price cannot be removed; hide the product instead."))
        return price


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    form = ProductForm
    list_display = [
        "sku", "name", "brand", "purchase_display", "price", "proposed_display", "price_locked",
        "supplier_quantity", "manual_stock", "own_stock", "publish", "at_supplier",
    ]
    list_display_links = ["sku", "name"]
    list_editable = ["price", "manual_stock", "publish"]
    list_filter = [
        "publish", "at_supplier", InStockFilter, "price_locked", PriceOnRequestFilter, AwaitingConfirmationFilter,
        BelowCostFilter,
        "is_new", "brand", "category",
    ]
    list_select_related = ["brand"]
    list_per_page = 100
    search_fields = ["sku", "=article", "article_pn", "name", "brand__name"]
    readonly_fields = [
        "article", "sku", "article_pn", "name", "full_name", "brand", "category", "purchase_display",
        "retail_display", "supplier_quantity", "supplier_stock", "is_new", "at_supplier", "first_seen",
        "last_seen", "proposed_display", "updated_at",
    ]
    fieldsets = [
        (_("Supplier"), {"fields": [
            "article", "sku", "article_pn", "name", "full_name", "brand", "category", "purchase_display",
            "retail_display", "supplier_quantity", "supplier_stock", "is_new", "at_supplier", "first_seen",
            "last_seen",
        ]}),
        (_("Kaspi"), {"fields": [
            "price", "price_locked", "proposed_display", "manual_stock", "own_stock", "publish", "updated_at",
        ]}),
    ]
    inlines = [PriceChangeInline]
    actions = ["publish_items", "hide_items", "lock_prices", "unlock_prices", "apply_rules", "confirm_prices"]

    def has_add_permission(self, request):
        return False  # products come from the supplier

    @admin.display(description=_("purchase"), ordering="purchase_price")
    def purchase_display(self, obj):
        return _("on request") if obj.price_on_request else tenge(obj.purchase_price)

    @admin.display(description=_("awaiting confirmation"), ordering="proposed_price")
    def proposed_display(self, obj):
        return tenge(obj.proposed_price) if obj.proposed_price else "—"

    retail_display = tenge_display("retail_price", _("supplier RRP"))

    def get_changelist_form(self, request, **kwargs):
        form = super().get_changelist_form(request, form=ProductForm, **kwargs)
        form.user = request.user  # a class made for this request
        return form

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
        if change and "price" in form.changed_data:
            services.product_set_price(product=obj, price=obj.price, user=request.user,
                                       below_cost_confirmed=form.cleaned_data.get("below_cost_confirmed", False))
        if change:  # also from the list's inline edits, which do not show own stock: keep what is there now
            now = Product.objects.select_for_update().filter(pk=obj.pk).values_list("own_stock", flat=True).get()
            typed = obj.own_stock - form.own_stock_seen(now) if "own_stock" in form.fields else 0
            obj.own_stock = max(0, now + typed)
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Publish on Kaspi"), permissions=["change"])
    def publish_items(self, request, queryset):
        count = services.products_set_publish(queryset=queryset, publish=True, user=request.user)
        self.message_user(request, ngettext("%d product published.", "%d products published.", count) % count)

    @admin.action(description=_("Hide from Kaspi (do not publish)"), permissions=["change"])
    def hide_items(self, request, queryset):
        count = services.products_set_publish(queryset=queryset, publish=False, user=request.user)
        self.message_user(request, ngettext("%d product hidden.", "%d products hidden.", count) % count)

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
            request, _("%(moved)d prices changed; %(held)d await confirmation.") % {"moved": moved, "held": held}
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
        "markup_fixed", "min_margin_percent", "rounding", "priority",
    ]
    list_editable = ["is_active", "markup_percent", "markup_fixed", "priority"]
    list_filter = ["is_active", "rounding", "brand"]
    list_select_related = ["category", "brand"]
    autocomplete_fields = ["category", "brand"]
    search_fields = ["name"]
    min_purchase_display = tenge_display("min_purchase_price", _("purchase price from"))
    max_purchase_display = tenge_display("max_purchase_price", _("purchase price up to"))


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "parent"]
    list_select_related = ["parent"]
    search_fields = ["name", "=id"]
    readonly_fields = ["id", "name", "parent"]

    def has_add_permission(self, request):
        return False


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ["store_id", "name", "is_active", "stock_percent", "preorder_days"]
    list_editable = ["is_active", "stock_percent", "preorder_days"]


@admin.register(City)
class CityAdmin(admin.ModelAdmin):
    list_display = ["city_id", "name", "is_active", "price_adjust_percent"]
    list_editable = ["is_active", "price_adjust_percent"]


@admin.register(PriceChange)
class PriceChangeAdmin(PriceChangeMoney, ReadOnlyLogAdmin):
    list_display = ["at", "product", "old_price_display", "new_price_display", "source", "user"]
    list_filter = ["source", "at"]
    list_select_related = ["product", "user"]
    search_fields = ["product__sku", "product__name", "user__username"]
    date_hierarchy = "at"
