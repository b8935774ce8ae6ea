import importlib

from django.core.management import call_command
from django_q.models import Schedule

from jobs.schedules import declared


def import_path(path):
    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def test_every_scheduled_function_imports():
    from catalog.tasks import FEED_BUILD

    for fields in declared().values():
        assert callable(import_path(fields["func"]))
    assert callable(import_path(FEED_BUILD))


def test_setup_schedules_is_idempotent_and_keeps_names(db, settings):
    call_command("setup_schedules")
    call_command("setup_schedules")
    assert Schedule.objects.count() == len(declared())
    settings.ORDERS_SYNC_MINUTES = 7
    call_command("setup_schedules")
    assert Schedule.objects.get(name="orders: import from Kaspi").minutes == 7
    assert Schedule.objects.count() == len(declared())


def test_it_removes_schedules_it_no_longer_declares_but_not_foreign_ones(db):
    Schedule.objects.create(name="catalog: retired job", func="catalog.tasks.gone", schedule_type=Schedule.DAILY)
    Schedule.objects.create(name="someone else's job", func="math.floor", schedule_type=Schedule.DAILY)
    call_command("setup_schedules")
    assert not Schedule.objects.filter(name="catalog: retired job").exists()
    assert Schedule.objects.filter(name="someone else's job").exists()


def test_queue_limits_are_set_on_purpose(settings):
    cluster = settings.Q_CLUSTER
    assert cluster["timeout"] < cluster["retry"]
    assert 0 < cluster["max_attempts"] < 10


def test_a_task_steps_aside_while_the_same_job_runs(db):
    from catalog.tasks import sync_catalog
    from jobs.locks import job_lock

    with job_lock("supplier"):
        assert sync_catalog().startswith("skipped: supplier is already running")


def test_a_sync_queues_a_feed_build_of_its_own_and_a_skipped_one_queues_none(db, sandbox, store, settings):
    from catalog.models import PricingRule
    from catalog.tasks import refresh_stock, sync_catalog
    from feeds.models import FeedRun
    from jobs.locks import job_lock

    PricingRule.objects.create(name="default", markup_percent=20)
    sync_catalog()  # the queue runs tasks inline in tests: the queued build has run
    assert list(FeedRun.objects.values_list("outcome", flat=True)) == ["published"]
    with job_lock("supplier"):
        assert refresh_stock().startswith("skipped:")
    assert FeedRun.objects.count() == 1
    from jobs.models import JobRun

    skipped = JobRun.objects.get(outcome="skipped")  # recorded as skipped, and it triggered nothing
    assert skipped.kind == "stock" and "already running" in skipped.error
    refresh_stock()
    assert FeedRun.objects.count() == 2
