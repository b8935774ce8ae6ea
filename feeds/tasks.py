"""Queue entry points: thin wrappers that call the services (schedules name these paths)."""

from jobs.locks import skip_when_busy

from . import services


@skip_when_busy
def build_feed():
    run = services.feed_build()
    return f"{run.outcome}: {run.offers} offers {run.reason}".strip()

