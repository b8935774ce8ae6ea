from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django_q.admin import ScheduleAdmin
from django_q.models import Schedule

from common.admin import ReadOnlyLogAdmin
from common.errors import error_summary
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
    search_fields = ["error__fold", "notes__fold"]
    date_hierarchy = "started"

    @admin.display(description=_("job"), ordering="kind")
    def job(self, obj):
        return obj.title

    @admin.display(description=_("duration"))
    def duration_display(self, obj):
        return seconds(obj.duration.total_seconds()) if obj.duration else "—"

    @admin.display(description=_("error"))
    def error_short(self, obj):
        return error_summary(obj.error)


class JobScheduleAdmin(ScheduleAdmin):
    """django-q's schedules, each named by its job's title rather than by the job's code name."""

    list_display = ["id", "job", "schedule_type", "minutes", "repeats", "next_run", "get_last_run", "get_success"]
    list_display_links = ["id", "job"]

    @admin.display(description=_("job"), ordering="name")
    def job(self, obj):
        return registry.title(obj.name)


admin.site.unregister(Schedule)
admin.site.register(Schedule, JobScheduleAdmin)
