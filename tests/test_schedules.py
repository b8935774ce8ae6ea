from django.core.management import call_command
from django.utils.module_loading import import_string
from django_q.models import Schedule

from jobs import registry
from jobs.schedules import TASK, declared


def test_every_scheduled_path_imports():
    assert callable(import_string(TASK))
    for job in registry.JOBS.values():
        if job.scheduled:
            assert callable(import_string(job.service)), job.name
        else:
            assert callable(import_string(job.source)), job.name
        for follower in job.then:
            assert registry.get(follower).scheduled


def test_setup_schedules_is_idempotent_and_keeps_names(db, settings):
    call_command("setup_schedules")
    call_command("setup_schedules")
    assert Schedule.objects.count() == len(declared()) == 7
    settings.ORDERS_SYNC_MINUTES = 7
    call_command("setup_schedules")
    schedule = Schedule.objects.get(name="sync_orders")
    assert (schedule.func, schedule.args, schedule.minutes) == (TASK, "'sync_orders'", 7)
    assert Schedule.objects.count() == len(declared())
    assert not Schedule.objects.filter(name="feed_fetched").exists()  # Kaspi does that one


def test_it_removes_schedules_it_no_longer_declares_but_not_foreign_ones(db):
    Schedule.objects.create(name="catalog: full supplier sync", func="catalog.tasks.sync_catalog",
                            schedule_type=Schedule.DAILY)  # from before the registry
    Schedule.objects.create(name="retired_job", func=TASK, args="'retired_job'", schedule_type=Schedule.DAILY)
    Schedule.objects.create(name="someone else's job", func="math.floor", schedule_type=Schedule.DAILY)
    call_command("setup_schedules")
    assert not Schedule.objects.filter(name__in=["catalog: full supplier sync", "retired_job"]).exists()
    assert Schedule.objects.filter(name="someone else's job").exists()


def test_queue_limits_are_set_on_purpose(settings):
    cluster = settings.Q_CLUSTER
    assert cluster["timeout"] < cluster["retry"]
    assert 0 < cluster["max_attempts"] < 10


def test_a_task_steps_aside_while_the_same_job_runs(db):
    from jobs.locks import job_lock
    from jobs.tasks import run

    with job_lock("supplier"):
        assert run("sync_products").startswith("skipped: supplier is already running")


def test_a_sync_queues_a_feed_build_of_its_own_and_a_skipped_one_queues_none(db, sandbox, store, settings):
    from catalog.models import PricingRule
    from feeds.models import FeedRun
    from jobs.locks import job_lock
    from jobs.models import JobRun
    from jobs.tasks import run

    PricingRule.objects.create(name="default", markup_percent=20)
    run("sync_products")  # the queue runs tasks inline in tests: the queued build has run
    assert list(FeedRun.objects.values_list("outcome", flat=True)) == ["published"]
    assert FeedRun.objects.get().job_run.kind == "build_feed"
    with job_lock("supplier"):
        assert run("refresh_stock").startswith("skipped:")
    assert FeedRun.objects.count() == 1
    skipped = JobRun.objects.get(outcome="skipped")  # recorded as skipped, and it triggered nothing
    assert skipped.kind == "refresh_stock" and "already running" in skipped.error
    assert skipped.duration.total_seconds() == 0
    assert run("refresh_stock").startswith("done")
    assert FeedRun.objects.count() == 2
