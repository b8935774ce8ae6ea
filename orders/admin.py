from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from common.admin import PhoneSearchMixin, ReadOnlyLogAdmin
from common.errors import error_summary
from common.format import decimal, decimal_display, tenge, tenge_display
from common.sandbox import buyer_sms_url

from . import changes, money, stock
from .models import (
    CancellationReason,
    CommissionRate,
    Order,
    OrderEntry,
    OrderEvent,
    PaymentMode,
    StatusChange,
    customer_data,
    label_of,
)
from .money import SEES_MONEY


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


LINE_MONEY = ["unit_cost_display", "commission_display", "delivery_share_display", "profit_display"]


def profit_text(profit, unknown):
    """Profit in whole tenge; "—" when no line's cost is known, marked when some are missing."""
    if profit is None:
        return "—"
    if unknown:
        return format_html('{} <span title="{}">*</span>', tenge(profit), _("without the lines whose cost is unknown"))
    return tenge(profit)


class OrderEntryInline(ReadOnlyInline):
    model = OrderEntry
    fields = ["sku", "goods", "category_title", "quantity", "own_units", "stock_display", "unit_price_display",
              "total_display", "unit_cost_display", "commission_display", "delivery_share_display", "profit_display"]
    readonly_fields = fields
    unit_price_display = tenge_display("unit_price", _("unit price"))
    total_display = tenge_display("total_price", _("total"))
    unit_cost_display = tenge_display("unit_cost", _("unit cost"))
    delivery_share_display = tenge_display("delivery_share", _("delivery share"))

    def get_queryset(self, request):
        return money.with_profit(super().get_queryset(request).select_related("product")).annotate(
            reserved_units=stock.reserved_of_product(OuterRef("product")))

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        return fields if request.user.has_perm(SEES_MONEY) else [f for f in fields if f not in LINE_MONEY]

    @admin.display(description=_("name"))
    def goods(self, obj):
        """The line's name as Kaspi sold it, linked to the product it is (when it matched one), with its weight."""
        name = obj.name if obj.product_id is None else format_html(
            '<a href="{}">{}</a>', reverse("admin:catalog_product_change", args=[obj.product_id]), obj.name)
        details = ", ".join(part for part in (
            _("%(kg)s kg") % {"kg": decimal(obj.weight)} if obj.weight is not None else "",
            obj.unit_type) if part)
        return format_html("{}<br><small>{}</small>", name, details) if details else name

    @admin.display(description=_("stock now"))
    def stock_display(self, obj):
        """What there is of the line's product now: the supplier's stock, the shop's shelf, what open orders hold."""
        product = obj.product
        if product is None:
            return "—"
        return format_html("{}<br>{}<br>{}", _("supplier: %(units)d") % {"units": product.stock},
                           _("own: %(units)d") % {"units": product.own_stock},
                           _("held by open orders: %(units)d") % {"units": obj.reserved_units or 0})

    @admin.display(description=_("Kaspi commission"))
    def commission_display(self, obj):
        if obj.commission_percent is None:
            return tenge(obj.commission)
        return f"{decimal(obj.commission_percent)} % = {tenge(obj.commission)}"

    @admin.display(description=_("profit"))
    def profit_display(self, obj):
        return profit_text(obj.profit, False)


class StatusChangeInline(ReadOnlyInline):
    model = StatusChange
    fields = ["requested_at", "action", "state", "places", "sku", "keep_quantity", "reason", "comment", "proposed",
              "requested_by", "approved_by", "approved_at", "attempts", "message"]
    readonly_fields = fields
    ordering = ["-requested_at"]


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    verbose_name_plural = _("this order's history")  # the model's plural names every order's history
    fields = ["at", "status", "state", "text", "user"]
    readonly_fields = fields


class StatusRequestForm(forms.Form):
    action = forms.ChoiceField(label=_("Action"), choices=StatusChange.Action.choices)
    reason = forms.ChoiceField(label=_("Cancellation reason"), required=False,
                               choices=[("", "—"), *StatusChange.Reason.choices])
    comment = forms.CharField(label=_("Comment"), required=False, max_length=1000)
    security_code = forms.CharField(label=_("Buyer's code"), required=False, max_length=16,
                                    help_text=_("For completion; leave empty to have Kaspi send the buyer a code."))
    places = forms.IntegerField(label=_("Parcels"), required=False, min_value=1, max_value=changes.MAX_PLACES,
                                help_text=_("For a hand-over to Kaspi Delivery."))
    entry_id = forms.ChoiceField(label=_("Line"), required=False, help_text=_("For a part cancellation."))
    keep = forms.IntegerField(label=_("Units to keep"), required=False, min_value=0,
                              help_text=_("For a part cancellation: what stays on the line."))

    # Which action each extra field belongs to: the order page shows a field only with its action.
    FIELD_ACTIONS = {
        "reason": ["cancel", "cancel_entry"], "comment": ["cancel", "cancel_entry"], "security_code": ["complete"],
        "places": ["assemble"], "entry_id": ["cancel_entry"], "keep": ["cancel_entry"],
    }

    def __init__(self, *args, order, **kwargs):
        super().__init__(*args, **kwargs)
        # Offer what Kaspi allows now; any other action still reaches the service, which says why not.
        allowed = changes.allowed_actions(order)
        self.fields["action"].widget.choices = [("", "—")] + [
            (value, label) for value, label in StatusChange.Action.choices if value in allowed]
        lines = order.entries.exclude(kaspi_id=None)
        self.fields["entry_id"].choices = [("", "—")] + [
            (e.kaspi_id, f"{e.sku} · {e.name[:40]} × {e.quantity}") for e in lines]

    def rows(self):
        """(field, the actions it goes with as a space-separated list, "" for every action) for the template."""
        return [(field, " ".join(self.FIELD_ACTIONS.get(field.name, []))) for field in self]

    def service_arguments(self):
        """The form's values as `status_change_request` takes them: what was left empty is not given."""
        data = self.cleaned_data
        arguments = {name: data[name] for name in ("action", "reason", "comment", "security_code", "entry_id")}
        arguments.update({name: data[name] for name in ("places", "keep") if data[name] is not None})
        return arguments


class HandOverFilter(admin.SimpleListFilter):
    """Kaspi Delivery orders the courier should take: today, or already late."""

    title = _("hand-over to the courier")
    parameter_name = "hand_over"

    def lookups(self, request, model_admin):
        return [("waiting", _("not handed over yet")), ("today", _("to hand over today")), ("overdue", _("overdue"))]

    def queryset(self, request, queryset):
        if self.value() == "waiting":
            return queryset.to_hand_over()
        if self.value() == "today":
            return queryset.courier_today()
        if self.value() == "overdue":
            return queryset.courier_overdue()
        return queryset


class ReturnsFilter(admin.SimpleListFilter):
    title = _("returns")
    parameter_name = "returns"

    def lookups(self, request, model_admin):
        return [("coming", _("on their way back"))]

    def queryset(self, request, queryset):
        return queryset.returns_coming_back() if self.value() == "coming" else queryset


class OrderChangeList(ChangeList):
    """The order list decrypts only the buyer's fields it shows."""

    def get_queryset(self, request, exclude_parameters=None):
        shown = set(self.list_display)
        return super().get_queryset(request, exclude_parameters).defer(
            *(name for name in customer_data() if name not in shown))


@admin.register(Order)
class OrderAdmin(PhoneSearchMixin, admin.ModelAdmin):
    # What needs doing first (Kaspi's status, a change waiting), then who and how much; Kaspi's state is a filter.
    list_display = ["code", "status", "pending_change", "hand_over_display", "created_at_kaspi", "customer_name",
                    "total_display", "profit_display", "delivery_mode"]
    list_filter = ["state", "status", HandOverFilter, ReturnsFilter, "delivery_mode", "is_kaspi_delivery",
                   "assembled", "pre_order", "created_at_kaspi"]
    # The phone and the buyer's words are found by their keyed hashes (common.crypto); `=phone_hash` is here
    # so that the phone is searched only where the search fields keep it (PhoneSearchMixin).
    search_fields = ["=code", "=phone_hash", "customer_search__words", "entries__sku"]
    phone_search_field = "phone_hash"
    date_hierarchy = "created_at_kaspi"
    inlines = [OrderEntryInline, StatusChangeInline, OrderEventInline]
    change_form_template = "admin/orders/order/change_form.html"
    fieldsets = [
        (None, {"fields": ["code", "status", "state", "created_at_kaspi", "approved_by_bank_at",
                           "planned_delivery_date", "cancellation_reason_display"]}),
        (_("Customer"), {"fields": ["customer_name", "customer_phone"]}),
        (_("Delivery"), {"fields": ["delivery_mode", "is_kaspi_delivery", "express", "delivery_address",
                                    "pickup_point_id", "signature_required", "pre_order", "reservation_date"]}),
        (_("Kaspi Delivery"), {"fields": ["assembled", "waybill_link", "courier_transmission_planning_date",
                                          "courier_transmission_date", "returned_to_warehouse"]}),
        (_("Money"), {"fields": ["total_display", "profit_display", "delivery_cost_display",
                                 "delivery_cost_for_seller_display", "payment_display", "credit_term"]}),
        (_("Kaspi"), {"fields": ["imported_at", "updated_at"]}),  # Kaspi's own id is for the API, not people
    ]
    actions = ["request_accept", "request_assemble", "request_cancel_out_of_stock", "request_cancel_buyer",
               "request_cancel_unreachable", "request_completion_code", "request_arrived", "request_returned"]
    MONEY = ["total_display", "profit_display", "delivery_cost_display", "delivery_cost_for_seller_display"]

    # Buyers' personal data only for those with the permission for it.
    CUSTOMER_FIELDS = [*customer_data(), "customer_search", "phone_hash"]

    def _sees_customers(self, request):
        return request is not None and request.user.has_perm("orders.view_customer_data")

    def _hidden(self, request):
        """Fields this user may not see: buyers' data without its permission, margins without theirs."""
        hidden = [] if self._sees_customers(request) else list(self.CUSTOMER_FIELDS)
        return hidden if request is not None and request.user.has_perm(SEES_MONEY) else [*hidden, "profit_display"]

    def get_changelist(self, request, **kwargs):
        return OrderChangeList

    def get_list_display(self, request):
        hidden = self._hidden(request)
        return [f for f in super().get_list_display(request) if f not in hidden]

    def get_search_fields(self, request):
        fields = super().get_search_fields(request)
        return fields if self._sees_customers(request) else [
            f for f in fields if f.lstrip("=^@").split("__")[0] not in self.CUSTOMER_FIELDS]

    def get_fieldsets(self, request, obj=None):
        hidden = self._hidden(request)
        return [(name, {**options, "fields": [f for f in options["fields"] if f not in hidden]})
                for name, options in super().get_fieldsets(request, obj)
                if self._sees_customers(request) or name != _("Customer")]

    def get_readonly_fields(self, request, obj=None):
        # Everything here is Kaspi's.
        return [field.name for field in Order._meta.fields] + self.MONEY + [
            "waybill_link", "payment_display", "cancellation_reason_display"]

    @admin.display(description=_("payment"))
    def payment_display(self, obj):
        return label_of(PaymentMode, obj.payment_mode)

    @admin.display(description=_("cancellation reason"))
    def cancellation_reason_display(self, obj):
        return label_of(CancellationReason, obj.cancellation_reason)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        active = StatusChange.objects.filter(order=OuterRef("pk"), state__in=StatusChange.ACTIVE)
        return money.order_totals(super().get_queryset(request)).annotate(
            active_action=Subquery(active.values("action")[:1]),
            active_state=Subquery(active.values("state")[:1]),
        )

    @admin.display(description=_("profit"), ordering="profit_total")
    def profit_display(self, obj):
        return profit_text(obj.profit_total, obj.lines_without_cost)

    total_display = tenge_display("total_price", _("total"))
    delivery_cost_display = tenge_display("delivery_cost", _("delivery cost"))
    delivery_cost_for_seller_display = tenge_display("delivery_cost_for_seller", _("delivery cost for the shop"))

    @admin.display(description=_("waybill"))
    def waybill_link(self, obj):
        if not obj.waybill:
            return obj.waybill_number or "—"
        return format_html('<a href="{}" target="_blank" rel="noopener" id="waybill-link">{}</a>', obj.waybill,
                           _("waybill %(number)s (PDF)") % {"number": obj.waybill_number or ""})

    @admin.display(description=_("hand-over"), ordering="courier_transmission_planning_date")
    def hand_over_display(self, obj):
        if obj.courier_transmission_date:
            return _("handed over %(when)s") % {"when": date_format(timezone.localtime(obj.courier_transmission_date),
                                                                   "SHORT_DATETIME_FORMAT")}
        if not obj.courier_transmission_planning_date:
            return "—"
        when = date_format(timezone.localtime(obj.courier_transmission_planning_date), "SHORT_DATETIME_FORMAT")
        return format_html('<strong style="color:#ba2121">{}</strong>', _("overdue since %(when)s") % {
            "when": when}) if obj.is_hand_over_overdue else when

    @admin.display(description=_("pending change"))
    def pending_change(self, obj):
        if not obj.active_action:
            return "—"
        return f"{StatusChange.Action(obj.active_action).label}: {StatusChange.State(obj.active_state).label}"

    def get_urls(self):
        return [
            path("<int:order_id>/status/", self.admin_site.admin_view(self.status_view), name="orders_order_status"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        active = StatusChange.objects.filter(order_id=object_id, state__in=StatusChange.ACTIVE).first()
        order = self.get_object(request, object_id)
        # Only what Kaspi would take now, and nothing while a change is on its way (a pending one may be replaced).
        in_flight = active is not None and active.state != StatusChange.State.PENDING
        requestable = order is not None and not in_flight and bool(changes.allowed_actions(order))
        extra = {
            "status_form": StatusRequestForm(order=order) if requestable else None,
            "change_in_flight": in_flight,
            "status_url": reverse("admin:orders_order_status", args=[object_id]),
            "active_change": active,
            "can_request": request.user.has_perm("orders.add_statuschange"),
            "can_approve": request.user.has_perm("orders.approve_statuschange"),
            "buyer_sms_url": buyer_sms_url(order.code) if order else "",  # the demo only
        }
        # Every field is Kaspi's: nothing to save here; status changes go through the panel above.
        extra.update(show_save=False, show_save_and_continue=False, show_save_and_add_another=False)
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def status_view(self, request, order_id):
        """The order page's "request a status change" form."""
        if request.method != "POST":
            return redirect("admin:orders_order_change", order_id)
        decision = request.POST.get("decision")
        needed = "orders.approve_statuschange" if decision in ("approve", "reject") else "orders.add_statuschange"
        if not self.has_view_permission(request) or not request.user.has_perm(needed):
            raise PermissionDenied
        order = get_object_or_404(Order, pk=order_id)
        if decision in ("approve", "reject"):
            change = get_object_or_404(StatusChange, pk=request.POST.get("change"), order=order)
            service = changes.status_change_approve if decision == "approve" else changes.status_change_reject
            try:
                service(change=change, user=request.user)
                done = _("Approved: %(action)s.") if decision == "approve" else _("Rejected: %(action)s.")
                self.message_user(request, done % {"action": change.get_action_display()})
            except changes.StatusChangeRefused as exc:
                self.message_user(request, str(exc), messages.ERROR)
            return redirect("admin:orders_order_change", order_id)
        form = StatusRequestForm(request.POST, order=order)
        if form.is_valid():
            self._request(request, order, **form.service_arguments())
        else:
            self.message_user(request, form.errors.as_text(), messages.ERROR)
        return redirect("admin:orders_order_change", order_id)

    def _request(self, request, order, **fields):
        try:
            change = changes.status_change_request(order=order, user=request.user, **fields)
        except changes.StatusChangeRefused as exc:
            self.message_user(request, f"№{order.code}: {exc}", messages.ERROR)
            return 0
        if change.state == StatusChange.State.PENDING:
            text = _("№%(code)s: %(action)s requested, awaiting approval.")
        else:  # it matched a proposal, which the requester was allowed to approve
            text = _("№%(code)s: %(action)s approved and queued for Kaspi.")
        self.message_user(request, text % {"code": order.code, "action": change.get_action_display()})
        return 1

    def _request_many(self, request, queryset, **fields):
        for order in queryset:
            self._request(request, order, **fields)

    @admin.action(description=_("Request: accept"), permissions=["request"])
    def request_accept(self, request, queryset):
        self._request_many(request, queryset, action=StatusChange.Action.ACCEPT)

    @admin.action(description=_("Request: hand over to Kaspi Delivery — one parcel"), permissions=["request"])
    def request_assemble(self, request, queryset):
        self._request_many(request, queryset, action=StatusChange.Action.ASSEMBLE, places=1)

    @admin.action(description=_("Request: pre-order goods arrived"), permissions=["request"])
    def request_arrived(self, request, queryset):
        self._request_many(request, queryset, action=StatusChange.Action.ARRIVED)

    @admin.action(description=_("Request: returned goods arrived"), permissions=["request"])
    def request_returned(self, request, queryset):
        self._request_many(request, queryset, action=StatusChange.Action.RETURNED)

    @admin.action(description=_("Request: cancel — out of stock"), permissions=["request"])
    def request_cancel_out_of_stock(self, request, queryset):
        self._request_many(request, queryset, action=StatusChange.Action.CANCEL,
                           reason=StatusChange.Reason.MERCHANT_OUT_OF_STOCK)

    @admin.action(description=_("Request: cancel — buyer asked"), permissions=["request"])
    def request_cancel_buyer(self, request, queryset):
        self._request_many(request, queryset, action=StatusChange.Action.CANCEL,
                           reason=StatusChange.Reason.BUYER_CANCELLATION_BY_MERCHANT)

    @admin.action(description=_("Request: cancel — buyer not reachable"), permissions=["request"])
    def request_cancel_unreachable(self, request, queryset):
        self._request_many(request, queryset, action=StatusChange.Action.CANCEL,
                           reason=StatusChange.Reason.BUYER_NOT_REACHABLE)

    @admin.action(description=_("Request: send the buyer a completion code"), permissions=["request"])
    def request_completion_code(self, request, queryset):
        self._request_many(request, queryset, action=StatusChange.Action.COMPLETE)

    def has_request_permission(self, request):
        return request.user.has_perm("orders.add_statuschange")


@admin.register(StatusChange)
class StatusChangeAdmin(ReadOnlyLogAdmin):
    """Requested from the order page or its list, decided by the actions here; never edited or deleted."""

    list_display = ["requested_at", "order", "action", "state", "reason", "proposed", "requested_by", "approved_by",
                    "attempts", "message_short"]
    list_filter = ["state", "action", "proposed", "requested_at"]
    list_select_related = ["order", "requested_by", "approved_by"]
    search_fields = ["=order__code", "message__fold"]
    # The buyer's completion code is never shown once given: it completes the order.

    def get_queryset(self, request):
        return super().get_queryset(request).defer(*customer_data("order"))  # the list shows no buyer
    exclude = ["security_code"]
    readonly_fields = [field.name for field in StatusChange._meta.fields if field.name != "security_code"]
    actions = ["approve", "reject"]

    @admin.display(description=_("message"))
    def message_short(self, obj):
        return error_summary(obj.message)

    @admin.action(description=_("Approve and send to Kaspi"), permissions=["approve"])
    def approve(self, request, queryset):
        done = ngettext_lazy("%(count)d change approved and queued.", "%(count)d changes approved and queued.", "count")
        self._apply(request, queryset, changes.status_change_approve, done)

    @admin.action(description=_("Reject"), permissions=["approve"])
    def reject(self, request, queryset):
        done = ngettext_lazy("%(count)d change rejected.", "%(count)d changes rejected.", "count")
        self._apply(request, queryset, changes.status_change_reject, done)

    def _apply(self, request, queryset, service, done_message):
        done = 0
        for change in queryset.select_related("order"):
            try:
                service(change=change, user=request.user)
                done += 1
            except changes.StatusChangeRefused as exc:
                self.message_user(request, f"№{change.order.code}: {exc}", messages.WARNING)
        self.message_user(request, done_message % {"count": done})

    def has_approve_permission(self, request):
        return request.user.has_perm("orders.approve_statuschange")


@admin.register(OrderEvent)
class OrderEventAdmin(ReadOnlyLogAdmin):
    list_display = ["at", "order", "status", "state", "text", "user"]
    list_filter = ["status", "at"]
    list_select_related = ["order", "user"]
    search_fields = ["=order__code", "text__fold"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer(*customer_data("order"))  # the list shows no buyer


@admin.register(CommissionRate)
class CommissionRateAdmin(admin.ModelAdmin):
    """Kaspi's tariff per category; the order lines of a category take its rate as soon as it is saved."""

    list_display = ["category_title", "percent_display", "updated_at"]
    percent_display = decimal_display("percent", _("commission, %"))
    change_list_template = "admin/change_list_note.html"
    search_fields = ["category_title__fold"]

    def changelist_view(self, request, extra_context=None):
        note = _("A category not listed here pays %(percent)s %% (KASPI_COMMISSION_PERCENT). Order lines are matched "
                 "on their Kaspi category; saving a rate recalculates the profit of every line of that category.") % {
            "percent": decimal(money.default_percent())}
        return super().changelist_view(request, {**(extra_context or {}), "title_note": note})

    def save_model(self, request, obj, form, change):
        before = CommissionRate.objects.filter(pk=obj.pk).values_list("category_title", flat=True).first()
        super().save_model(request, obj, form, change)
        money.commission_refresh({obj.category_title, before} - {None})

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        money.commission_refresh([obj.category_title])

    def delete_queryset(self, request, queryset):
        titles = list(queryset.values_list("category_title", flat=True))
        super().delete_queryset(request, queryset)
        money.commission_refresh(titles)
