"""The row every job that talks to the outside world leaves behind: when, how long, what, outcome."""

from contextlib import ExitStack, contextmanager

from django.utils import timezone

from common.http import ApiError

from .locks import JobBusy, job_lock
from .models import JobRun

MAX_NOTES = 200


@contextmanager
def locked_run(kind, *, lock, client, failure, expected=()):
    """`recorded_run` under the job's lock. A run that finds another holding it leaves a "skipped" row
    and raises `JobBusy`: it did nothing, so it triggers nothing either."""
    with ExitStack() as stack:
        try:
            stack.enter_context(job_lock(lock))
        except JobBusy as busy:
            JobRun.objects.create(kind=kind, outcome=JobRun.Outcome.SKIPPED, finished=timezone.now(), error=str(busy))
            raise
        yield stack.enter_context(recorded_run(kind, client=client, failure=failure, expected=expected))


@contextmanager
def recorded_run(kind, *, client, failure, expected=()):
    """Yield a fresh `JobRun` of `kind`; save it however the block ends.

    The block fills in counts and appends to `run.lines`. An `ApiError` or one of `expected`
    marks the run failed and comes out as `failure` (one typed error for commands and tasks);
    anything else is recorded with its type and raised as it is.
    """
    run = JobRun.objects.create(kind=kind)
    run.lines = []
    try:
        yield run
        run.outcome = JobRun.Outcome.OK
    except (ApiError, *expected) as exc:
        run.outcome, run.error = JobRun.Outcome.FAILED, str(exc)
        raise failure(str(exc)) from exc
    except Exception as exc:
        run.outcome, run.error = JobRun.Outcome.FAILED, f"{type(exc).__name__}: {exc}"
        raise
    finally:
        run.requests = client.requests
        run.notes = "\n".join(run.lines[:MAX_NOTES])
        run.finished = timezone.now()
        run.save()
