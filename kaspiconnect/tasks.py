"""Queue entry points for the project-wide jobs (schedules name these paths)."""

from . import alerts
from .locks import JobBusy


def check_alerts():
    try:
        result = alerts.alerts_check()
    except JobBusy as exc:
        return f"skipped: {exc}"
    return f"{len(result.opened)} opened, {len(result.recovered)} recovered, {len(result.undelivered)} undelivered"
