import re

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from common.format import moment
from jobs.models import JobRun


class FeedRun(models.Model):
    """One build of the price list: what it held, how it compared with the last one, what happened."""

    class Outcome(models.TextChoices):
        PUBLISHED = "published", _("published")
        HELD = "held", _("held by the safety guard")
        INVALID = "invalid", _("invalid")
        FAILED = "failed", _("failed")
        DRY_RUN = "dry_run", _("dry run")

    started = models.DateTimeField(_("started"), default=timezone.now, db_index=True)
    finished = models.DateTimeField(_("finished"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration, ms"), null=True, blank=True)
    # A run that never got to say otherwise has failed.
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.FAILED)
    reason = models.TextField(_("reason"), blank=True, help_text=_("Why the run was held or failed."))
    forced = models.BooleanField(_("guard overridden"), default=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, verbose_name=_("started by")
    )
    # The run of the job `build_feed` this build was; a dry run is none.
    job_run = models.OneToOneField(
        JobRun, models.SET_NULL, null=True, blank=True, related_name="feed_run", verbose_name=_("job run")
    )

    offers = models.PositiveIntegerField(_("offers"), default=0)
    available_offers = models.PositiveIntegerField(_("available offers"), default=0)
    reserved_units = models.PositiveIntegerField(
        _("reserved units"), default=0, help_text=_("Units held by open orders and taken off the published stock.")
    )
    bytes = models.PositiveBigIntegerField(_("size, bytes"), default=0)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    valid = models.BooleanField(_("valid"), default=False)
    validation_errors = models.TextField(_("validation errors"), blank=True)

    # Compared with the offers of the last published feed.
    added = models.PositiveIntegerField(_("added"), default=0)
    removed = models.PositiveIntegerField(_("removed"), default=0)
    price_changes = models.PositiveIntegerField(_("price changes"), default=0)
    stock_changes = models.PositiveIntegerField(_("stock changes"), default=0)
    change_sample = models.JSONField(_("sample of changes"), default=dict, blank=True)

    class Meta:
        verbose_name = _("feed run")
        verbose_name_plural = _("feed runs")
        ordering = ["-started"]
        permissions = [
            ("override_guard", _("Can publish a feed the safety guard held")),
            ("build_feed", _("Can build and publish the feed now")),
            ("view_feed_url", _("Can see the feed's secret address")),
        ]

    def __str__(self):
        return f"{self.get_outcome_display()} {moment(self.started)}"


# What a browser sends: "Mozilla/5.0 (Windows NT 10.0; …) AppleWebKit/…", "Mozilla/5.0 (X11; …) Gecko/…".
# Crawlers that borrow the prefix write "(compatible; …bot…)" instead of a platform, and do not match.
BROWSER_AGENT = re.compile(r"^Mozilla/[0-9.]+ \([^)]*\) (AppleWebKit|Gecko)/")


class FeedFetchQuerySet(models.QuerySet):
    def by_kaspi(self):
        """The fetches that count as Kaspi's: the dashboard, the alerts and the feed page read only these."""
        return self.filter(client=FeedFetch.Client.PROGRAM)


class FeedFetch(models.Model):
    """One request for the feed with the right token: shows when Kaspi last came for it."""

    class Client(models.TextChoices):
        # Kaspi's fetcher is a program, whatever its User-Agent says; people check the URL in a browser.
        PROGRAM = "program", _("a program (counted as Kaspi)")
        BROWSER = "browser", _("a browser")
        SIGNED_IN = "signed_in", _("a signed-in user")

    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    client_ip = models.GenericIPAddressField(_("client IP"), null=True, blank=True)
    user_agent = models.CharField(_("User-Agent"), max_length=255, blank=True)
    client = models.CharField(_("client"), max_length=16, choices=Client.choices, default=Client.PROGRAM)
    status = models.PositiveSmallIntegerField(_("HTTP status"))
    bytes = models.PositiveBigIntegerField(_("bytes sent"), default=0)
    run = models.ForeignKey(
        FeedRun, models.SET_NULL, null=True, blank=True, related_name="fetches", verbose_name=_("feed run")
    )

    objects = FeedFetchQuerySet.as_manager()

    class Meta:
        verbose_name = _("feed fetch")
        verbose_name_plural = _("feed fetches")
        ordering = ["-at"]

    def __str__(self):
        return f"{self.status} {moment(self.at)}"

    @classmethod
    def client_of(cls, request):
        """Who is asking: one of the shop's own signed-in users, a person's browser, or a program.

        A browser is told by its User-Agent, or by the Sec-Fetch-* headers only browsers send."""
        if request.user.is_authenticated:
            return cls.Client.SIGNED_IN
        if BROWSER_AGENT.match(request.headers.get("User-Agent", "")) or "Sec-Fetch-Mode" in request.headers:
            return cls.Client.BROWSER
        return cls.Client.PROGRAM
