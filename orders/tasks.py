"""Queue entry points: thin wrappers that call the services (schedules name these paths)."""

from kaspiconnect.locks import JobBusy, job_lock

from . import services


def sync_orders():
    try:
        run = services.orders_sync()
    except JobBusy as exc:
        return f"skipped: {exc}"
    return f"{run.received} read, {run.created} new, {run.updated} updated"


def send_status_change(change_id):
    change = services.status_change_send(change_id=change_id)
    return f"{change.action} {change.order.code}: {change.state}"


def push_status_changes():
    try:
        with job_lock("status-push"):
            return services.status_changes_push()
    except JobBusy as exc:
        return f"skipped: {exc}"
