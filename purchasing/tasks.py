"""Queue entry point for one supplier order sent at once after its approval (the sweep is the job
`sync_supplier_orders`, run through `jobs.tasks.run`)."""

from .sending import supplier_order_send


def send_supplier_order(supplier_order_id):
    supplier_order = supplier_order_send(supplier_order_id=supplier_order_id)
    return f"supplier order {supplier_order.pk}: {supplier_order.state}"
