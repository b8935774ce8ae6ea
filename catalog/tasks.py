"""Queue entry points: thin wrappers that call the services (schedules name these paths)."""

from django_q.tasks import async_task

from jobs.locks import skip_when_busy

from . import services

# New stock and prices reach Kaspi at once: a successful sync queues a feed build, a task of its
# own with the queue's timeout (named by path: the catalogue does not depend on the feed).
FEED_BUILD = "feeds.tasks.build_feed"


@skip_when_busy
def sync_catalog():
    run = services.catalog_sync()
    async_task(FEED_BUILD, task_name="feed build after the catalogue sync")
    return f"{run.created} created, {run.updated} updated, {run.unchanged} unchanged, {run.skipped} skipped"


@skip_when_busy
def refresh_stock():
    run = services.stock_refresh()
    async_task(FEED_BUILD, task_name="feed build after the stock refresh")
    return f"{run.updated} updated, {run.unchanged} unchanged"
