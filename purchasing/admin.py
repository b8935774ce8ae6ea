import json

from django import forms
from django.contrib import admin, messages
from django.db.models import Prefetch
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from catalog.alstyle import AlstyleError
from common.admin import ReadOnlyLogAdmin
from common.errors import error_summary
from common.format import tenge_display
from orders.admin import OrderAdmin
from orders.models import customer_data

from . import services
from .models import Coverage, SupplierOrder, SupplierOrderEvent, SupplierOrderLine

SEES = "purchasing.view_supplierorder"
CHANGES = "purchasing.change_supplierorder"


def editable(obj):
    return obj is not None and obj.state in services.EDITABLE


def supplier_order_link(supplier_order):
    url = reverse("admin:purchasing_supplierorder_change", args=[supplier_order.pk])
    return format_html('<a href="{}">{}</a> — {}', url, supplier_order, supplier_order.get_state_display())


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(SEES)


class LineForm(forms.ModelForm):
    class Meta:
        model = SupplierOrderLine
        fields = ["quantity"]

    def clean_quantity(self):
        quantity = self.cleaned_data["quantity"]
        multiple = self.instance.multiplicity or 1
        if quantity % multiple:
            raise forms.ValidationError(_("Al-Style sells it in multiples of %(multiple)d.") % {"multiple": multiple})
        return quantity


class LineInline(admin.TabularInline):
    model = SupplierOrderLine
    form = LineForm
    extra = 0
    can_delete = False
    fields = ["article", "product_link", "needed", "quantity", "rounding", "expected_price_display",
              "cart_price_display", "delivered"]
    readonly_fields = ["article", "product_link", "needed", "rounding", "expected_price_display",
                       "cart_price_display", "delivered"]
    expected_price_display = tenge_display("expected_price", _("expected price"))
    cart_price_display = tenge_display("cart_price", _("price in the cart"))

    def has_add_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(SEES)

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm(CHANGES) and editable(obj)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if self.has_change_permission(request, obj) else [*self.readonly_fields,
                                                                                     "quantity"]

    @admin.display(description=_("name"))
    def product_link(self, obj):
        if obj.product_id is None:
            return obj.name
        return format_html('<a href="{}">{}</a>', reverse("admin:catalog_product_change", args=[obj.product_id]),
                           obj.name)

    @admin.display(description=_("rounded"))
    def rounding(self, obj):
        if not obj.rounded_up:
            return "—"
        return format_html('<strong class="rounded-up">{}</strong>', _("rounded up from %(needed)d (multiples of "
                                                                        "%(multiple)d)") % {
            "needed": obj.needed, "multiple": obj.multiplicity or 1})


class CoverageInline(ReadOnlyInline):
    model = Coverage
    fields = ["order_link", "sku", "article", "units", "bought", "keep"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order", "entry")

    @admin.display(description=_("Kaspi order"))
    def order_link(self, obj):
        return format_html('<a href="{}">№{}</a>', reverse("admin:orders_order_change", args=[obj.order_id]),
                           obj.order.code)

    @admin.display(description=_("SKU"))
    def sku(self, obj):
        return obj.entry.sku if obj.entry else "—"


class EventInline(ReadOnlyInline):
    model = SupplierOrderEvent
    verbose_name_plural = _("this supplier order's history")
    fields = ["at", "state", "text", "user"]
    readonly_fields = fields


class SupplierOrderForm(forms.ModelForm):
    """The submit's terms; the choices are Al-Style's `user-data` (`account`, set per request)."""

    attorney_choice = forms.ChoiceField(label=_("Power of attorney"), required=False)
    delivery_choice = forms.ChoiceField(label=_("Delivery method"), required=False)
    account = None

    class Meta:
        model = SupplierOrder
        fields = ["shipping_date"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        account = self.account or {"attorneys": [], "carriers": []}
        self.entries = {}
        for name, key, current in (("attorney_choice", "attorneys", self.instance.attorney),
                                   ("delivery_choice", "carriers", self.instance.delivery)):
            entries = list(account[key])
            if current and current not in entries:
                entries.insert(0, current)
            default = services.default_entry(account[key])
            self.entries[name] = {_key(entry): entry for entry in entries}
            self.fields[name].choices = [("", _("Al-Style's default: %(entry)s") % {
                "entry": services.entry_label(default) or "—"})] + [
                (_key(entry), services.entry_label(entry)) for entry in entries]
            self.fields[name].initial = _key(current) if current else ""

    def chosen(self, name):
        return self.entries[name].get(self.cleaned_data.get(name) or "")


def _key(entry):
    return json.dumps(entry, sort_keys=True, ensure_ascii=False)


@admin.register(SupplierOrder)
class SupplierOrderAdmin(admin.ModelAdmin):
    list_display = ["number", "created_at", "kaspi_orders", "state", "alstyle_id", "alstyle_status",
                    "expected_total_display", "approved_by", "attempts", "message_short"]
    list_filter = ["state", "alstyle_status", "created_at"]
    list_select_related = ["approved_by"]
    search_fields = ["=alstyle_id", "=coverage__order__code"]
    form = SupplierOrderForm
    inlines = [LineInline, CoverageInline, EventInline]
    change_form_template = "admin/purchasing/supplierorder/change_form.html"
    actions = ["approve", "reject", "merge", "cancel_at_alstyle"]
    TERMS = ["shipping_date", "attorney_choice", "delivery_choice"]
    SHOWN = ["state", "kaspi_orders", "created_at", "requested_by", "approved_by", "approved_at",
             "expected_total_display", "external_id", "alstyle_id", "alstyle_status", "alstyle_status_at",
             "merged_with", "merged_into", "attempts", "submitted_at", "sent_at", "finished_at", "message", "answer"]

    expected_total_display = tenge_display("expected_total", _("expected total"))

    def get_fieldsets(self, request, obj=None):
        terms = self.TERMS if self.has_change_permission(request, obj) else ["shipping_date", "attorney_display",
                                                                             "delivery_display"]
        return [(None, {"fields": self.SHOWN}), (_("Terms of the submit"), {"fields": terms})]

    def get_readonly_fields(self, request, obj=None):
        shown = [*self.SHOWN, "attorney_display", "delivery_display"]
        return shown if self.has_change_permission(request, obj) else [*shown, "shipping_date"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        account = self._account(request) if self.has_change_permission(request, obj) else None
        return type(form.__name__, (form,), {"account": account})

    def _account(self, request):
        try:
            return services.user_data()
        except AlstyleError as exc:
            self.message_user(request, _("Al-Style's powers of attorney and delivery methods could not be read: "
                                         "%(error)s") % {"error": exc}, messages.WARNING)
            return None

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(
            Prefetch("coverage", queryset=Coverage.objects.select_related("order").defer(*customer_data("order"))
                     .order_by("order__code")))

    def has_add_permission(self, request):
        return False  # proposed for accepted Kaspi orders (or `manage.py supplier_order`)

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or editable(obj))

    def has_approve_permission(self, request):
        return request.user.has_perm("purchasing.approve_supplierorder")

    def has_cancel_permission(self, request):
        return request.user.has_perm("purchasing.cancel_supplierorder")

    @admin.display(description=_("number"), ordering="pk")
    def number(self, obj):
        return obj.pk

    @admin.display(description=_("Kaspi orders"))
    def kaspi_orders(self, obj):
        codes = dict.fromkeys(coverage.order.code for coverage in obj.coverage.all())
        return ", ".join(f"№{code}" for code in codes) or "—"

    @admin.display(description=_("last outcome"))
    def message_short(self, obj):
        return error_summary(obj.message)

    @admin.display(description=_("power of attorney"))
    def attorney_display(self, obj):
        return services.entry_label(obj.attorney) or _("Al-Style's default")

    @admin.display(description=_("delivery method"))
    def delivery_display(self, obj):
        return services.entry_label(obj.delivery) or _("Al-Style's default")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra = {"can_approve": editable(obj) and self.has_approve_permission(request)}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def save_model(self, request, obj, form, change):
        """The terms go through the service (which checks the state and records the change), never a save."""
        try:
            services.supplier_order_set_terms(supplier_order=obj, user=request.user,
                                              shipping_date=form.cleaned_data.get("shipping_date"),
                                              attorney=form.chosen("attorney_choice"),
                                              delivery=form.chosen("delivery_choice"))
        except services.SupplierOrderRefused as exc:
            self.message_user(request, str(exc), messages.ERROR)

    def save_formset(self, request, form, formset, change):
        """Only quantities change, through the service; the rest of the page is read-only."""
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        if formset.model is not SupplierOrderLine:
            return
        for line_form in formset.forms:
            if not line_form.has_changed():
                continue
            try:
                services.supplier_line_set_quantity(line=line_form.instance, user=request.user,
                                                    quantity=line_form.cleaned_data["quantity"])
                formset.changed_objects.append((line_form.instance, ["quantity"]))
            except services.SupplierOrderRefused as exc:
                self.message_user(request, str(exc), messages.ERROR)

    def save_related(self, request, form, formsets, change):
        for formset in formsets:
            self.save_formset(request, form, formset, change)

    def response_change(self, request, obj):
        if "_approve" not in request.POST:
            return super().response_change(request, obj)
        self._apply(request, [obj], services.supplier_order_approve,
                    lambda count: ngettext("%(count)d supplier order approved and queued.",
                                           "%(count)d supplier orders approved and queued.", count))
        return HttpResponseRedirect(request.path)

    @admin.action(description=_("Approve and send to Al-Style"), permissions=["approve"])
    def approve(self, request, queryset):
        self._apply(request, queryset, services.supplier_order_approve,
                    lambda count: ngettext("%(count)d supplier order approved and queued.",
                                           "%(count)d supplier orders approved and queued.", count))

    @admin.action(description=_("Reject"), permissions=["approve"])
    def reject(self, request, queryset):
        self._apply(request, queryset, services.supplier_order_reject,
                    lambda count: ngettext("%(count)d supplier order rejected.",
                                           "%(count)d supplier orders rejected.", count))

    @admin.action(description=_("Cancel at Al-Style"), permissions=["cancel"])
    def cancel_at_alstyle(self, request, queryset):
        self._apply(request, queryset, services.supplier_order_cancel,
                    lambda count: ngettext("%(count)d supplier order cancelled at Al-Style.",
                                           "%(count)d supplier orders cancelled at Al-Style.", count))

    @admin.action(description=_("Merge the selected proposals"), permissions=["change"])
    def merge(self, request, queryset):
        try:
            merged = services.supplier_orders_merge(supplier_orders=list(queryset), user=request.user)
        except services.SupplierOrderRefused as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, _("Merged into supplier order %(number)s: %(codes)s.") % {
            "number": merged.pk, "codes": services.kaspi_codes(merged)})

    def _apply(self, request, supplier_orders, service, done_message):
        done = 0
        for supplier_order in supplier_orders:
            try:
                service(supplier_order=supplier_order, user=request.user)
                done += 1
            except services.SupplierOrderRefused as exc:
                self.message_user(request, f"{supplier_order}: {exc}", messages.WARNING)
        self.message_user(request, done_message(done) % {"count": done})


@admin.register(SupplierOrderEvent)
class SupplierOrderEventAdmin(ReadOnlyLogAdmin):
    list_display = ["at", "supplier_order", "state", "text", "user", "notify"]
    list_filter = ["state", "notify", "at"]
    list_select_related = ["supplier_order", "user"]
    search_fields = ["=supplier_order__alstyle_id", "text__fold"]


class SupplierOrderInline(ReadOnlyInline):
    """On the Kaspi order's page: the supplier orders buying for it, and where they stand at Al-Style."""

    model = Coverage
    verbose_name_plural = _("supplier orders")
    fields = ["supplier_order_display", "alstyle_order", "alstyle_status", "article", "units", "bought"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("supplier_order")

    @admin.display(description=_("supplier order"))
    def supplier_order_display(self, obj):
        return supplier_order_link(obj.supplier_order)

    @admin.display(description=_("Al-Style order"))
    def alstyle_order(self, obj):
        return obj.supplier_order.alstyle_id or "—"

    @admin.display(description=_("status at Al-Style"))
    def alstyle_status(self, obj):
        return obj.supplier_order.get_alstyle_status_display() or "—"


# The orders app knows nothing of purchasing: the Kaspi order page takes its supplier orders from here.
OrderAdmin.inlines = [*OrderAdmin.inlines[:1], SupplierOrderInline, *OrderAdmin.inlines[1:]]
