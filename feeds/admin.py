from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from common.admin import ReadOnlyLogAdmin
from common.format import seconds
from jobs.locks import JobBusy

from .models import FeedFetch, FeedRun
from .services import feed_build

_LEVELS = {FeedRun.Outcome.PUBLISHED: messages.SUCCESS, FeedRun.Outcome.DRY_RUN: messages.INFO}


@admin.register(FeedRun)
class FeedRunAdmin(ReadOnlyLogAdmin):
    list_display = [
        "started", "outcome", "offers", "available_offers", "size", "changes", "duration", "valid", "short_reason",
    ]
    list_filter = ["outcome", "valid", "forced"]
    date_hierarchy = "started"
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
            "last_fetch": FeedFetch.objects.first(),
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
        message = _("Feed %(outcome)s: %(offers)d offers, %(available)d available.") % {
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
        return "" if run.duration_ms is None else seconds(run.duration_ms / 1000)

    @admin.display(description=_("reason"))
    def short_reason(self, run):
        return run.reason if len(run.reason) <= 80 else run.reason[:79] + "…"


@admin.register(FeedFetch)
class FeedFetchAdmin(ReadOnlyLogAdmin):
    list_display = ["at", "client_ip", "user_agent", "status", "bytes"]
    list_filter = ["status"]
    date_hierarchy = "at"
