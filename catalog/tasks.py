"""Queue entry points: thin wrappers that call the services (schedules name these paths).

A run that finds the same job already running steps aside: that is not a failure.
"""

from kaspiconnect.locks import JobBusy

from . import services


def sync_catalog():
    try:
        run = services.catalog_sync()
    except JobBusy as exc:
        return f"skipped: {exc}"
    return f"{run.created} created, {run.updated} updated, {run.unchanged} unchanged, {run.skipped} skipped"


def refresh_stock():
    try:
        run = services.stock_refresh()
    except JobBusy as exc:
        return f"skipped: {exc}"
    return f"{run.updated} updated, {run.unchanged} unchanged"
