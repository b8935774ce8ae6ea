"""The security log: logins, failed logins, lockouts, refusals, wrong feed tokens and approvals, each a
row on the admin's security log page (and a line in the log files)."""

from django.contrib.auth.models import Permission, User
from django.urls import reverse

from monitoring.models import SecurityEvent
from orders.changes import status_change_approve, status_change_request


def kinds():
    return list(SecurityEvent.objects.order_by("at", "pk").values_list("kind", "user", "address"))


def test_logins_failures_and_a_lockout_are_logged_with_who_and_from_where(client, db, settings):
    settings.AXES_ENABLED, settings.AXES_FAILURE_LIMIT = True, 2
    User.objects.create_superuser("owner", "owner@example.kz", "right-one")

    client.post("/admin/login/", {"username": "owner", "password": "right-one"}, REMOTE_ADDR="10.1.1.1")
    client.logout()
    for _ in range(2):
        client.post("/admin/login/", {"username": "owner", "password": "wrong"}, REMOTE_ADDR="10.6.6.6")

    logged = kinds()
    assert logged[0] == ("login", "owner", "10.1.1.1")
    assert ("login_failed", "owner", "10.6.6.6") in logged and ("lockout", "owner", "10.6.6.6") in logged
    assert "wrong" not in " ".join(SecurityEvent.objects.values_list("message", flat=True))  # no password


def test_a_refusal_is_logged(client, db):
    user = User.objects.create_user("clerk", password="x", is_staff=True)
    client.force_login(user)
    assert client.get(reverse("admin:catalog_pricingrule_add"), REMOTE_ADDR="10.2.2.2").status_code == 403
    assert kinds()[-1] == ("refused", "clerk", "10.2.2.2")


def test_a_burst_of_wrong_feed_tokens_is_logged_once_a_minute_per_address(client, db):
    for _ in range(100):
        client.get(reverse("feeds:kaspi", args=["guessed-token-0123456789"]), REMOTE_ADDR="10.3.3.3")
    client.get(reverse("feeds:kaspi", args=["guessed-token-0123456789"]), REMOTE_ADDR="10.4.4.4")
    assert kinds() == [("feed_token", "", "10.3.3.3"), ("feed_token", "", "10.4.4.4")]


def test_every_approval_is_logged(db, sandbox):
    from orders.sync import order_import_by_code

    boss = User.objects.create_user("boss", password="x", is_staff=True)
    boss.user_permissions.add(*Permission.objects.filter(codename__in=["approve_statuschange", "add_statuschange"]))
    boss = User.objects.get(pk=boss.pk)
    order = order_import_by_code(code=sandbox.state.add_order()["attributes"]["code"])
    status_change_approve(change=status_change_request(order=order, action="accept", user=boss), user=boss,
                          queue=False)
    event = SecurityEvent.objects.get(kind="approval")
    assert event.user == "boss" and order.code in event.message


def test_the_security_log_page_is_read_only(admin_client, db):
    assert admin_client.get(reverse("admin:monitoring_securityevent_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:monitoring_securityevent_add")).status_code == 403
