"""Every line and every field of an order arrives as Kaspi has it, and old installations heal."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from orders.models import Order, OrderEntry
from orders.reading import order_fields
from orders.sync import order_import_by_code, orders_sync


def kaspi_lines(sandbox):
    return sum(len(order["entries"]) for order in sandbox.state.kaspi_orders)


def test_lines_numbered_from_zero_or_not_at_all_all_arrive(db, sandbox, make_product):
    skus = [make_product().sku for _ in range(3)]
    kaspi = sandbox.state.add_order(entries=[(sku, 1, 1000) for sku in skus])
    for number, entry in enumerate(kaspi["entries"][:2]):  # Kaspi's numbers: 0, 1
        entry["attributes"]["entryNumber"] = number
    last = kaspi["entries"][2]["attributes"]  # and a line with neither a number nor a total
    last.pop("entryNumber", None)
    last.pop("totalPrice", None)
    order = order_import_by_code(code=kaspi["attributes"]["code"])
    assert sorted(order.entries.values_list("sku", flat=True)) == sorted(skus)
    assert order.entries.filter(entry_number=0).count() == 1
    assert list(order.entries.values_list("total_price", flat=True)) == [1000, 1000, 1000]


def test_every_line_of_every_order_arrives(db, sandbox):
    orders_sync(days=30)
    assert OrderEntry.objects.count() == kaspi_lines(sandbox)
    multi = [o for o in sandbox.state.kaspi_orders if len(o["entries"]) > 1]
    assert multi, "the sandbox gives many orders several lines"
    for kaspi in multi:
        assert Order.objects.get(code=kaspi["attributes"]["code"]).entries.count() == len(kaspi["entries"])


def test_it_stores_every_documented_attribute(db, sandbox):
    kaspi = sandbox.state.add_order(kaspi_delivery=True, pre_order=True, paymentMode="PAY_WITH_CREDIT",
                                    creditTerm=12, express=True, deliveryCostForSeller=1700,
                                    cancellationReason="BUYER_NOT_REACHABLE")
    order = order_import_by_code(code=kaspi["attributes"]["code"])
    assert (order.payment_mode, order.credit_term, order.delivery_cost_for_seller) == ("PAY_WITH_CREDIT", 12, 1700)
    assert order.is_kaspi_delivery and order.pre_order and order.reservation_date
    assert order.cancellation_reason == "BUYER_NOT_REACHABLE"
    entry = order.entries.first()
    assert entry.category_title and entry.unit_type and entry.weight is not None


def test_kaspi_delivery_fields_are_read_nested_or_flat():
    base = {"code": "1", "status": "ACCEPTED_BY_MERCHANT", "creationDate": 1764400000000}
    delivery = {"waybill": "https://kaspi.kz/w/1.pdf", "waybillNumber": "555", "express": True,
                "courierTransmissionPlanningDate": 1764500000000, "returnedToWarehouse": True}
    nested = order_fields({"id": "x", "attributes": {**base, "kaspiDelivery": delivery}})
    flat = order_fields({"id": "x", "attributes": {**base, **delivery}})
    assert nested == flat
    assert (nested["waybill_number"], nested["express"], nested["returned_to_warehouse"]) == ("555", True, True)


@pytest.mark.parametrize("customer, expected", [
    ({"name": None, "firstName": "Асель", "lastName": "Ким"}, "Асель Ким"),
    ({"name": "Асель", "firstName": "Асель", "lastName": "Ким"}, "Асель Ким"),
    ({"name": "", "firstName": "Асель", "lastName": None}, "Асель"),
    ({"name": "Асель Ким-Оспанова", "firstName": "Асель", "lastName": "Ким"}, "Асель Ким-Оспанова"),
])
def test_the_customer_is_named_first_and_last(customer, expected):
    attrs = {"code": "1", "status": "COMPLETED", "creationDate": 1764400000000, "customer": customer}
    assert order_fields({"id": "x", "attributes": attrs})["customer_name"] == expected


def test_a_masked_phone_never_replaces_a_known_one(db, sandbox):
    kaspi = sandbox.state.add_order()
    phone = kaspi["attributes"]["customer"]["cellPhone"]
    order = order_import_by_code(code=kaspi["attributes"]["code"])
    assert order.customer_phone == phone
    kaspi["attributes"].update(status="COMPLETED", state="ARCHIVE")  # Kaspi masks phones of finished orders
    kaspi["attributes"]["customer"]["cellPhone"] = "+0(000)-000-00-00"
    orders_sync(days=1)
    order.refresh_from_db()
    assert (order.status, order.customer_phone) == ("COMPLETED", phone)


# --- healing rows the old import left ------------------------------------------------------------


@pytest.fixture
def old_installation(transactional_db):
    """The database as it was before lines were keyed on Kaspi's id; the latest schema again afterwards."""
    executor = MigrationExecutor(connection)
    executor.migrate([("orders", "0002_event_labels")])
    yield MigrationExecutor(connection).loader.project_state([("orders", "0002_event_labels")]).apps
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_orders_imported_by_the_old_code_get_their_lines_read_again(old_installation, sandbox, settings):
    settings.HTTP_TIMEOUT = 2
    from orders.reading import order_fields as fields_of

    OldOrder = old_installation.get_model("orders", "Order")
    OldEntry = old_installation.get_model("orders", "OrderEntry")
    kaspi = next(o for o in sandbox.state.kaspi_orders if len(o["entries"]) >= 2)
    fields = {name: value for name, value in fields_of(kaspi).items()
              if name in {f.name for f in OldOrder._meta.fields}}
    old = OldOrder.objects.create(**fields, entries_loaded=True)
    returned_long_ago = OldOrder.objects.create(**{**fields, "kaspi_id": "old-returned", "code": "1",
                                                   "status": "RETURNED"}, entries_loaded=True)
    # What the old code kept: line 0 became "1", collided with the real line 1, and one was dropped.
    first = kaspi["entries"][0]["attributes"]
    OldEntry.objects.create(order=old, entry_number=1, sku=first["offer"]["code"], name="old", quantity=1,
                            unit_price=first["basePrice"], total_price=first["basePrice"])

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    order = Order.objects.get(pk=old.pk)
    assert not order.entries_loaded  # the migration marked it
    assert Order.objects.get(pk=returned_long_ago.pk).stock_taken_back  # its return adds no own stock later

    orders_sync(days=1)
    order.refresh_from_db()
    assert order.entries_loaded
    assert sorted(order.entries.values_list("kaspi_id", flat=True)) == sorted(e["id"] for e in kaspi["entries"])


def test_an_order_whose_total_changes_at_kaspi_has_its_lines_read_again(db, sandbox, make_product):
    first, second = make_product(), make_product()
    kaspi = sandbox.state.add_order(entries=[(first.sku, 1, 1000), (second.sku, 1, 2000)])
    order = order_import_by_code(code=kaspi["attributes"]["code"])
    # A line cancelled in Kaspi's cabinet: the line and the total change there.
    kaspi["entries"].pop()
    kaspi["attributes"]["totalPrice"] = 1000
    orders_sync(days=1)
    assert list(order.entries.values_list("sku", flat=True)) == [first.sku]


def test_the_stale_refresh_reads_each_old_open_order_at_most_once_per_period(db, sandbox, settings):
    code = sandbox.state.add_order(creationDate=int((timezone.now() - timedelta(days=20)).timestamp() * 1000),
                                   status="ACCEPTED_BY_MERCHANT")["attributes"]["code"]
    orders_sync(days=25)  # read in its page just now

    def by_code():
        return [r for r in sandbox.state.kaspi_requests if r.params.get("filter[orders][code]") == code]

    orders_sync(days=1)
    assert by_code() == []
    due = timezone.now() - timedelta(hours=settings.ORDERS_STALE_REFRESH_HOURS, minutes=1)
    Order.objects.filter(code=code).update(refreshed_at=due)
    orders_sync(days=1)
    orders_sync(days=1)
    assert len(by_code()) == 1


@pytest.mark.parametrize("value", [float("inf"), "soon", 10**20, None])
def test_an_order_without_a_usable_creation_date_is_not_stored(db, value):
    from orders.reading import order_store

    resource = {"id": "x", "attributes": {"code": "1", "status": "APPROVED_BY_BANK", "creationDate": value}}
    assert order_store(resource) is None and not Order.objects.exists()


@pytest.mark.parametrize("attribute, value", [("creditTerm", -1), ("totalPrice", 1e20),
                                              ("deliveryCostForSeller", 10**30)])
def test_an_implausible_order_is_skipped_and_the_others_stored(db, sandbox, attribute, value):
    bad = sandbox.state.add_order()
    good = sandbox.state.add_order()
    bad["attributes"][attribute] = value
    run = orders_sync(days=1)
    assert Order.objects.filter(code=good["attributes"]["code"]).exists()
    stored = Order.objects.filter(code=bad["attributes"]["code"]).first()
    if stored is None:
        assert run.skipped == 1 and any("malformed" in line for line in run.lines)
    else:  # an optional attribute that makes no sense is left out, the order kept
        assert attribute == "creditTerm" and stored.credit_term is None


@pytest.mark.parametrize("attribute, value", [("entryNumber", -1), ("quantity", 1e20), ("basePrice", 1e30)])
def test_an_implausible_line_leaves_its_order_for_later_and_stops_nothing(db, sandbox, make_product, attribute,
                                                                          value):
    broken = sandbox.state.add_order(entries=[(make_product().sku, 1, 1000)])
    fine = sandbox.state.add_order(entries=[(make_product().sku, 1, 1000)])
    broken["entries"][0]["attributes"][attribute] = value
    run = orders_sync(days=1)
    assert run.outcome == "ok"
    assert Order.objects.get(code=fine["attributes"]["code"]).entries.count() == 1
    if attribute == "entryNumber":  # a number that makes no sense is left out, the line kept
        assert Order.objects.get(code=broken["attributes"]["code"]).entries.get().entry_number is None
    else:
        assert not Order.objects.get(code=broken["attributes"]["code"]).entries_loaded
        assert any(broken["attributes"]["code"] in line for line in run.lines)


def test_a_late_return_of_an_old_delivered_order_is_seen(db, sandbox):
    now = timezone.now()
    kaspi = sandbox.state.add_order(creationDate=int((now - timedelta(days=20)).timestamp() * 1000),
                                    plannedDeliveryDate=int((now - timedelta(days=10)).timestamp() * 1000),
                                    status="COMPLETED", state="ARCHIVE")
    orders_sync(days=25)
    kaspi["attributes"].update(status="CANCELLING", state="DELIVERY")  # the buyer sends it back on day 20
    Order.objects.update(refreshed_at=now - timedelta(hours=7))
    orders_sync(days=1)
    assert Order.objects.get(code=kaspi["attributes"]["code"]).status == "CANCELLING"
