"""Alerts: each problem told once when it opens and once when it ends, by Telegram (the sandbox's fake) and e-mail."""

import itertools
import logging
import smtplib
from datetime import timedelta

import pytest
import requests
from django.core.management import call_command
from django.db.models import Max
from django.utils import timezone, translation

from catalog.models import Product
from feeds.models import FeedFetch, FeedRun
from jobs.models import JobRun
from jobs.tasks import run
from monitoring import alerts
from monitoring.models import Alert
from orders.models import Order, StatusChange
from purchasing.models import SupplierOrder

BOT_TOKEN = "123456:telegram-bot-secret"
_codes = itertools.count(700000)


@pytest.fixture(autouse=True)
def _english():
    """Messages are checked in their English source, whatever the Russian translation says."""
    with translation.override("en"):
        yield


@pytest.fixture
def telegram(sandbox, settings):
    """Alerts go to the sandbox's fake Telegram only; returns the messages it received."""
    settings.TELEGRAM_API_URL = sandbox.telegram_url
    settings.TELEGRAM_BOT_TOKEN = BOT_TOKEN
    settings.TELEGRAM_CHAT_ID = "-100200300"
    settings.ALERT_EMAILS = []
    return sandbox.state.telegram_messages


def sync_runs(*outcomes, kind="sync_products", error="HTTP 503"):
    """Finished runs, each a minute after the run before."""
    for outcome in outcomes:
        JobRun.objects.create(kind=kind, outcome=outcome, started=_next(JobRun), finished=timezone.now(),
                               error=error if outcome == "failed" else "")


def feed_runs(*outcomes, hours_ago=None, reason="supplier outage"):
    """Finished builds, each a minute after the one before; the first `hours_ago` when given."""
    for outcome in outcomes:
        started = timezone.now() - timedelta(hours=hours_ago) if hours_ago is not None else _next(FeedRun)
        build = FeedRun(outcome=outcome, started=started, finished=started + timedelta(seconds=5), reason=reason)
        if outcome != "dry_run":  # as feed_build records them: a dry run is no run of the job
            failed = outcome != "published"
            build.job_run = JobRun.objects.create(
                kind="build_feed", started=started, finished=build.finished, outcome="failed" if failed else "ok",
                error=f"{build.get_outcome_display()}: {reason}" if failed else "")
        build.save()
        hours_ago = None


def _next(model):
    latest = model.objects.aggregate(at=Max("started"))["at"] or timezone.now() - timedelta(minutes=10)
    return latest + timedelta(minutes=1)


def status_change(state, *, hours_ago=0, proposed=True):
    code = str(next(_codes))
    order = Order.objects.create(kaspi_id=f"K{code}", code=code, state="NEW", status="APPROVED_BY_BANK",
                                 total_price=25990, created_at_kaspi=timezone.now())
    moment = timezone.now() - timedelta(hours=hours_ago)
    return StatusChange.objects.create(order=order, action="accept", state=state, proposed=proposed,
                                       requested_at=moment, finished_at=moment if state == "failed" else None,
                                       message="Order is already cancelled" if state == "failed" else "")


def texts(messages):
    return [m["text"] for m in messages]


def test_it_tells_once_stays_quiet_then_tells_the_recovery(telegram):
    sync_runs("ok", "failed")
    alerts.alerts_check()
    assert len(telegram) == 1
    assert telegram[0]["chat_id"] == "-100200300"
    assert "Supplier catalogue" in telegram[0]["text"] and "HTTP 503" in telegram[0]["text"]

    sync_runs("failed")
    alerts.alerts_check()
    alerts.alerts_check()
    assert len(telegram) == 1  # still failing: nothing new

    sync_runs("ok")
    result = alerts.alerts_check()
    assert [a.key for a in result.recovered] == ["job:sync_products"]
    assert len(telegram) == 2 and "back to normal" in telegram[1]["text"]
    alerts.alerts_check()
    assert len(telegram) == 2
    assert Alert.objects.get(key="job:sync_products").resolved is not None


def test_it_tells_again_when_a_recovered_problem_comes_back(telegram):
    sync_runs("failed", "failed", "failed", "ok")
    alerts.alerts_check()
    sync_runs("failed", "failed", "failed")
    alerts.alerts_check()
    assert len(telegram) == 1
    assert Alert.objects.get().resolved is None


def test_a_run_in_progress_neither_fails_nor_succeeds(telegram):
    sync_runs("failed", "ok", "running")
    alerts.alerts_check()
    assert telegram == []
    sync_runs("failed")
    alerts.alerts_check()
    assert len(telegram) == 1  # the first failure is told: the dashboard is red from it too


@pytest.mark.parametrize("kind,label", [("refresh_stock", "Supplier stock and prices"),
                                        ("sync_orders", "Kaspi orders imported")])
def test_it_has_one_problem_per_job(telegram, kind, label):
    sync_runs("failed", "failed", "failed", kind=kind)
    sync_runs("ok", kind="sync_products")  # a job that works does not hide, nor share, another's problem
    alerts.alerts_check()
    assert [a.key for a in alerts.open_problems()] == [f"job:{kind}"]
    assert [text.splitlines()[0] for text in texts(telegram)] == [
        f"⚠️ Job “{label}”: failed 3 times in a row. Latest error: HTTP 503"]
    assert "check_connections" in telegram[0]["text"]  # and what to check


def test_it_tells_when_feed_builds_keep_failing_and_ignores_dry_runs(telegram):
    feed_runs("failed", "invalid", "dry_run", "failed")
    alerts.alerts_check()
    assert [a.key for a in alerts.open_problems()] == ["job:build_feed"]
    assert "failed 3 times in a row" in telegram[0]["text"]
    feed_runs("published")
    alerts.alerts_check()
    assert len(telegram) == 2 and alerts.open_problems().count() == 0


def test_it_tells_when_kaspi_stops_fetching_the_published_feed(telegram, settings):
    FeedFetch.objects.create(status=503, at=timezone.now() - timedelta(hours=5))  # "nothing published yet"
    alerts.alerts_check()
    assert telegram == []  # nothing published yet: nothing to fetch

    feed_runs("published", hours_ago=4)
    alerts.alerts_check()
    [told] = [m["text"] for m in telegram if "Feed fetched by Kaspi" in m["text"]]
    assert "no success in the 3\u00a0hours, 59\u00a0minutes since" in told and "seller cabinet" in told

    FeedFetch.objects.create(status=304, at=timezone.now())
    result = alerts.alerts_check()
    assert [alert.key for alert in result.recovered] == ["job:feed_fetched"]
    assert "back to normal" in telegram[-1]["text"]


def test_a_fetch_kaspi_did_not_get_is_a_failure(telegram):
    feed_runs("published")
    FeedFetch.objects.create(status=200, at=timezone.now() - timedelta(minutes=30))
    FeedFetch.objects.create(status=503, at=timezone.now())  # the file had gone from the disk
    [alert] = alerts.alerts_check().opened
    assert alert.key == "job:feed_fetched" and "Kaspi got HTTP 503" in alert.message


def test_a_recent_publication_or_fetch_is_no_problem(telegram):
    feed_runs("published", hours_ago=2)  # the builds since are late, but Kaspi may still come
    alerts.alerts_check()
    FeedRun.objects.update(started=timezone.now() - timedelta(hours=5), finished=timezone.now() - timedelta(hours=5))
    FeedFetch.objects.create(status=200, at=timezone.now() - timedelta(hours=2))
    alerts.alerts_check()
    assert not Alert.objects.filter(key="job:feed_fetched").exists()


def test_it_tells_when_the_guard_holds_the_feed_until_one_is_published(telegram):
    feed_runs("published", "held", reason="62% of offers would disappear")
    alerts.alerts_check()
    assert "held by the safety guard: 62% of offers would disappear" in telegram[0]["text"]
    feed_runs("failed", "held")
    alerts.alerts_check()
    assert len(telegram) == 1
    feed_runs("published")
    alerts.alerts_check()
    assert len(telegram) == 2 and alerts.open_problems().count() == 0


def test_it_tells_each_refused_status_change_once(telegram):
    first, second = status_change("failed"), status_change("failed")
    status_change("failed", hours_ago=48)  # from before alerts were set up: not replayed
    alerts.alerts_check()
    alerts.alerts_check()
    assert sorted(texts(telegram)) == sorted(
        f"🔔 Order №{c.order.code}: Kaspi refused “accept”: Order is already cancelled" for c in (first, second)
    )
    assert alerts.open_problems().count() == 0  # a notice, not a lasting problem


def test_it_tells_each_order_awaiting_approval_once(telegram, admin_user):
    proposed = status_change("pending")
    alerts.alerts_check()
    StatusChange.objects.filter(pk=proposed.pk).update(state="approved")
    requested = status_change("pending", proposed=False)
    StatusChange.objects.filter(pk=requested.pk).update(requested_by=admin_user)
    alerts.alerts_check()
    alerts.alerts_check()
    total = "25\u00a0990\u00a0₸"
    assert texts(telegram) == [
        f"🔔 Order №{proposed.order.code}: “accept” awaits approval (proposed automatically). Total {total}.",
        f"🔔 Order №{requested.order.code}: “accept” awaits approval (requested by admin). Total {total}.",
    ]


def test_it_sends_e_mail(db, settings, mailoutbox):
    settings.ALERT_EMAILS = ["owner@example.kz", "manager@example.kz"]
    settings.KASPI_COMPANY = "Test shop"
    sync_runs("failed", "failed", "failed", kind="sync_orders")
    alerts.alerts_check()
    sync_runs("ok", kind="sync_orders")
    alerts.alerts_check()
    assert [m.subject for m in mailoutbox] == [
        "[Test shop] ⚠️ Job “Kaspi orders imported”: failed 3 times in a row. Latest error: HTTP 503",
        "[Test shop] ✅ Job “Kaspi orders imported”: back to normal (the problem lasted 0\u00a0minutes).",
    ]
    assert mailoutbox[0].to == ["owner@example.kz", "manager@example.kz"]


def test_with_no_channel_it_only_records(db, mailoutbox):
    sync_runs("failed", "failed", "failed")
    result = alerts.alerts_check()
    alert = Alert.objects.get()
    assert (alert.key, alert.undelivered, alert.delivered) == ("job:sync_products", "", None)
    assert result.undelivered == [] and mailoutbox == []


def test_a_dead_telegram_is_logged_never_crashes_and_is_retried(telegram, sandbox, caplog):
    sandbox.state.telegram_down = True
    sync_runs("failed", "failed", "failed")
    result = alerts.alerts_check()
    alert = Alert.objects.get()
    assert [a.key for a in result.undelivered] == ["job:sync_products"]
    assert alert.undelivered == "telegram" and "HTTP 502" in alert.error
    assert "could not send by telegram" in caplog.text

    sandbox.state.telegram_down = False
    alerts.alerts_check()
    alerts.alerts_check()
    alert.refresh_from_db()
    assert len(telegram) == 1 and (alert.undelivered, alert.error) == ("", "")
    assert alert.delivered is not None
    assert BOT_TOKEN not in caplog.text


def test_the_bot_token_never_reaches_logs_or_the_admin(telegram, settings, caplog):
    settings.TELEGRAM_API_URL = "http://127.0.0.1:9"  # nothing listens: the error names the URL
    caplog.set_level(logging.DEBUG)
    sync_runs("failed", "failed", "failed")
    alerts.alerts_check()
    alert = Alert.objects.get()
    assert "connection failed" in alert.error
    assert BOT_TOKEN not in alert.error and BOT_TOKEN not in caplog.text


def test_a_channel_that_failed_is_retried_alone(telegram, settings, monkeypatch, mailoutbox):
    settings.ALERT_EMAILS = ["owner@example.kz"]

    def refuse(*args, **kwargs):
        raise smtplib.SMTPRecipientsRefused({"owner@example.kz": (550, b"no such user")})

    monkeypatch.setattr(alerts, "send_mail", refuse)
    sync_runs("failed", "failed", "failed")
    alerts.alerts_check()
    assert Alert.objects.get().undelivered == "email"
    monkeypatch.undo()
    alerts.alerts_check()
    assert len(telegram) == 1 and len(mailoutbox) == 1


def test_a_channel_that_missed_the_opening_is_spared_the_all_clear(telegram, sandbox):
    sandbox.state.telegram_down = True
    sync_runs("failed", "failed", "failed")
    alerts.alerts_check()
    sandbox.state.telegram_down = False
    sync_runs("ok")
    alerts.alerts_check()
    assert telegram == [] and Alert.objects.get().undelivered == ""


def test_the_command_and_the_task_report_what_changed(telegram, capsys):
    sync_runs("failed", "failed", "failed")
    call_command("check_alerts")
    out = capsys.readouterr().out
    assert "opened: job:sync_products: ⚠️ Job “Supplier catalogue, full sync”" in out
    assert "1 opened, 0 recovered, 1 open now" in out
    sync_runs("ok")
    assert run("check_alerts") == "done (1 updated)"  # one recovered; each check is a run of its job
    assert JobRun.objects.filter(kind="check_alerts", outcome="ok").count() == 2


def test_the_admin_lists_alerts_read_only(admin_client, db):
    sync_runs("failed", "failed", "failed")
    alerts.alerts_check()
    alert = Alert.objects.get()
    for query in ("", "?state=open", "?state=resolved", "?kind=job_failing"):
        assert admin_client.get(f"/admin/monitoring/alert/{query}").status_code == 200
    assert admin_client.get("/admin/monitoring/alert/add/").status_code == 403
    page = admin_client.get(f"/admin/monitoring/alert/{alert.pk}/change/")
    assert page.status_code == 200 and b'name="message"' not in page.content


def test_the_fake_telegram_answers_like_telegram(sandbox):
    url = f"{sandbox.telegram_url}/bot{BOT_TOKEN}/sendMessage"
    answer = requests.post(url, json={"chat_id": -100, "text": "привет"}, timeout=5)
    assert answer.json()["ok"] is True and answer.json()["result"]["text"] == "привет"
    assert requests.post(url, data={"chat_id": "-100", "text": " "}, timeout=5).json() == {
        "ok": False, "error_code": 400, "description": "Bad Request: message text is empty"
    }
    sandbox.state.telegram_down = True
    assert requests.post(url, data={"chat_id": "-100", "text": "x"}, timeout=5).status_code == 502
    assert sandbox.state.telegram_messages == [{"chat_id": "-100", "text": "привет"}]


def test_a_skipped_run_neither_breaks_nor_makes_a_failure_streak(db):
    JobRun.objects.create(kind="sync_orders", outcome="failed", error="HTTP 503")
    JobRun.objects.create(kind="sync_orders", outcome="skipped", error="orders-sync is already running")
    JobRun.objects.create(kind="sync_orders", outcome="failed", error="HTTP 503")
    [alert] = alerts.alerts_check().opened
    assert alert.key == "job:sync_orders" and "failed 2 times in a row" in alert.message


def test_an_approval_stays_open_however_long_it_waits_and_closes_quietly_when_decided(telegram):
    change = status_change("pending", hours_ago=48)  # no time limit closes what still waits

    alerts.alerts_check()
    alerts.alerts_check()
    alert = Alert.objects.get(key=f"approval:{change.pk}")
    assert alert.resolved is None and alert in alerts.open_problems()
    assert texts(telegram) == [f"🔔 Order №{change.order.code}: “accept” awaits approval (proposed automatically). "
                               "Total 25\u00a0990\u00a0₸."]

    StatusChange.objects.filter(pk=change.pk).update(state="rejected")
    result = alerts.alerts_check()

    alert.refresh_from_db()
    assert [a.key for a in result.recovered] == [alert.key] and alert.resolved is not None
    assert "decided" in alert.message and len(telegram) == 1  # whoever decided knows: no message
    alerts.alerts_check()
    assert len(telegram) == 1


def test_a_supplier_order_awaiting_approval_stays_open_until_approved(telegram):
    proposal = SupplierOrder.objects.create(expected_total=5000, created_at=timezone.now() - timedelta(days=3))

    alerts.alerts_check()
    alerts.alerts_check()
    assert alerts.open_problems().filter(key=f"supplier-approval:{proposal.pk}").exists()

    SupplierOrder.objects.filter(pk=proposal.pk).update(state="approved")
    alerts.alerts_check()
    assert not alerts.open_problems().exists() and len(telegram) == 1


def test_held_prices_are_one_alert_open_until_every_one_is_confirmed(telegram, make_product):
    first, second = make_product(proposed_price=9990), make_product(proposed_price=8990)

    alerts.alerts_check()
    assert texts(telegram) == ["🔔 Product prices: 2 prices held by the guard await confirmation."]
    Product.objects.filter(pk=first.pk).update(proposed_price=None)
    alerts.alerts_check()
    assert alerts.open_problems().filter(key="prices-held").exists() and len(telegram) == 1

    Product.objects.filter(pk=second.pk).update(proposed_price=None)
    alerts.alerts_check()
    assert not alerts.open_problems().exists() and len(telegram) == 1

    Product.objects.filter(pk=first.pk).update(proposed_price=7990)  # held again later: told again
    alerts.alerts_check()
    assert texts(telegram)[-1] == "🔔 Product prices: 1 price held by the guard awaits confirmation."


def test_a_proposal_decided_before_its_message_went_out_is_not_told_any_more(telegram, sandbox):
    sandbox.state.telegram_down = True
    change = status_change("pending")
    alerts.alerts_check()
    StatusChange.objects.filter(pk=change.pk).update(state="approved")
    sandbox.state.telegram_down = False

    alerts.alerts_check()

    assert telegram == [] and Alert.objects.get().undelivered == ""

