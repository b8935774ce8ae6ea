from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from common.admin import ReadOnlyLogAdmin

from .models import Alert, SecurityEvent


class StateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", _("open")), ("resolved", _("resolved"))]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(resolved__isnull=True)
        if self.value() == "resolved":
            return queryset.filter(resolved__isnull=False)
        return queryset


@admin.register(Alert)
class AlertAdmin(ReadOnlyLogAdmin):
    """Rows come from `alerts_check` only."""

    list_display = ["subject", "kind", "opened", "resolved", "is_delivered", "delivered"]
    list_filter = [StateFilter, "kind"]
    search_fields = ["key", "subject", "message"]
    date_hierarchy = "opened"
    fields = ["key", "kind", "subject", "message", "opened", "resolved", "delivered", "undelivered", "error"]

    @admin.display(description=_("delivered"), boolean=True)
    def is_delivered(self, alert):
        return not alert.undelivered


@admin.register(SecurityEvent)
class SecurityEventAdmin(ReadOnlyLogAdmin):
    """Rows come from the security logger only."""

    list_display = ["at", "kind", "user", "address", "message"]
    list_filter = ["kind", "at"]
    search_fields = ["user", "address", "message"]
    date_hierarchy = "at"
