from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from common.format import moment


class Alert(models.Model):
    """One problem people were told about (see `monitoring.alerts`): one row per problem key.

    A problem that can end is told once when it opens and once when it ends; a notice (a refused
    status change, a supplier order held) is told once and closed at once; a proposal awaiting a
    person's decision is told once and stays open until it is decided, then closes without a message.
    """

    class Kind(models.TextChoices):
        JOB_FAILING = "job_failing", _("job failing")
        # The next two are what rows opened before the job registry say; a held or unfetched feed is
        # now a failing job (the feed build, or Kaspi's fetches) like any other.
        FEED_NOT_FETCHED = "feed_not_fetched", _("feed not fetched by Kaspi")
        FEED_HELD = "feed_held", _("feed held by the safety guard")
        STATUS_FAILED = "status_failed", _("status change refused")
        APPROVAL = "approval", _("approval needed")
        SUPPLIER_ORDER = "supplier_order", _("supplier order")

    NOTICES = [Kind.STATUS_FAILED, Kind.SUPPLIER_ORDER]
    DECISIONS = [Kind.APPROVAL]

    key = models.CharField(_("problem key"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, db_index=True)
    subject = models.CharField(_("subject"), max_length=255)
    opened = models.DateTimeField(_("opened"), default=timezone.now, db_index=True)
    resolved = models.DateTimeField(_("resolved"), null=True, blank=True)
    message = models.TextField(_("last message"))
    # Space-separated channel names ("telegram email") the last message has still to reach.
    undelivered = models.CharField(_("not yet delivered to"), max_length=50, blank=True)
    delivered = models.DateTimeField(_("last delivered"), null=True, blank=True)
    error = models.TextField(_("delivery error"), blank=True)

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-opened"]
        db_table = "kaspiconnect_alert"  # moved from the project package, rows and all

    def __str__(self):
        return self.subject


class SecurityEvent(models.Model):
    """One line of the security log: who, from where, what (see `common.log.security_event`)."""

    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    kind = models.CharField(_("kind"), max_length=32, db_index=True)
    user = models.CharField(_("user"), max_length=150, blank=True, db_index=True)
    address = models.GenericIPAddressField(_("address"), null=True, blank=True)
    message = models.CharField(_("event"), max_length=1000)

    class Meta:
        verbose_name = _("security event")
        verbose_name_plural = _("security log")
        ordering = ["-at"]

    def __str__(self):
        return f"{self.kind} {self.user} {moment(self.at)}"
