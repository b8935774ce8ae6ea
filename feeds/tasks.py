"""Queue entry points: thin wrappers that call the services (schedules name these paths)."""

from kaspiconnect.locks import skip_when_busy

from . import services


@skip_when_busy
def build_feed():
    run = services.feed_build()
    return f"{run.outcome}: {run.offers} offers {run.reason}".strip()


def build_after_sync(task):
    """django-q hook on the supplier jobs: a successful sync is followed by a build at once."""
    if task.success:
        return build_feed()
    return None
