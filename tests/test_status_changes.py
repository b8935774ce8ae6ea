"""Status changes: approval rules, the three transitions end to end, sending exactly once."""

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from orders.changes import (
    StatusChangeRefused,
    order_statuses_push,
    status_change_approve,
    status_change_reject,
    status_change_request,
    status_change_send,
)
from orders.models import Order, StatusChange
from orders.sync import order_import_by_code


@pytest.fixture
def staff(db):
    user = User.objects.create_user("staff", password="pw-123456", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["approve_statuschange", "add_statuschange",
                                                                       "view_order", "view_statuschange"]))
    return User.objects.get(pk=user.pk)


@pytest.fixture
def clerk(db):
    user = User.objects.create_user("clerk", password="pw-123456", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["add_statuschange", "view_order"]))
    return User.objects.get(pk=user.pk)


@pytest.fixture
def new_order(db, sandbox):
    """A paid order at Kaspi, imported here."""
    kaspi = sandbox.state.add_order()
    return order_import_by_code(code=kaspi["attributes"]["code"]), kaspi


def send(change):
    return status_change_send(change_id=change.pk)


def posts(sandbox, code):
    return [p for p in sandbox.state.status_posts if p.code == code]


def test_it_accepts_an_order_after_approval(sandbox, new_order, staff):
    order, kaspi = new_order
    change = status_change_request(order=order, action="accept", user=staff)
    assert posts(sandbox, order.code) == []  # nothing leaves before approval
    status_change_approve(change=change, user=staff, queue=False)
    change = send(change)
    assert (change.state, change.approved_by) == ("done", staff)
    assert kaspi["attributes"]["status"] == "ACCEPTED_BY_MERCHANT"
    assert Order.objects.get(pk=order.pk).status == "ACCEPTED_BY_MERCHANT"
    assert [p.status for p in posts(sandbox, order.code)] == ["ACCEPTED_BY_MERCHANT"]


def approved(order, user, **fields):
    change = status_change_request(order=order, user=user, **fields)
    return send(status_change_approve(change=change, user=user, queue=False))


def test_it_completes_in_two_steps_with_the_buyers_code(sandbox, new_order, staff):
    order, kaspi = new_order
    approved(order, staff, action="accept")
    order.refresh_from_db()
    step_one = approved(order, staff, action="complete")
    assert step_one.state == "done" and "code" in step_one.message
    code = sandbox.state.security_codes[order.code]
    order.refresh_from_db()
    assert order.status == "ACCEPTED_BY_MERCHANT"
    step_two = approved(order, staff, action="complete", security_code=code)
    assert step_two.state == "done"
    assert kaspi["attributes"]["status"] == "COMPLETED"
    assert Order.objects.get(pk=order.pk).status == "COMPLETED"


def test_both_completion_steps_send_x_send_code_true(sandbox, new_order, staff):
    order, kaspi = new_order
    approved(order, staff, action="accept")
    order.refresh_from_db()
    approved(order, staff, action="complete")
    approved(order, staff, action="complete", security_code=sandbox.state.security_codes[order.code])
    completions = [r.headers for r in sandbox.state.kaspi_requests
                   if r.method == "POST" and (r.body or {}).get("data", {}).get("attributes", {}).get("status")
                   == "COMPLETED"]
    assert [h.get("X-Send-Code") for h in completions] == ["true", "true"]
    assert [h.get("X-Security-Code") for h in completions] == ["", sandbox.state.security_codes[order.code]]
    assert kaspi["attributes"]["status"] == "COMPLETED"


def test_a_200_answer_with_errors_ends_as_a_failed_change_with_kaspis_message(sandbox, new_order, staff):
    order, kaspi = new_order
    sandbox.state.errors_with_200_next = 1
    change = approved(order, staff, action="accept")
    assert change.state == "failed"
    assert "Order status change is temporarily unavailable" in change.message
    assert Order.objects.get(pk=order.pk).status == "APPROVED_BY_BANK" == kaspi["attributes"]["status"]


def test_a_200_answer_that_does_not_show_the_change_is_read_back(sandbox, new_order, staff):
    order, kaspi = new_order
    sandbox.state.unapplied_200_next = 1
    change = approved(order, staff, action="accept")
    assert change.state == "failed" and "without applying it" in change.message
    reads = [r for r in sandbox.state.kaspi_requests if r.params.get("filter[orders][code]") == order.code]
    assert len(reads) >= 2  # the import, then the read-back
    assert Order.objects.get(pk=order.pk).status == "APPROVED_BY_BANK"


def test_a_wrong_code_fails_with_kaspis_message(sandbox, new_order, staff):
    order, kaspi = new_order
    approved(order, staff, action="accept")
    order.refresh_from_db()
    approved(order, staff, action="complete")
    wrong = approved(order, staff, action="complete", security_code="0000" if
                     sandbox.state.security_codes[order.code] != "0000" else "1111")
    assert wrong.state == "failed"
    assert "Security code is not valid" in wrong.message
    assert kaspi["attributes"]["status"] == "ACCEPTED_BY_MERCHANT"


def test_it_cancels_with_a_reason_and_comment(sandbox, new_order, staff):
    order, kaspi = new_order
    change = approved(order, staff, action="cancel", reason="BUYER_NOT_REACHABLE", comment="не отвечает")
    assert change.state == "done"
    assert kaspi["attributes"]["status"] == "CANCELLED"
    sent = posts(sandbox, order.code)[0]
    assert sent.attributes["cancellationReason"] == "BUYER_NOT_REACHABLE"
    assert sent.attributes["cancellationComment"] == "не отвечает"


def test_kaspis_refusal_ends_in_a_failed_change_with_its_message(sandbox, new_order, staff):
    order, kaspi = new_order
    kaspi["attributes"]["status"] = "CANCELLED"  # cancelled at Kaspi, not yet seen here
    change = approved(order, staff, action="accept")
    assert change.state == "failed"
    assert change.message and "HTTP 400" in change.message
    assert Order.objects.get(pk=order.pk).status == "APPROVED_BY_BANK"


@pytest.mark.parametrize("status, action, fields", [
    ("COMPLETED", "accept", {}),
    ("CANCELLED", "complete", {}),
    ("APPROVED_BY_BANK", "complete", {}),
    ("COMPLETED", "cancel", {"reason": "BUYER_NOT_REACHABLE"}),
    ("APPROVED_BY_BANK", "cancel", {}),
    ("APPROVED_BY_BANK", "cancel", {"reason": "SOMETHING"}),
    ("APPROVED_BY_BANK", "cancel", {"reason": "BUYER_NOT_REACHABLE", "comment": "x" * 1001}),
    ("ACCEPTED_BY_MERCHANT", "complete", {"security_code": "12ab"}),
])
def test_it_refuses_what_kaspi_would_refuse_before_sending(sandbox, new_order, staff, status, action, fields):
    order, _ = new_order
    order.status = status
    with pytest.raises(StatusChangeRefused):
        status_change_request(order=order, action=action, user=staff, **fields)
    assert sandbox.state.status_posts == []


def test_only_users_with_the_permission_approve(sandbox, new_order, clerk):
    order, _ = new_order
    change = status_change_request(order=order, action="accept", user=clerk)
    with pytest.raises(StatusChangeRefused, match="may not approve"):
        status_change_approve(change=change, user=clerk, queue=False)
    assert StatusChange.objects.get(pk=change.pk).state == "pending"


def test_the_four_eyes_rule_needs_a_second_person(sandbox, new_order, staff, clerk, settings):
    settings.ORDERS_FOUR_EYES = True
    order, _ = new_order
    change = status_change_request(order=order, action="accept", user=staff)
    with pytest.raises(StatusChangeRefused, match="four-eyes"):
        status_change_approve(change=change, user=staff, queue=False)
    status_change_reject(change=change, user=staff)
    other = status_change_request(order=order, action="accept", user=clerk)
    assert status_change_approve(change=other, user=staff, queue=False).state == "approved"


def test_a_hand_request_supersedes_a_different_proposal(sandbox, new_order, staff):
    order, _ = new_order
    proposal = status_change_request(order=order, action="cancel", user=None, proposed=True,
                                     reason="MERCHANT_OUT_OF_STOCK")
    mine = status_change_request(order=order, action="accept", user=staff)
    assert StatusChange.objects.get(pk=proposal.pk).state == "superseded"
    assert mine.state == "pending"


def test_a_hand_request_matching_the_proposal_reuses_it(sandbox, new_order, staff):
    order, _ = new_order
    proposal = status_change_request(order=order, action="accept", user=None, proposed=True)
    assert status_change_request(order=order, action="accept", user=staff).pk == proposal.pk


def test_rejecting_sends_nothing(sandbox, new_order, staff):
    order, _ = new_order
    change = status_change_request(order=order, action="accept", user=staff)
    status_change_reject(change=change, user=staff)
    assert StatusChange.objects.get(pk=change.pk).state == "rejected"
    assert order_statuses_push() == {state: 0 for state in StatusChange.State.values}
    assert sandbox.state.status_posts == []


def test_a_double_send_sends_once(sandbox, new_order, staff):
    order, _ = new_order
    change = status_change_request(order=order, action="accept", user=staff)
    status_change_approve(change=change, user=staff, queue=False)
    send(change)
    send(change)
    order_statuses_push()
    assert len(posts(sandbox, order.code)) == 1
    with pytest.raises(StatusChangeRefused):
        status_change_approve(change=change, user=staff, queue=False)


@pytest.mark.parametrize("kind", ["502", "slow"])
def test_an_applied_change_whose_answer_was_lost_is_read_back_not_resent(sandbox, new_order, staff, kind):
    order, kaspi = new_order
    sandbox.state.apply_then_fail_next = 1
    sandbox.state.apply_then_fail_kind = kind
    change = approved(order, staff, action="accept")
    assert change.state == "uncertain"
    assert kaspi["attributes"]["status"] == "ACCEPTED_BY_MERCHANT"
    order_statuses_push()
    change.refresh_from_db()
    assert change.state == "done" and "read back" in change.message
    assert len(posts(sandbox, order.code)) == 1


def test_a_change_that_was_not_applied_is_sent_again_after_the_read_back(sandbox, new_order, staff, settings):
    order, kaspi = new_order
    sandbox.state.kaspi_down = True
    settings.HTTP_RETRIES = 0
    change = approved(order, staff, action="accept")
    assert change.state == "uncertain"
    sandbox.state.kaspi_down = False
    order_statuses_push()
    change.refresh_from_db()
    assert change.state == "done" and change.attempts == 2
    assert len(posts(sandbox, order.code)) == 1


def test_it_gives_up_after_the_configured_attempts(sandbox, new_order, staff, settings):
    order, _ = new_order
    settings.STATUS_MAX_ATTEMPTS = 2
    settings.HTTP_RETRIES = 0
    sandbox.state.kaspi_down = True
    change = approved(order, staff, action="accept")
    order_statuses_push()
    change.refresh_from_db()
    assert change.state == "failed" and "gave up after 2 attempts" in change.message


def under_faults(sandbox, staff, orders, action, *, rate, sweeps):
    """Request, approve and send `action` for each order while `rate` of Kaspi's answers fail, sweep
    `sweeps` times, then once more with Kaspi healthy again: what a shop lives through."""
    sandbox.state.fail_rate = rate
    sandbox.state.fault_kinds = ("500", "502", "bad_json", "slow")
    for order in orders:
        order.refresh_from_db()
        change = status_change_request(order=order, action=action, user=staff)
        try:
            send(status_change_approve(change=change, user=staff, queue=False))
        except Exception:
            pass  # a failed send stays in the queue for the sweeps
    for _ in range(sweeps):
        try:
            order_statuses_push()
        except Exception:
            continue
    sandbox.state.fail_rate = 0
    order_statuses_push()


def test_no_change_is_sent_twice_or_lost_with_twenty_percent_failures(db, sandbox, staff, settings):
    settings.HTTP_RETRIES = 1
    orders = [order_import_by_code(code=sandbox.state.add_order()["attributes"]["code"]) for _ in range(15)]
    under_faults(sandbox, staff, orders, "accept", rate=0.2, sweeps=10)
    assert set(StatusChange.objects.values_list("state", flat=True)) == {"done"}
    for order in orders:
        applied = [p for p in posts(sandbox, order.code) if p.http_status == 200]
        assert len(applied) == 1, order.code


def test_no_buyer_gets_a_second_code_under_thirty_percent_faults(db, sandbox, staff, settings):
    """Each code voids the one before: a code request whose answer was lost is never sent again."""
    settings.HTTP_RETRIES = 0
    codes = [sandbox.state.add_order()["attributes"]["code"] for _ in range(30)]
    orders = [order_import_by_code(code=code) for code in codes]
    for order in orders:
        send(status_change_approve(change=status_change_request(order=order, action="accept", user=staff),
                                   user=staff, queue=False))
    under_faults(sandbox, staff, orders, "complete", rate=0.3, sweeps=5)

    requests = StatusChange.objects.filter(action="complete")
    assert set(requests.values_list("state", flat=True)) <= {"done", "failed"}  # none left hanging
    assert max(sandbox.state.codes_sent[code] for code in codes) == 1
    assert sum(sandbox.state.codes_sent[code] for code in codes) >= 15  # most got theirs at the first try
    lost = requests.filter(message__contains="probably been sent a code")
    assert lost.exists()  # the faults did hit some: those were told, not re-sent


def test_order_status_command_accepts_completes_and_cancels(db, sandbox, staff):
    first = sandbox.state.add_order()["attributes"]["code"]
    call_command("order_status", first, "accept", "--approved-by", "staff")
    call_command("order_status", first, "complete", "--approved-by", "staff")
    code = sandbox.state.security_codes[first]
    call_command("order_status", first, "complete", "--security-code", code, "--approved-by", "staff")
    assert Order.objects.get(code=first).status == "COMPLETED"
    second = sandbox.state.add_order()["attributes"]["code"]
    call_command("order_status", second, "cancel", "--reason", "BUYER_CANCELLATION_BY_MERCHANT",
                 "--approved-by", "staff")
    assert Order.objects.get(code=second).status == "CANCELLED"


def test_order_status_command_fails_loudly_on_refusals(sandbox, staff):
    code = sandbox.state.add_order()["attributes"]["code"]
    with pytest.raises(CommandError, match="Kaspi allows complete only from"):
        call_command("order_status", code, "complete", "--security-code", "1234", "--approved-by", "staff")
    call_command("order_status", code, "accept", "--approved-by", "staff")
    call_command("order_status", code, "complete", "--approved-by", "staff")
    with pytest.raises(CommandError, match="Security code is not valid"):
        call_command("order_status", code, "complete", "--security-code", "99999", "--approved-by", "staff")
    with pytest.raises(CommandError, match="no active user"):
        call_command("order_status", code, "accept", "--approved-by", "nobody")
    with pytest.raises(CommandError, match="Kaspi has no order"):
        call_command("order_status", "999999999", "accept", "--approved-by", "staff")


def test_order_status_command_respects_permissions(sandbox, clerk):
    code = sandbox.state.add_order()["attributes"]["code"]
    with pytest.raises(CommandError, match="may not approve"):
        call_command("order_status", code, "accept", "--approved-by", "clerk")
    assert sandbox.state.status_posts == []


def test_rejecting_needs_the_approve_permission(sandbox, new_order, clerk):
    order, _ = new_order
    change = status_change_request(order=order, action="accept", user=None, proposed=True)
    with pytest.raises(StatusChangeRefused, match="may not reject"):
        status_change_reject(change=change, user=clerk)
    assert StatusChange.objects.get(pk=change.pk).state == "pending"


def test_asking_by_hand_for_the_proposal_approves_it(sandbox, new_order, staff, django_capture_on_commit_callbacks):
    order, kaspi = new_order
    proposal = status_change_request(order=order, action="accept", user=None, proposed=True)
    with django_capture_on_commit_callbacks(execute=True):
        mine = status_change_request(order=order, action="accept", user=staff)
    assert mine.pk == proposal.pk
    proposal.refresh_from_db()
    assert (proposal.state, proposal.approved_by) == ("done", staff)
    assert kaspi["attributes"]["status"] == "ACCEPTED_BY_MERCHANT"


def test_asking_twice_by_hand_does_not_approve_ones_own_request(sandbox, new_order, staff,
                                                               django_capture_on_commit_callbacks):
    """A double click sends the same request twice: the second must not stand in for the approval."""
    order, kaspi = new_order
    with django_capture_on_commit_callbacks(execute=True):
        first = status_change_request(order=order, action="accept", user=staff)
        again = status_change_request(order=order, action="accept", user=staff)
    assert again.pk == first.pk
    assert StatusChange.objects.get(pk=first.pk).state == "pending"
    assert posts(sandbox, order.code) == []


def test_asking_by_hand_without_the_permission_leaves_the_proposal_pending(sandbox, new_order, clerk):
    order, _ = new_order
    proposal = status_change_request(order=order, action="accept", user=None, proposed=True)
    assert status_change_request(order=order, action="accept", user=clerk).state == "pending"
    assert StatusChange.objects.get(pk=proposal.pk).state == "pending"


@pytest.mark.parametrize("action, fields", [
    ("accept", {"reason": "BUYER_NOT_REACHABLE"}),
    ("accept", {"comment": "why"}),
    ("accept", {"security_code": "1234"}),
])
def test_extra_fields_go_only_with_their_action(sandbox, new_order, staff, action, fields):
    order, _ = new_order
    with pytest.raises(StatusChangeRefused):
        status_change_request(order=order, action=action, user=staff, **fields)


def test_an_accept_carries_no_cancellation_fields(sandbox, new_order, staff):
    order, _ = new_order
    approved(order, staff, action="accept")
    assert set(posts(sandbox, order.code)[0].attributes) == {"code", "status"}


def test_without_a_token_nothing_is_claimed_or_failed(sandbox, new_order, staff, settings):
    order, _ = new_order
    change = status_change_approve(change=status_change_request(order=order, action="accept", user=staff),
                                   user=staff, queue=False)
    settings.KASPI_TOKEN = ""
    with pytest.raises(CommandError, match="KASPI_TOKEN is not set"):
        call_command("push_order_statuses")
    assert StatusChange.objects.get(pk=change.pk).state == "approved"


def test_the_last_attempt_reads_back_before_giving_up(sandbox, new_order, staff, settings):
    order, kaspi = new_order
    settings.STATUS_MAX_ATTEMPTS = 1
    sandbox.state.apply_then_fail_next = 1
    change = approved(order, staff, action="accept")
    assert kaspi["attributes"]["status"] == "ACCEPTED_BY_MERCHANT"
    assert change.state == "done" and "read back" in change.message


def test_proposals_serve_stock_first_come_first_served(sandbox, staff):
    from catalog.models import PricingRule, Product, Store
    from catalog.services import products_sync
    from orders.sync import orders_sync

    Store.objects.create(store_id="PP1")
    PricingRule.objects.create(name="default", markup_percent=20)
    products_sync()
    product = Product.objects.filter(purchase_price__gt=1, price__gt=0, supplier_stock__gt=0).first()
    Product.objects.filter(pk=product.pk).update(manual_stock=1)
    first = sandbox.state.add_order(entries=[(product.sku, 1)])
    second = sandbox.state.add_order(entries=[(product.sku, 1)])
    orders_sync(days=1)
    assert StatusChange.objects.get(order__code=first["attributes"]["code"]).action == "accept"
    assert StatusChange.objects.get(order__code=second["attributes"]["code"]).action == "cancel"


def test_the_push_command_and_the_task_share_one_lock(db, sandbox):
    from jobs.locks import job_lock
    from jobs.models import JobRun
    from jobs.tasks import run

    with job_lock("status-push"):
        with pytest.raises(CommandError, match="another status push is running"):
            call_command("push_order_statuses")
        assert run("push_order_statuses").startswith("skipped:")
    assert JobRun.objects.filter(kind="push_order_statuses", outcome="skipped").count() == 2


@pytest.mark.parametrize("applied", [True, False])
def test_a_change_whose_sender_died_is_read_back_and_settled_by_the_next_push(sandbox, new_order, staff, applied):
    """A worker killed while "sending": on this machine the next push sees at once that its process is
    gone, reads the order back, and sends only what Kaspi does not show."""
    import socket

    order, kaspi = new_order
    change = status_change_approve(change=status_change_request(order=order, action="accept", user=staff),
                                   user=staff, queue=False)
    dead = f"{socket.gethostname()}:999999:1"  # no such process
    StatusChange.objects.filter(pk=change.pk).update(state="sending", attempts=1, claimed_by=dead,
                                                     sent_at=timezone.now())
    if applied:  # the dead worker's request had reached Kaspi
        kaspi["attributes"]["status"] = "ACCEPTED_BY_MERCHANT"

    results = order_statuses_push()

    assert results["done"] == 1
    assert StatusChange.objects.get(pk=change.pk).state == "done"
    assert len([p for p in posts(sandbox, order.code) if p.http_status == 200]) == (0 if applied else 1)


def test_a_sender_at_work_is_left_alone(sandbox, new_order, staff):
    from jobs.locks import holder_id

    order, _kaspi = new_order
    change = status_change_approve(change=status_change_request(order=order, action="accept", user=staff),
                                   user=staff, queue=False)
    StatusChange.objects.filter(pk=change.pk).update(state="sending", attempts=1, claimed_by=holder_id(),
                                                     sent_at=timezone.now())
    order_statuses_push()
    assert StatusChange.objects.get(pk=change.pk).state == "sending" and not posts(sandbox, order.code)
