"""Queue entry points for the project-wide jobs (schedules name these paths)."""

from jobs.locks import skip_when_busy

from . import alerts


@skip_when_busy
def check_alerts():
    result = alerts.alerts_check()
    return f"{len(result.opened)} opened, {len(result.recovered)} recovered, {len(result.undelivered)} undelivered"
