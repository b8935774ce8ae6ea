import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from catalog.models import Product
from feeds.models import FeedFetch, FeedRun
from feeds.services import feed_build

CHANGELIST = reverse("admin:feeds_feedrun_changelist")


@pytest.fixture
def manager(db, client):
    """Staff who may see feed runs, but not override the guard."""
    user = User.objects.create_user("manager", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_feedrun"))
    client.force_login(user)
    return client


def held_catalogue(make_product):
    for i in range(3):
        make_product(sku=f"S{i}")
    feed_build()
    Product.objects.update(supplier_stock=0)
    assert feed_build().outcome == FeedRun.Outcome.HELD


def test_it_shows_runs_and_the_public_feed_url(admin_client, store, make_product):
    make_product()
    run = feed_build()

    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    assert "http://testserver/feeds/test-feed-token-0123456789/kaspi.xml" in response.content.decode()
    assert admin_client.get(reverse("admin:feeds_feedrun_change", args=[run.pk])).status_code == 200
    assert admin_client.get(CHANGELIST, {"outcome": "published", "valid__exact": "1"}).status_code == 200


def test_it_warns_when_the_feed_has_no_token(admin_client, settings):
    settings.FEED_TOKEN = ""

    assert "FEED_TOKEN is not set" in admin_client.get(CHANGELIST).content.decode()


def test_it_shows_fetches(admin_client, db):
    FeedFetch.objects.create(client_ip="10.0.0.1", user_agent="Kaspi", status=200, bytes=10)

    response = admin_client.get(reverse("admin:feeds_feedfetch_changelist"), {"status": "200"})

    assert response.status_code == 200 and "10.0.0.1" in response.content.decode()
    assert "Last fetched" in admin_client.get(CHANGELIST).content.decode()


def test_it_keeps_the_logs_read_only(admin_client, manager, db):
    assert admin_client.get(reverse("admin:feeds_feedrun_add")).status_code == 403
    assert admin_client.get(reverse("admin:feeds_feedfetch_add")).status_code == 403
    run = FeedRun.objects.create(outcome=FeedRun.Outcome.FAILED)
    assert manager.post(reverse("admin:feeds_feedrun_delete", args=[run.pk]), {"post": "yes"}).status_code == 403
    assert admin_client.post(reverse("admin:feeds_feedrun_delete", args=[run.pk]), {"post": "yes"}).status_code == 403
    assert FeedRun.objects.filter(pk=run.pk).exists()  # nobody deletes a run, superusers included


def test_it_builds_and_publishes_with_nothing_selected(admin_client, admin_user, store, make_product):
    make_product()

    response = admin_client.post(CHANGELIST, {"action": "build_now", "index": 0}, follow=True)

    run = FeedRun.objects.get()
    assert (run.outcome, run.user) == (FeedRun.Outcome.PUBLISHED, admin_user)
    assert "Feed published: 1 offer, 1 available." in [str(m) for m in response.context["messages"]]


def test_it_reports_a_held_build_as_an_error(admin_client, store, make_product):
    held_catalogue(make_product)

    response = admin_client.post(CHANGELIST, {"action": "build_now", "index": 0}, follow=True)

    [message] = response.context["messages"]
    assert message.level_tag == "error" and "from 3 to 0" in message.message


def test_it_publishes_anyway_on_override(admin_client, store, make_product):
    held_catalogue(make_product)
    selected = FeedRun.objects.values_list("pk", flat=True)[:1]

    admin_client.post(CHANGELIST, {"action": "publish_anyway", "index": 0, "_selected_action": list(selected)})

    run = FeedRun.objects.first()
    assert (run.outcome, run.forced) == (FeedRun.Outcome.PUBLISHED, True)


def test_it_lets_only_managers_with_the_permission_override_the_guard(manager, store, make_product):
    held_catalogue(make_product)

    manager.post(CHANGELIST, {"action": "publish_anyway", "index": 0})
    assert not FeedRun.objects.filter(forced=True).exists()

    manager.post(CHANGELIST, {"action": "build_now", "index": 0})
    assert FeedRun.objects.first().outcome == FeedRun.Outcome.HELD

    manager_user = User.objects.get(username="manager")
    manager_user.user_permissions.add(Permission.objects.get(codename="override_guard"))
    manager.post(CHANGELIST, {"action": "publish_anyway", "index": 0})
    assert FeedRun.objects.first().forced
