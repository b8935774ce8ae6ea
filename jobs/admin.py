from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from common.admin import ReadOnlyLogAdmin
from common.format import seconds

from .models import JobRun


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyLogAdmin):
    list_display = [
        "started", "kind", "outcome", "duration_display", "received", "created", "updated", "unchanged",
        "skipped", "vanished", "requests", "error_short",
    ]
    list_filter = ["kind", "outcome", "started"]
    search_fields = ["error", "notes"]
    date_hierarchy = "started"

    @admin.display(description=_("duration"))
    def duration_display(self, obj):
        return seconds(obj.duration.total_seconds()) if obj.duration else "—"

    @admin.display(description=_("error"))
    def error_short(self, obj):
        return obj.error[:120]
