"""Is a job healthy? One answer, read by the dashboard, the alerts and /healthz alike.

In the spirit of healthchecks' `Check.get_status()`: for a job and a moment, `job_health` says
ok, late or failing, with the failure streak and the latest error.

- failing: the latest run that did its work failed, or the last success is older than
  `job.failing_at()` (two runs missed);
- late: the last success is older than `job.late_at()`, or the job has never run yet;
- ok otherwise.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from .models import JobRun

OK, LATE, FAILING = "ok", "late", "failing"
LABELS = {OK: _("ok"), LATE: _("late"), FAILING: _("failing")}


@dataclass
class Evidence:
    """What the rows say about a job."""

    last_ok: datetime | None = None  # when it last succeeded
    streak: int = 0  # failures since then
    last_error: str = ""  # of the latest failure of that streak
    since: datetime | None = None  # when it was first expected to succeed, if it never did


@dataclass
class Health:
    job: object
    state: str
    reason: str  # why, in words: failed, overdue, never, late, on time
    last_ok: datetime | None
    streak: int
    last_error: str
    age: timedelta | None  # since the last success
    since: datetime | None = None  # when it was first expected, for one that never succeeded

    @property
    def label(self):
        return LABELS[self.state]


def job_health(job, now=None):
    now = now or timezone.now()
    evidence = import_string(job.source)(job) if job.source else run_evidence(job.name)
    reference = evidence.last_ok or evidence.since
    age = now - evidence.last_ok if evidence.last_ok else None
    if evidence.streak:
        state, reason = FAILING, _("failed")
    elif reference is None:
        state, reason = LATE, _("never ran")
    elif now - reference >= job.failing_at():
        state, reason = FAILING, _("overdue") if evidence.last_ok else _("never")
    elif now - reference >= job.late_at():
        state, reason = LATE, _("late")
    else:
        state, reason = OK, _("on time")
    return Health(job, state, str(reason), evidence.last_ok, evidence.streak, evidence.last_error, age,
                  evidence.since)


def run_evidence(name):
    """From the job's run rows; a run skipped because another held the lock says nothing. Three queries."""
    worked = JobRun.objects.filter(kind=name, outcome__in=JobRun.DID_WORK)
    last_ok = worked.filter(outcome=JobRun.Outcome.OK).order_by("-started").values("started", "finished").first()
    failed = worked.filter(outcome=JobRun.Outcome.FAILED)
    if last_ok:
        failed = failed.filter(started__gt=last_ok["started"])
    streak = failed.count()
    last_error = failed.order_by("-started").values_list("error", flat=True).first() if streak else ""
    return Evidence(
        last_ok=last_ok and (last_ok["finished"] or last_ok["started"]), streak=streak, last_error=last_error or ""
    )
