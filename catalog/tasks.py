"""Queue entry points: thin wrappers that call the services (schedules name these paths)."""

from kaspiconnect.locks import skip_when_busy

from . import services


@skip_when_busy
def sync_catalog():
    run = services.catalog_sync()
    return f"{run.created} created, {run.updated} updated, {run.unchanged} unchanged, {run.skipped} skipped"


@skip_when_busy
def refresh_stock():
    run = services.stock_refresh()
    return f"{run.updated} updated, {run.unchanged} unchanged"
