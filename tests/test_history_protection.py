"""Records people must be able to trust (logs, histories, runs, alerts) cannot be deleted from the admin by anyone."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from catalog.models import PriceChange, Product
from common.admin import ReadOnlyLogAdmin
from orders.models import Order, OrderEvent, StatusChange
from purchasing.models import SupplierOrder, SupplierOrderEvent

# At least these are logs; any other admin written only by the code is one too (see below).
KNOWN_LOGS = {
    "catalog.pricechange", "catalog.pricelistimport", "orders.orderevent", "orders.statuschange", "feeds.feedrun",
    "feeds.feedfetch", "jobs.jobrun", "monitoring.alert", "monitoring.securityevent",
    "purchasing.supplierorderevent", "axes.accesslog", "axes.accessfailurelog",
}
LOGS = [model for model, model_admin in admin.site._registry.items() if isinstance(model_admin, ReadOnlyLogAdmin)]


def a_row(model):
    """A row of `model` with its required fields filled, the rows it points to made the same way."""
    values = {}
    for field in model._meta.concrete_fields:
        if field.primary_key or field.null or field.has_default() or field.empty_strings_allowed:
            continue
        if field.is_relation:
            values[field.name] = a_row(field.related_model)
        else:  # a date or a number
            values[field.name] = timezone.now() if field.get_internal_type() == "DateTimeField" else 1
    return model.objects.create(**values)


def url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def superuser_request(rf, admin_user):
    request = rf.get("/admin/")
    request.user = admin_user
    return request


def test_it_knows_every_log():
    assert KNOWN_LOGS <= {model._meta.label_lower for model in LOGS}


def test_it_treats_every_admin_written_only_by_the_code_as_a_log(superuser_request):
    for model, model_admin in admin.site._registry.items():
        if not (model_admin.has_add_permission(superuser_request) or
                model_admin.has_change_permission(superuser_request)):
            assert isinstance(model_admin, ReadOnlyLogAdmin), model._meta.label


@pytest.mark.parametrize("model", LOGS, ids=lambda model: model._meta.label_lower)
def test_it_offers_no_deletion_of_a_log_even_to_a_superuser(model, admin_client, superuser_request):
    row = a_row(model)
    model_admin = admin.site._registry[model]
    assert not model_admin.has_delete_permission(superuser_request)
    assert not model_admin.has_delete_permission(superuser_request, row)
    assert "delete_selected" not in model_admin.get_actions(superuser_request)
    assert 'value="delete_selected"' not in admin_client.get(url(model, "changelist")).content.decode()

    page = admin_client.get(url(model, "change", row.pk)).content.decode()
    assert url(model, "delete", row.pk) not in page and "deletelink" not in page

    assert admin_client.get(url(model, "delete", row.pk)).status_code == 403
    assert admin_client.post(url(model, "delete", row.pk), {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=row.pk).exists()


def test_the_history_on_order_product_and_supplier_order_pages_offers_no_deletion(admin_client, make_product):
    order = a_row(Order)
    OrderEvent.note(order, "accepted", None)
    StatusChange.objects.create(order=order, action="accept")
    product = make_product()
    PriceChange.objects.create(product=product, old_price=1, new_price=2, source="manager")
    supplier_order = a_row(SupplierOrder)
    SupplierOrderEvent.note(supplier_order, "proposed")

    pages = {(Order, order.pk): ["events", "status_changes"], (Product, product.pk): ["price_changes"],
             (SupplierOrder, supplier_order.pk): ["events"]}
    for (model, pk), histories in pages.items():
        page = admin_client.get(url(model, "change", pk)).content.decode()
        for history in histories:
            assert f'id="{history}-0"' in page, (model._meta.label, history)  # shown, with its row
        assert "-DELETE" not in page, model._meta.label  # no inline row offers deletion
    assert "deletelink" not in admin_client.get(url(Order, "change", order.pk)).content.decode()


def test_a_superuser_still_unlocks_a_login(superuser_request):
    from axes.models import AccessAttempt

    assert admin.site._registry[AccessAttempt].has_delete_permission(superuser_request)


def test_users_are_still_managed(superuser_request):
    assert admin.site._registry[User].has_delete_permission(superuser_request)
