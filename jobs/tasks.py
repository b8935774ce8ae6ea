"""The one queue task every schedule calls: `run(name)` runs the job's service and queues what follows."""

from django.utils import timezone
from django_q.tasks import async_task

from . import registry
from .locks import JobBusy
from .models import JobRun


def run(name):
    """Run the job `name` now. A run that finds the job running steps aside (a skipped row, not a
    failure) and queues nothing; a run that succeeded queues the jobs declared to follow it."""
    job = registry.get(name)
    began = timezone.now()
    try:
        job.run_service()
    except JobBusy as exc:
        return f"skipped: {exc}"
    row = (JobRun.objects.filter(kind=name, started__gte=began, outcome__in=JobRun.DID_WORK)
           .order_by("started").first())
    if row is not None and row.outcome == JobRun.Outcome.OK:
        for follower in job.then:
            async_task("jobs.tasks.run", follower, task_name=f"{follower} after {name}")
    return row.summary if row else "done"
