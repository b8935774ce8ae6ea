"""The registry is the one home of a job: scheduled, run, recorded, shown, checked and alerted on from it."""

from ast import literal_eval
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from common.http import ApiError
from feeds.models import FeedFetch
from jobs import registry
from jobs.health import FAILING, LATE, OK, job_health
from jobs.models import JobRun
from jobs.runs import locked_run
from jobs.tasks import run
from monitoring.alerts import alerts_check, open_problems
from monitoring.dashboard import dashboard

COLOURS = {OK: "green", LATE: "amber", FAILING: "red"}


def dummy_service():
    """A job's service, as a new one would be written: it records its run, and may fail."""
    with locked_run("dummy_job") as job:
        job.received = 3
        if settings.DUMMY_FAILS:
            raise ApiError("the dummy's outside service is down", temporary=True)


@pytest.fixture
def dummy(monkeypatch, settings):
    settings.DUMMY_MINUTES, settings.DUMMY_FAILS = 10, False
    job = registry.Job("dummy_job", "Dummy job", "DUMMY_MINUTES", service="tests.test_jobs.dummy_service")
    monkeypatch.setitem(registry.JOBS, job.name, job)
    return job


def tile(request, job):
    return {tile.title: tile for tile in dashboard(request=request)["tiles"]}[job.title]


def test_a_new_job_takes_a_registry_entry_and_a_service_and_nothing_else(dummy, admin_request, client, settings):
    call_command("setup_schedules")
    schedule = Schedule.objects.get(name="dummy_job")
    assert schedule.minutes == 10

    async_task(schedule.func, *(literal_eval(schedule.args),))  # as the cluster runs it (inline in tests)
    recorded = JobRun.objects.get(kind="dummy_job")
    assert (recorded.outcome, recorded.received, recorded.title) == ("ok", 3, "Dummy job")
    assert tile(admin_request, dummy).colour == "green"
    assert client.get("/healthz").json()["jobs"]["dummy_job"]["state"] == "ok"
    assert not alerts_check().opened

    settings.DUMMY_FAILS = True
    with pytest.raises(ApiError):
        run("dummy_job")
    failing = tile(admin_request, dummy)
    assert (failing.colour, failing.error) == ("red", "the dummy's outside service is down")
    assert client.get("/healthz").json()["jobs_failing"] == ["dummy_job"]
    [alert] = alerts_check().opened
    assert alert.key == "job:dummy_job" and "the dummy's outside service is down" in alert.message


def _put_in_state(job, state, make_run, make_build):
    """Leave the rows that make `job` ok, late or failing now."""
    late = job.late_at() + (job.failing_at() - job.late_at()) / 2
    if job.name == "feed_fetched":
        make_build(ago=timedelta(days=2))
        at = timezone.now() - (late if state == LATE else timedelta(minutes=1))
        FeedFetch.objects.create(at=at, status=200)
        if state == FAILING:
            FeedFetch.objects.create(at=timezone.now(), status=503)
        return
    make_run(job.name, ago=late if state == LATE else timedelta(minutes=1))
    if state == FAILING:
        make_run(job.name, "failed", error="HTTP 503")


@pytest.mark.parametrize("state", [OK, LATE, FAILING])
@pytest.mark.parametrize("name", list(registry.JOBS))
def test_the_dashboard_the_alerts_and_healthz_agree(name, state, admin_request, client, make_run, make_build):
    job = registry.get(name)
    _put_in_state(job, state, make_run, make_build)

    assert job_health(job).state == state
    assert tile(admin_request, job).colour == COLOURS[state]
    assert client.get("/healthz").json()["jobs"][name]["state"] == state
    alerts_check()
    assert (f"job:{name}" in {alert.key for alert in open_problems()}) == (state == FAILING)


def test_late_and_failing_follow_from_the_interval(settings):
    job = registry.get("sync_products")  # daily
    assert (job.late_at(), job.failing_at()) == (timedelta(hours=26.4), timedelta(hours=50.4))
    settings.ORDERS_SYNC_MINUTES = 5
    job = registry.get("sync_orders")
    assert (job.late_at(), job.failing_at()) == (timedelta(minutes=20), timedelta(minutes=25))
    fetch = registry.get("feed_fetched")
    assert (fetch.late_at(), fetch.failing_at()) == (timedelta(hours=2), timedelta(hours=3))


def test_earlier_feed_builds_become_runs_of_the_feed_job(transactional_db):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("feeds", "0001_initial"), ("jobs", "0004_runs_named_by_job")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps.get_model("feeds", "FeedRun")
    now = timezone.now()
    for minutes, outcome, reason in [(0, "published", ""), (1, "held", "80% fewer offers"), (2, "dry_run", "")]:
        at = now + timedelta(minutes=minutes)
        old.objects.create(outcome=outcome, reason=reason, started=at, finished=at, offers=5)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    from feeds.models import FeedRun

    runs = {build.outcome: build.job_run for build in FeedRun.objects.select_related("job_run")}
    assert runs["dry_run"] is None  # a dry run publishes nothing and says nothing about the job
    assert (runs["published"].kind, runs["published"].outcome, runs["published"].received) == ("build_feed", "ok", 5)
    assert (runs["held"].outcome, runs["held"].error) == ("failed", "held by the safety guard: 80% fewer offers")
    assert job_health(registry.get("build_feed")).streak == 1


def test_a_run_left_running_by_a_dead_process_is_closed_as_failed_by_the_next_one(db, make_run):
    abandoned = make_run("refresh_stock", "running", ago=timedelta(hours=2))  # shares the supplier lock
    elsewhere = make_run("sync_orders", "running")  # another lock: may be at work right now

    with locked_run("sync_products"):
        pass

    abandoned.refresh_from_db()
    assert abandoned.outcome == "failed" and "stopped before it finished" in abandoned.error
    assert job_health(registry.get("refresh_stock")).state == FAILING  # and it counts for the alerts
    assert JobRun.objects.get(pk=elsewhere.pk).outcome == "running"


def test_a_build_clears_the_work_folders_of_builds_that_died(db, store, make_product, settings):
    from feeds.services import feed_build

    make_product()
    leftover = settings.FEED_DIR / ".build-killed"
    leftover.mkdir(parents=True)
    (leftover / "kaspi.xml").write_text("<half")
    assert feed_build().outcome == "published"
    assert not list(settings.FEED_DIR.glob(".build-*"))
