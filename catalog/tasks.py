"""Queue entry points: thin wrappers that call the services (schedules name these paths)."""

from . import services


def sync_catalog():
    run = services.catalog_sync()
    return f"{run.created} created, {run.updated} updated, {run.unchanged} unchanged, {run.skipped} skipped"
