"""Logins: after LOGIN_FAILURE_LIMIT failures a user, or an address, is locked out, even with the right
password, until an admin unlocks it."""

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.urls import reverse

from common.net import client_ip

LOGIN = "/admin/login/"


@pytest.fixture
def locking(settings, db):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 5
    return User.objects.create_superuser("owner", "owner@example.kz", "the-right-password")


def log_in(client, password, username="owner", address="10.0.0.1"):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=address)


def logged_in(client):
    return client.get(reverse("admin:index")).status_code == 200


def test_five_failures_lock_the_user_and_the_right_password_fails_until_unlocked(client, locking):
    for _ in range(4):
        assert log_in(client, "guess").status_code == 200  # the form again, with its error
    assert log_in(client, "guess").status_code == 429  # the fifth failure locks
    assert log_in(client, "the-right-password", address="10.9.9.9").status_code == 429  # from anywhere
    assert not logged_in(client)

    AccessAttempt.objects.filter(username="owner").delete()  # what an admin's unlock does
    assert log_in(client, "the-right-password").status_code == 302
    assert logged_in(client)


def test_an_address_trying_many_users_is_locked_out(client, locking):
    for n in range(5):
        log_in(client, "guess", username=f"user{n}", address="10.6.6.6")
    assert log_in(client, "the-right-password", address="10.6.6.6").status_code == 429
    assert log_in(client, "the-right-password", address="10.0.0.2").status_code == 302  # others still can


def test_four_failures_then_the_right_password_logs_in(client, locking):
    for _ in range(4):
        log_in(client, "guess")
    assert log_in(client, "the-right-password").status_code == 302


def test_behind_a_proxy_the_address_is_the_one_the_proxy_saw(rf, settings):
    request = rf.get("/", REMOTE_ADDR="10.0.0.254", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    assert client_ip(request) == "10.0.0.254"
    settings.PROXY_COUNT = 1
    assert client_ip(request) == "203.0.113.7"  # what the client wrote further left is not trusted
