from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from common.admin import ReadOnlyLogAdmin
from common.format import seconds
from jobs.locks import JobBusy

from .changes import change_rows
from .models import FeedFetch, FeedRun
from .services import SAMPLE_SIZE, feed_build

_LEVELS = {FeedRun.Outcome.PUBLISHED: messages.SUCCESS, FeedRun.Outcome.DRY_RUN: messages.INFO}


@admin.register(FeedRun)
class FeedRunAdmin(ReadOnlyLogAdmin):
    list_display = [
        "started", "outcome", "offers", "available_offers", "size", "changes", "duration", "valid", "short_reason",
    ]
    list_filter = ["outcome", "valid", "forced"]
    date_hierarchy = "started"
    fields = ["started", "finished", "duration", "outcome", "reason", "forced", "user", "job_run", "offers",
              "available_offers", "reserved_units", "size", "sha256", "valid", "validation_errors", "added", "removed",
              "price_changes", "stock_changes", "change_table"]
    readonly_fields = ["duration", "size", "change_table"]
    actions = ["build_now", "publish_anyway"]
    # Building does not act on the selected runs, so these actions also run with none selected.
    unselected_actions = {"build_now", "publish_anyway"}

    def changelist_view(self, request, extra_context=None):
        action = request.POST.get("action")
        if request.method == "POST" and action in self.unselected_actions:
            available = self.get_actions(request)  # only those the user has permission for
            if action in available:
                available[action][0](self, request, self.get_queryset(request).none())
                return HttpResponseRedirect(request.get_full_path())
        allowed = self.has_feed_url_permission(request)
        extra_context = {
            **(extra_context or {}), "can_see_feed_url": allowed, "feed_url": self.feed_url(request) if allowed else "",
            "last_fetch": FeedFetch.objects.by_kaspi().first(),
        }
        return super().changelist_view(request, extra_context)

    @staticmethod
    def feed_url(request):
        """The address to paste into Kaspi's cabinet, or "" while FEED_TOKEN is not set."""
        token = settings.FEED_TOKEN
        return request.build_absolute_uri(reverse("feeds:kaspi", args=[token])) if token else ""

    @admin.action(description=_("Build and publish now"), permissions=["build"])
    def build_now(self, request, queryset):
        self._build(request, force=False)

    @admin.action(description=_("Publish anyway (override the safety guard)"), permissions=["override_guard"])
    def publish_anyway(self, request, queryset):
        self._build(request, force=True)

    def has_build_permission(self, request):
        return request.user.has_perm("feeds.build_feed")

    def has_feed_url_permission(self, request):
        """The address holds the token: whoever has it reads the whole price list."""
        return request.user.has_perm("feeds.view_feed_url")

    def has_override_guard_permission(self, request):
        return request.user.has_perm("feeds.override_guard")

    def _build(self, request, *, force):
        try:
            run = feed_build(force=force, user=request.user)
        except JobBusy:
            self.message_user(request, _("A feed build is already running; try again in a minute."),
                              messages.WARNING)
            return
        message = ngettext("Feed %(outcome)s: %(offers)d offer, %(available)d available.",
                           "Feed %(outcome)s: %(offers)d offers, %(available)d available.", run.offers) % {
            "outcome": run.get_outcome_display(), "offers": run.offers, "available": run.available_offers,
        }
        if run.reason:
            message = f"{message} {run.reason}"
        self.message_user(request, message, _LEVELS.get(run.outcome, messages.ERROR))

    @admin.display(description=_("size"), ordering="bytes")
    def size(self, run):
        return filesizeformat(run.bytes)

    @admin.display(description=_("changes"))
    def changes(self, run):
        return _("+%(added)d −%(removed)d, prices %(prices)d, stock %(stock)d") % {
            "added": run.added, "removed": run.removed, "prices": run.price_changes, "stock": run.stock_changes,
        }

    @admin.display(description=_("duration"), ordering="duration_ms")
    def duration(self, run):
        return seconds(None if run.duration_ms is None else run.duration_ms / 1000)

    @admin.display(description=_("sample of changes"))
    def change_table(self, run):
        return render_to_string("admin/feeds/feedrun/changes.html",
                                {"rows": change_rows(run.change_sample), "sample_size": SAMPLE_SIZE})

    @admin.display(description=_("reason"))
    def short_reason(self, run):
        return run.reason if len(run.reason) <= 80 else run.reason[:79] + "…"


@admin.register(FeedFetch)
class FeedFetchAdmin(ReadOnlyLogAdmin):
    list_display = ["at", "client", "client_ip", "user_agent", "status", "bytes"]
    list_filter = ["client", "status"]
    date_hierarchy = "at"
