"""What every job leaves behind: one row a run."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext, ngettext, ngettext_lazy
from django.utils.translation import gettext_lazy as _

from common.format import moment

from . import registry


class JobRun(models.Model):
    """One run of a job that talks to the outside world: when, how long, counts, outcome."""

    class Outcome(models.TextChoices):
        RUNNING = "running", _("running")
        OK = "ok", _("ok")
        FAILED = "failed", _("failed")
        SKIPPED = "skipped", _("skipped: already running")

    # The job's name in the registry (jobs.registry.JOBS), which is also its command's name.
    kind = models.CharField(_("job"), max_length=32, db_index=True)
    started = models.DateTimeField(_("started"), default=timezone.now, db_index=True)
    finished = models.DateTimeField(_("finished"), null=True, blank=True)
    # The runs that did their work, well or not: a skipped one says nothing about the job's health.
    DID_WORK = [Outcome.OK, Outcome.FAILED]

    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.RUNNING)
    received = models.PositiveIntegerField(_("received"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0)
    vanished = models.PositiveIntegerField(_("vanished"), default=0)
    requests = models.PositiveIntegerField(_("requests"), default=0)
    error = models.TextField(_("error"), blank=True)
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        verbose_name = _("job run")
        verbose_name_plural = _("job runs")
        ordering = ["-started"]
        db_table = "catalog_syncrun"  # moved from the catalogue, rows and all
        indexes = [models.Index(fields=["kind", "-started"], name="jobrun_kind_started")]

    def __str__(self):
        return f"{self.title} {moment(self.started)}"

    @property
    def title(self):
        return registry.title(self.kind)

    def fail(self, reason):
        """Mark a run that ended without an exception but did not do its job (the recorder keeps it)."""
        self.outcome, self.error = self.Outcome.FAILED, reason

    @property
    def verdict(self):
        """ "done", "done with 2 skipped", or what went wrong: a skipped record never fails a run."""
        if self.outcome == self.Outcome.OK:
            if self.skipped:
                return ngettext("done with %(count)d skipped", "done with %(count)d skipped",
                                self.skipped) % {"count": self.skipped}
            return gettext("done")
        if self.outcome == self.Outcome.FAILED:
            return gettext("failed: %(error)s") % {"error": self.error}
        if self.outcome == self.Outcome.SKIPPED and self.error:
            return gettext("skipped: %(error)s") % {"error": self.error}
        return self.get_outcome_display()

    def counted(self, field):
        """One of the run's counts in words ("5 received"), with the plural its number needs."""
        return COUNTS[field] % {"count": getattr(self, field)}

    @property
    def summary(self):
        """The verdict and the counts, for the queue's result and the logs."""
        counts = ", ".join(
            self.counted(field) for field in ("received", "created", "updated", "unchanged", "vanished")
            if getattr(self, field)
        )
        return f"{self.verdict} ({counts})" if counts else self.verdict

    @property
    def duration(self):
        return (self.finished - self.started) if self.finished else None


# The counts of a run in words; the number comes from "count" when the text is filled in.
COUNTS = {
    "received": ngettext_lazy("%(count)d received", "%(count)d received", "count"),
    "created": ngettext_lazy("%(count)d created", "%(count)d created", "count"),
    "updated": ngettext_lazy("%(count)d updated", "%(count)d updated", "count"),
    "unchanged": ngettext_lazy("%(count)d unchanged", "%(count)d unchanged", "count"),
    "skipped": ngettext_lazy("%(count)d skipped", "%(count)d skipped", "count"),
    "vanished": ngettext_lazy("%(count)d vanished", "%(count)d vanished", "count"),
    "requests": ngettext_lazy("%(count)d request", "%(count)d requests", "count"),
}
