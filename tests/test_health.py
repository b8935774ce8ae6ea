"""/healthz: 200 when the database answers and a queue cluster reports in, 503 naming what failed."""

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.signing import SignedPackage
from django_q.status import Stat, Status

from jobs import registry
from jobs.models import JobRun
from monitoring import health


def report_cluster(status=Conf.IDLE, age=timedelta(0)):
    """Save a cluster stat the way a running django-q2 sentinel does (`Stat.save`)."""
    stat = Status(pid=4242, cluster_id="test-cluster")
    stat.status, stat.timestamp = status, timezone.now() - age
    get_broker().set_stat(Stat.get_key(stat.cluster_id), SignedPackage.dumps(stat, True), 3)


@pytest.fixture
def cluster(db):
    report_cluster()


def test_it_is_healthy_with_a_database_and_a_live_cluster(client, cluster):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["database"], body["queue"]) == ("ok", "ok", "ok")
    assert set(body["jobs"]) == set(registry.JOBS) and body["jobs_failing"] == []
    assert response["Cache-Control"].startswith("max-age=0")


def test_it_fails_without_a_cluster(client, db):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert (response.json()["status"], response.json()["queue"]) == ("failing", "no cluster")


@pytest.mark.parametrize("status,age", [(Conf.STOPPED, timedelta(0)), (Conf.IDLE, timedelta(minutes=5))])
def test_a_stopped_or_silent_cluster_is_no_cluster(client, db, status, age):
    report_cluster(status, age)
    assert client.get("/healthz").json()["queue"] == "no cluster"


def test_a_broker_that_cannot_answer_fails_the_queue(client, db, monkeypatch):
    def broken():
        raise ConnectionError("redis is down")

    monkeypatch.setattr(Stat, "get_all", broken)
    response = client.get("/healthz")
    assert (response.status_code, response.json()["queue"]) == (503, "failing")


def test_a_dead_database_fails_the_check(client, cluster, monkeypatch):
    class DeadConnection:
        def cursor(self):
            raise OperationalError("could not connect to server")

    monkeypatch.setattr(health, "connection", DeadConnection())
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "failing" and "jobs" not in response.json()


def test_it_gives_every_jobs_health_and_nothing_secret(client, cluster, settings):
    now = timezone.now()
    JobRun.objects.create(kind="sync_products", outcome="ok", started=now - timedelta(minutes=95),
                          finished=now - timedelta(minutes=90))
    JobRun.objects.create(kind="sync_products", outcome="failed", finished=now, error=f"token {settings.ALSTYLE_TOKEN}")
    JobRun.objects.create(kind="sync_orders", outcome="ok", finished=now - timedelta(minutes=2))
    response = client.get("/healthz")
    assert response.status_code == 200  # a failing job does not take the site (and the feed) offline
    jobs = response.json()["jobs"]
    assert jobs["sync_products"] == {"state": "failing", "failures_in_a_row": 1, "minutes_since_success": 90}
    assert jobs["sync_orders"] == {"state": "ok", "failures_in_a_row": 0, "minutes_since_success": 2}
    assert jobs["refresh_stock"] == {"state": "late", "failures_in_a_row": 0, "minutes_since_success": None}
    assert response.json()["jobs_failing"] == ["sync_products"]
    for secret in (settings.FEED_TOKEN, settings.KASPI_TOKEN, settings.ALSTYLE_TOKEN, settings.SECRET_KEY):
        assert secret not in response.content.decode()
