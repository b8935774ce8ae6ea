"""Queue entry point for one status change sent at once after its approval (the periodic jobs run
through `jobs.tasks.run`)."""

from . import changes


def send_status_change(change_id):
    change = changes.status_change_send(change_id=change_id)
    return f"{change.action} {change.order.code}: {change.state}"
