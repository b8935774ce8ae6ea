from axes.admin import AccessFailureLogAdmin, AccessLogAdmin
from axes.models import AccessFailureLog, AccessLog
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
    search_fields = ["key", "subject__fold", "message__fold"]
    date_hierarchy = "opened"
    # The key ("status-failed:12") is the code's handle on a problem: searchable, not shown.
    fields = ["kind", "subject", "message", "opened", "resolved", "delivered", "undelivered_display", "error"]
    readonly_fields = ["undelivered_display"]

    @admin.display(description=_("not yet delivered to"))
    def undelivered_display(self, alert):
        names = {"telegram": "Telegram", "email": _("e-mail")}
        channels = [names.get(channel, channel) for channel in alert.undelivered.split()]
        return ", ".join(str(channel) for channel in channels) or "—"

    @admin.display(description=_("delivered"), boolean=True)
    def is_delivered(self, alert):
        return not alert.undelivered


@admin.register(SecurityEvent)
class SecurityEventAdmin(ReadOnlyLogAdmin):
    """Rows come from the security logger only."""

    list_display = ["at", "kind", "user", "address", "message"]
    list_filter = ["kind", "at"]
    search_fields = ["user__fold", "address", "message__fold"]
    date_hierarchy = "at"


# django-axes' login logs are a security log too: read-only here (old rows go by `manage.py axes_reset_logs
# --age DAYS`). Its access attempts stay deletable: deleting one is how an admin unlocks a login.
class LoginLogAdmin(ReadOnlyLogAdmin, AccessLogAdmin):
    pass


class LoginFailureLogAdmin(ReadOnlyLogAdmin, AccessFailureLogAdmin):
    pass


for model, model_admin in [(AccessLog, LoginLogAdmin), (AccessFailureLog, LoginFailureLogAdmin)]:
    admin.site.unregister(model)
    admin.site.register(model, model_admin)
