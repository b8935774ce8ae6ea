from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from common.admin import ReadOnlyLogAdmin
from common.format import seconds

from . import registry
from .models import JobRun


class JobFilter(admin.SimpleListFilter):
    title = _("job")
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [(job.name, job.title) for job in registry.JOBS.values() if not job.source]

    def queryset(self, request, queryset):
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyLogAdmin):
    list_display = [
        "started", "job", "outcome", "duration_display", "received", "created", "updated", "unchanged",
        "skipped", "vanished", "requests", "error_short",
    ]
    list_filter = [JobFilter, "outcome", "started"]
    search_fields = ["error", "notes"]
    date_hierarchy = "started"

    @admin.display(description=_("job"), ordering="kind")
    def job(self, obj):
        return obj.title

    @admin.display(description=_("duration"))
    def duration_display(self, obj):
        return seconds(obj.duration.total_seconds()) if obj.duration else "—"

    @admin.display(description=_("error"))
    def error_short(self, obj):
        return obj.error[:120]
