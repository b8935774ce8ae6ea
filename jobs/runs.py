"""The row every job leaves behind: when, how long, what, outcome. Services record their runs here."""

from contextlib import ExitStack, contextmanager

from django.utils import timezone

from common.http import ApiError

from . import registry
from .locks import JobBusy, job_lock
from .models import JobRun

MAX_NOTES = 200


@contextmanager
def locked_run(name, *, client=None, failure=None, expected=()):
    """`recorded_run` under the job's lock (from the registry). A run that finds another holding it
    leaves a "skipped" row and raises `JobBusy`: it did nothing, so it triggers nothing either."""
    lock = registry.get(name).lock or name
    with ExitStack() as stack:
        try:
            stack.enter_context(job_lock(lock))
        except JobBusy as busy:
            now = timezone.now()
            JobRun.objects.create(kind=name, outcome=JobRun.Outcome.SKIPPED, started=now, finished=now, error=str(busy))
            raise
        close_abandoned_runs(lock)
        yield stack.enter_context(recorded_run(name, client=client, failure=failure, expected=expected))


def close_abandoned_runs(lock):
    """With the lock held, a run of these jobs still "running" belongs to a process that died (killed,
    out of memory, a machine gone): it failed, and counts as such for the dashboard and the alerts."""
    jobs = [job.name for job in registry.JOBS.values() if (job.lock or job.name) == lock]
    return JobRun.objects.filter(kind__in=jobs, outcome=JobRun.Outcome.RUNNING).update(
        outcome=JobRun.Outcome.FAILED, finished=timezone.now(),
        error="the process running it stopped before it finished (killed or crashed)")


@contextmanager
def recorded_run(name, *, client=None, failure=None, expected=()):
    """Yield a fresh `JobRun` of the job `name`; save it however the block ends.

    The block fills in counts, appends to `run.lines`, and may call `run.fail(reason)` for a run
    that ended without an exception but did not do its job (a feed the guard held). An `ApiError`
    or one of `expected` marks the run failed and comes out as `failure` when one is given (one
    typed error for commands and tasks); anything else is recorded with its type and raised as it is.
    """
    run = JobRun.objects.create(kind=name)
    run.lines = []
    try:
        yield run
        if run.outcome == JobRun.Outcome.RUNNING:
            run.outcome = JobRun.Outcome.OK
    except (ApiError, *expected) as exc:
        run.outcome, run.error = JobRun.Outcome.FAILED, str(exc)
        if failure is None:
            raise
        raise failure(str(exc)) from exc
    except Exception as exc:
        run.outcome, run.error = JobRun.Outcome.FAILED, f"{type(exc).__name__}: {exc}"
        raise
    finally:
        run.requests = getattr(client, "requests", 0)
        run.notes = "\n".join(run.lines[:MAX_NOTES])
        run.finished = timezone.now()
        run.save()
