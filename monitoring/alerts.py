"""Alerts: find problems in the database and tell people once, by Telegram and/or e-mail.

`alerts_check()` (the job `check_alerts`, every ALERT_CHECK_MINUTES; also `manage.py check_alerts`)
compares the problems it finds now with the `Alert` rows:

- a new problem opens its row and sends one message; nothing more while it stays open;
- a problem that has gone closes its row and sends one "back to normal" message;
- a notice (a status change Kaspi refused, a supplier order held, cancelled or shorted) is sent once
  and closed;
- a proposal awaiting a person (a status change or a supplier order awaiting approval, prices the
  guard held) is sent once and stays open, however long it waits, until it is decided; then its row
  closes without a message (whoever decided knows);
- a message a channel did not take (Telegram down, SMTP refused) is sent again on the next check.
"""

import logging
import smtplib
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from catalog.models import Product
from common.format import tenge
from common.http import ApiError, call, describe_status
from common.log import mask_secrets
from jobs import registry
from jobs.health import FAILING, job_health
from jobs.runs import locked_run
from orders.models import StatusChange, customer_data
from purchasing.models import SupplierOrder, SupplierOrderEvent

from .models import Alert

log = logging.getLogger(__name__)

# Notices about older changes are not sent: the first check after installing must not replay history.
NOTICE_WINDOW = timedelta(days=1)
TELEGRAM_MAX_TEXT = 4096
# An alert check must not hang on a dead Telegram for the whole HTTP_TIMEOUT, message after message.
TELEGRAM_TIMEOUT = 10


@dataclass
class Problem:
    key: str
    kind: str
    subject: str  # what is affected, e.g. "Job “Kaspi orders”"; starts every message about it
    details: str


@dataclass
class CheckResult:
    opened: list = field(default_factory=list)  # Alert rows
    recovered: list = field(default_factory=list)
    undelivered: list = field(default_factory=list)


def open_problems():
    """The problems that are still open, newest first."""
    return Alert.objects.filter(resolved__isnull=True).order_by("-opened")


def alerts_check():
    """Open, close and (re)send alerts for the problems found now. Raises `JobBusy` if a check is running."""
    with locked_run("check_alerts") as run:
        now = timezone.now()
        problems = {problem.key: problem for problem in _problems(now)}
        known = Alert.objects.in_bulk(list(problems), field_name="key")
        result = CheckResult()
        for key, problem in problems.items():
            alert = known.get(key)
            if alert is None or (alert.resolved and problem.kind not in Alert.NOTICES):
                result.opened.append(_open(alert or Alert(key=key), problem, now))
        for alert in open_problems().exclude(key__in=list(problems)):
            result.recovered.append(_decided(alert, now) if alert.kind in Alert.DECISIONS else _recover(alert, now))
        for alert in Alert.objects.exclude(undelivered="").order_by("opened"):
            if not _deliver(alert, now):
                result.undelivered.append(alert)
        run.created, run.updated, run.skipped = len(result.opened), len(result.recovered), len(result.undelivered)
        run.lines = [f"{alert.key}: {alert.message[:200]}" for alert in result.opened + result.recovered]
    return result


# --- what counts as a problem -------------------------------------------------------------------

def _problems(now):
    yield from _failing_jobs(now)
    yield from _refused_status_changes(now)
    yield from _approvals_needed()
    yield from _supplier_orders(now)
    yield from _prices_held()


def _failing_jobs(now):
    """Every job of the registry its health calls failing: the same verdict as the dashboard's red."""
    for job in registry.JOBS.values():
        health = job_health(job, now)
        if health.state == FAILING:
            yield Problem(f"job:{job.name}", Alert.Kind.JOB_FAILING,
                          _("Job “%(job)s”") % {"job": capfirst(job.title)}, failure_text(health, now))


def failure_text(health, now):
    """Why a job is failing, in a sentence, with what to check."""
    if health.streak:
        text = ngettext("failed %(count)d time in a row. Latest error: %(error)s",
                        "failed %(count)d times in a row. Latest error: %(error)s", health.streak) % {
            "count": health.streak, "error": health.last_error[:500] or "—"}
    elif health.last_ok:
        text = _("no success for %(duration)s (last: %(when)s).") % {
            "duration": timesince(health.last_ok, now), "when": _at(health.last_ok)}
    else:
        text = _("no success in the %(duration)s since %(when)s.") % {
            "duration": timesince(health.since, now), "when": _at(health.since)}
    return f"{text}\n{health.job.hint}" if health.job.hint else text


def _refused_status_changes(now):
    changes = StatusChange.objects.filter(
        state=StatusChange.State.FAILED, finished_at__gte=now - NOTICE_WINDOW
    ).select_related("order").defer(*customer_data("order"))
    for change in changes:
        yield Problem(
            f"status-failed:{change.pk}",
            Alert.Kind.STATUS_FAILED,
            _("Order №%(code)s") % {"code": change.order.code},
            _("Kaspi refused “%(action)s”: %(answer)s")
            % {"action": change.get_action_display(), "answer": change.message[:500] or "—"},
        )


def _approvals_needed():
    changes = (StatusChange.objects.filter(state=StatusChange.State.PENDING)
               .select_related("order", "requested_by").defer(*customer_data("order")))
    for change in changes:
        who = (_("proposed automatically") if change.proposed
               else _("requested by %(user)s") % {"user": change.requested_by or "—"})
        yield Problem(
            f"approval:{change.pk}",
            Alert.Kind.APPROVAL,
            _("Order №%(code)s") % {"code": change.order.code},
            _("“%(action)s” awaits approval (%(who)s). Total %(total)s.")
            % {"action": change.get_action_display(), "who": who, "total": tenge(change.order.total_price)},
        )


def _supplier_orders(now):
    """What a supplier order's history says people must hear (held, cancelled or shorted by Al-Style),
    and proposals awaiting approval."""
    events = SupplierOrderEvent.objects.filter(notify=True, at__gte=now - NOTICE_WINDOW)
    for event in events:
        yield Problem(f"supplier-order:{event.pk}", Alert.Kind.SUPPLIER_ORDER,
                      _("Supplier order %(number)s") % {"number": event.supplier_order_id}, event.text[:1000])
    proposals = SupplierOrder.objects.filter(state=SupplierOrder.State.PROPOSED)
    for proposal in proposals:
        yield Problem(f"supplier-approval:{proposal.pk}", Alert.Kind.APPROVAL,
                      _("Supplier order %(number)s") % {"number": proposal.pk},
                      _("awaits approval. Expected total %(total)s.") % {"total": tenge(proposal.expected_total)})


def _prices_held():
    """One problem for all the prices the guard holds: open while any awaits confirmation."""
    count = Product.objects.filter(proposed_price__isnull=False).count()
    if count:
        yield Problem("prices-held", Alert.Kind.APPROVAL, _("Product prices"),
                      ngettext("%(count)d price held by the guard awaits confirmation.",
                               "%(count)d prices held by the guard await confirmation.", count) % {"count": count})


def _at(moment):
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


# --- opening, closing, telling ------------------------------------------------------------------

def _open(alert, problem, now):
    notice = problem.kind in Alert.NOTICES
    told = notice or problem.kind in Alert.DECISIONS  # news for a person, not a fault
    alert.kind, alert.subject = problem.kind, problem.subject[:255]
    alert.opened, alert.resolved = now, now if notice else None
    alert.message = f"{'🔔' if told else '⚠️'} {problem.subject}: {problem.details}"
    alert.undelivered, alert.error = " ".join(_channels()), ""
    alert.save()
    log.log(logging.INFO if told else logging.WARNING, "alert %s: %s", alert.key, alert.message)
    return alert


def _decided(alert, now):
    """A proposal no longer waits: its row closes, and a message nobody has had yet is not sent any more."""
    alert.message = f"✅ {alert.subject}: " + _("decided (it waited %(duration)s).") % {
        "duration": timesince(alert.opened, now)}
    alert.resolved, alert.undelivered, alert.error = now, "", ""
    alert.save()
    log.info("alert %s: %s", alert.key, alert.message)
    return alert


def _recover(alert, now):
    # A channel that never got the opening message is spared the all-clear too.
    missed = alert.undelivered.split()
    alert.undelivered = " ".join(name for name in _channels() if name not in missed)
    alert.message = f"✅ {alert.subject}: " + _("back to normal (the problem lasted %(duration)s).") % {
        "duration": timesince(alert.opened, now)
    }
    alert.resolved, alert.error = now, ""
    alert.save()
    log.info("alert %s: %s", alert.key, alert.message)
    return alert


def _deliver(alert, now):
    """Send the alert's message on each channel still owed it; True when none is left."""
    configured = _channels()
    failed, errors = [], []
    for name in alert.undelivered.split():
        if name not in configured:
            continue  # switched off since: nobody left to tell
        try:
            SENDERS[name](alert)
        except (ApiError, smtplib.SMTPException, OSError) as exc:
            error = mask_secrets(str(exc))
            log.warning("alert %s: could not send by %s: %s", alert.key, name, error)
            failed.append(name)
            errors.append(f"{name}: {error}")
        else:
            alert.delivered = now
    alert.undelivered, alert.error = " ".join(failed), "\n".join(errors)
    alert.save(update_fields=["undelivered", "error", "delivered"])
    return not failed


def _channels():
    """The channels configured now, in the order they are tried."""
    configured = {
        "telegram": settings.TELEGRAM_BOT_TOKEN and settings.TELEGRAM_CHAT_ID,
        "email": settings.ALERT_EMAILS,
    }
    return [name for name, on in configured.items() if on]


def _send_telegram(alert):
    token = settings.TELEGRAM_BOT_TOKEN
    call(
        "POST",
        f"{settings.TELEGRAM_API_URL}/bot{token}/sendMessage",
        data={"chat_id": settings.TELEGRAM_CHAT_ID, "text": alert.message[:TELEGRAM_MAX_TEXT]},
        describe=_telegram_error,
        secrets=[token],
        retries=1,
        timeout=min(settings.HTTP_TIMEOUT, TELEGRAM_TIMEOUT),
    )


def _telegram_error(response):
    """Telegram says what is wrong in `description`, e.g. "Bad Request: chat not found"."""
    exc = describe_status(response)
    try:
        description = response.json().get("description")
    except (ValueError, AttributeError):
        description = None
    if isinstance(description, str):
        exc.args = (f"{exc}: {description[:300]}",)
    return exc


def _send_email(alert):
    subject = f"[{settings.KASPI_COMPANY or 'kaspiconnect'}] {alert.message.splitlines()[0][:150]}"
    send_mail(subject, alert.message, settings.DEFAULT_FROM_EMAIL, settings.ALERT_EMAILS)


SENDERS = {"telegram": _send_telegram, "email": _send_email}
