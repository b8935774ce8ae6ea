"""Concurrency on a real PostgreSQL: run by `make test` with DATABASE_URL pointing at it."""

import threading

import pytest
from django.conf import settings
from django.db import connection, connections

from catalog.models import Product
from catalog.services import products_sync
from jobs.locks import JobBusy, job_lock
from orders.changes import status_change_approve, status_change_request, status_change_send
from orders.models import Order, OrderEntry, StatusChange
from orders.reading import order_fields, upsert_order
from orders.sync import order_import_by_code, orders_sync

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs DATABASE_URL=postgres://…"),
]


def at_once(*calls):
    """Run the calls in threads released together; return their results or exceptions."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        barrier.wait()
        try:
            results[index] = call()
        except Exception as exc:  # collected for the test to inspect
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_the_advisory_lock_holds_across_connections(transactional_db):
    with job_lock("demo-job"):
        [result] = at_once(lambda: job_lock("demo-job").__enter__())
    assert isinstance(result, JobBusy)
    with job_lock("demo-job"):
        pass  # released again


def test_two_imports_started_at_once_leave_no_duplicate(transactional_db, sandbox):
    results = at_once(lambda: orders_sync(days=30), lambda: orders_sync(days=30))
    assert any(not isinstance(r, Exception) for r in results)
    assert all(isinstance(r, JobBusy) or not isinstance(r, Exception) for r in results)
    orders_sync(days=30)
    assert Order.objects.count() == len(sandbox.state.kaspi_orders)
    assert Order.objects.values("code").distinct().count() == Order.objects.count()
    entries = sum(len(o["entries"]) for o in sandbox.state.kaspi_orders)
    assert OrderEntry.objects.count() == entries


def test_concurrent_upserts_of_one_order_create_it_once(transactional_db, sandbox):
    resource = {"id": "b3JkZXItMQ==", "type": "orders", "attributes": {
        "code": "777000111", "status": "APPROVED_BY_BANK", "state": "NEW", "creationDate": 1764400000000,
        "totalPrice": 1000}}
    fields = order_fields(resource)
    results = at_once(*[lambda: upsert_order(dict(fields)) for _ in range(4)])
    assert sorted(results).count("created") == 1
    assert Order.objects.filter(code="777000111").count() == 1


def test_two_workers_sending_one_change_send_it_once(transactional_db, sandbox, admin_user):
    order = order_import_by_code(code=sandbox.state.add_order()["attributes"]["code"])
    change = status_change_request(order=order, action="accept", user=admin_user)
    status_change_approve(change=change, user=admin_user, queue=False)
    at_once(lambda: status_change_send(change_id=change.pk), lambda: status_change_send(change_id=change.pk))
    assert StatusChange.objects.get(pk=change.pk).state == "done"
    assert len([p for p in sandbox.state.status_posts if p.code == order.code]) == 1


def test_a_double_click_cannot_queue_two_changes(transactional_db, sandbox, admin_user):
    order = order_import_by_code(code=sandbox.state.add_order()["attributes"]["code"])
    at_once(*[lambda: status_change_request(order=order, action="accept", user=admin_user) for _ in range(3)])
    assert StatusChange.objects.filter(order=order, state__in=StatusChange.ACTIVE).count() == 1


def test_the_catalogue_sync_runs_on_postgresql(transactional_db, sandbox):
    run = products_sync()
    assert Product.objects.count() == run.created > 250
    assert products_sync().updated == 0


def test_a_redis_backed_cluster_of_workers_runs_queued_jobs(transactional_db, monkeypatch):
    """The bigger-shop setup: PostgreSQL for data, Redis as the broker, a separate worker cluster."""
    import os
    import subprocess
    import sys
    import time
    import uuid
    from pathlib import Path

    from django_q.brokers.redis_broker import Redis
    from django_q.conf import Conf
    from django_q.tasks import async_task, fetch

    redis_url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    name = f"kc-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(Conf, "REDIS", redis_url)
    db = connection.settings_dict
    env = {**os.environ, "REDIS_URL": redis_url, "Q_CLUSTER_NAME": name, "Q_WORKERS": "2",
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
           "KASPICONNECT_QUIET": "1",
           "SECRET_KEY": settings.SECRET_KEY,  # queued tasks are signed with it: the same on both ends
           "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS)}
    root = Path(__file__).resolve().parent.parent
    cluster = subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=root, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        broker = Redis(list_key=name)
        ids = [async_task("math.copysign", 3, -1, broker=broker, sync=False) for _ in range(4)]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(fetch(task_id) for task_id in ids):
            time.sleep(0.5)
        results = [fetch(task_id) for task_id in ids]
        assert all(task is not None and task.success and task.result == -3.0 for task in results)
    finally:
        cluster.terminate()
        cluster.wait(timeout=30)
