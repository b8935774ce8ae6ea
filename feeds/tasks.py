"""Queue entry points: thin wrappers that call the services (schedules name these paths)."""

from . import services


def build_feed():
    run = services.feed_build()
    return f"{run.outcome}: {run.offers} offers {run.reason}".strip()


def build_after_sync(task):
    """django-q hook on the supplier jobs: a successful sync is followed by a build at once."""
    if task.success:
        return build_feed()
    return None
