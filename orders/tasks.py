"""Queue entry points: thin wrappers that call the services (schedules name these paths)."""

from jobs.locks import skip_when_busy

from . import changes, sync


@skip_when_busy
def sync_orders():
    run = sync.orders_sync()
    return f"{run.received} read, {run.created} new, {run.updated} updated"


def send_status_change(change_id):
    change = changes.status_change_send(change_id=change_id)
    return f"{change.action} {change.order.code}: {change.state}"


@skip_when_busy
def push_status_changes():
    return changes.status_changes_push()
