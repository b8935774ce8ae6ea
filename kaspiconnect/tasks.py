"""Queue entry points for the project-wide jobs (schedules name these paths)."""

from . import alerts
from .locks import skip_when_busy


@skip_when_busy
def check_alerts():
    result = alerts.alerts_check()
    return f"{len(result.opened)} opened, {len(result.recovered)} recovered, {len(result.undelivered)} undelivered"
