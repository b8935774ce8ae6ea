"""The shop's roles: each group can do its work and cannot do the others'."""

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from feeds.models import FeedRun
from orders.models import Order, StatusChange

PHONE = "+77071234567"


def member(role, client):
    user = User.objects.create_user(f"user-{len(role)}-{role}", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return User.objects.get(pk=user.pk)


@pytest.fixture
def order(db):
    return Order.objects.create(kaspi_id="K1", code="700001", state="NEW", status="APPROVED_BY_BANK",
                                total_price=25990, customer_name="Айгерим Сапарова", customer_phone=PHONE,
                                delivery_address="Алматы, Абая 1", created_at_kaspi=timezone.now())


def page(client, url):
    response = client.get(url)
    return response.status_code, response.content.decode()


def test_the_roles_exist_as_groups(db):
    assert set(Group.objects.values_list("name", flat=True)) >= {"Менеджеры", "Заказы", "Старшие"}


def test_managers_run_the_catalogue_and_the_feed_but_never_see_a_buyer(client, order, make_product):
    user = member("Менеджеры", client)
    product = make_product()
    assert client.get(reverse("admin:catalog_product_change", args=[product.pk])).status_code == 200
    assert client.get(reverse("admin:catalog_pricingrule_add")).status_code == 200
    status, html = page(client, reverse("admin:feeds_feedrun_changelist"))
    assert status == 200 and "/feeds/" in html  # the feed URL, for Kaspi's cabinet
    assert user.has_perms(["feeds.build_feed", "feeds.override_guard"])
    assert client.get(reverse("admin:orders_order_changelist")).status_code == 403
    assert not user.has_perm("orders.view_customer_data")


def test_the_orders_role_sees_buyers_and_requests_but_cannot_approve(client, order):
    user = member("Заказы", client)
    status, html = page(client, reverse("admin:orders_order_change", args=[order.pk]))
    assert status == 200 and PHONE in html and "Абая" in html
    listed = client.get(reverse("admin:orders_order_changelist"), {"q": PHONE})
    assert listed.context["cl"].result_count == 1  # found by phone
    assert user.has_perm("orders.add_statuschange") and not user.has_perm("orders.approve_statuschange")
    assert client.get(reverse("admin:catalog_pricingrule_add")).status_code == 403
    status, html = page(client, reverse("admin:feeds_feedrun_changelist"))
    assert status == 403


def test_seniors_approve_and_override(client, order):
    user = member("Старшие", client)
    assert user.has_perms(["orders.approve_statuschange", "feeds.override_guard", "catalog.confirm_price"])
    assert client.get(reverse("admin:orders_order_change", args=[order.pk])).status_code == 200


def test_without_the_permission_for_it_no_buyer_data_is_shown_or_searchable(client, order):
    from django.contrib.auth.models import Permission

    user = User.objects.create_user("clerk", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(user)
    status, html = page(client, reverse("admin:orders_order_change", args=[order.pk]))
    assert status == 200 and PHONE not in html and "Сапарова" not in html and "Абая" not in html
    listed = client.get(reverse("admin:orders_order_changelist"), {"q": PHONE})
    assert listed.context["cl"].result_count == 0 and "Сапарова" not in listed.content.decode()


def test_the_feed_url_and_the_build_button_need_their_own_permissions(client, db):
    from django.contrib.auth.models import Permission

    user = User.objects.create_user("viewer", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_feedrun"))
    client.force_login(user)
    status, html = page(client, reverse("admin:feeds_feedrun_changelist"))
    assert status == 200 and "test-feed-token" not in html and 'value="build_now"' not in html
    client.post(reverse("admin:feeds_feedrun_changelist"), {"action": "build_now", "index": 0})
    assert not FeedRun.objects.exists()  # refused: nothing built


def test_the_completion_code_is_never_shown_after_it_is_given(admin_client, order):
    change = StatusChange.objects.create(order=order, action="complete", state="done", security_code="4821")
    status, html = page(admin_client, reverse("admin:orders_statuschange_change", args=[change.pk]))
    assert status == 200 and "4821" not in html


def test_order_status_checks_who_approves_before_it_touches_anything(db, order):
    clerk = User.objects.create_user("clerk2", password="x", is_staff=True)
    clerk.groups.add(Group.objects.get(name="Заказы"))
    with pytest.raises(CommandError, match="may not approve"):
        call_command("order_status", order.code, "accept", "--approved-by", "clerk2")
    assert not StatusChange.objects.exists()


def test_every_admin_action_needs_more_than_the_right_to_look():
    """An action changes something (publishes, sends, builds): viewing a list never suffices for it."""
    from django.contrib import admin

    lax = []
    for model, model_admin in admin.site._registry.items():
        for action in model_admin.actions or []:
            function = getattr(type(model_admin), action, None) if isinstance(action, str) else action
            allowed = getattr(function, "allowed_permissions", None)
            if not allowed or set(allowed) <= {"view"}:
                lax.append(f"{model._meta.label}.{getattr(function, '__name__', action)}")
    assert lax == []


def test_the_money_work_belongs_to_the_roles_that_do_it(client, db):
    manager = member("Менеджеры", client)
    assert client.get(reverse("admin:catalog_pricelistimport_add")).status_code == 200
    assert client.get(reverse("reports")).status_code == 403
    assert not manager.has_perm("catalog.sell_below_cost")
    senior = member("Старшие", client)
    assert client.get(reverse("reports")).status_code == 200
    assert client.get(reverse("admin:orders_commissionrate_add")).status_code == 200
    assert senior.has_perm("catalog.sell_below_cost")
