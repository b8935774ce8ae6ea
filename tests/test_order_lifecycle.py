"""The whole life of an order: Kaspi Delivery hand-over, pre-orders, returns, part cancellations."""

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog.models import Product
from orders.changes import StatusChangeRefused, status_change_approve, status_change_request, status_change_send
from orders.models import Order, OrderEntry, StatusChange
from orders.stock import reserved_quantities
from orders.sync import order_import_by_code, orders_sync


@pytest.fixture
def boss(db):
    return User.objects.create_superuser("boss", password="pw-123456")


@pytest.fixture
def product(make_product):
    return make_product(supplier_stock=10)


def imported(sandbox, **options):
    kaspi = sandbox.state.add_order(**options)
    return order_import_by_code(code=kaspi["attributes"]["code"]), kaspi


def run(order, action, user, **extras):
    """Request, approve and send one change, as the admin and the command do."""
    change = status_change_request(order=Order.objects.get(pk=order.pk), action=action, user=user, **extras)
    if change.state == "pending":
        status_change_approve(change=change, user=user, queue=False)
    return status_change_send(change_id=change.pk)


def accepted(sandbox, boss, **options):
    order, kaspi = imported(sandbox, **options)
    assert run(order, "accept", boss).state == "done"
    return Order.objects.get(pk=order.pk), kaspi


# --- Kaspi Delivery ------------------------------------------------------------------------------


def test_a_kaspi_delivery_order_is_handed_over_with_its_parcels(sandbox, boss):
    order, kaspi = accepted(sandbox, boss, kaspi_delivery=True)
    change = run(order, "assemble", boss, places=2)
    assert change.state == "done", change.message
    [post] = [p for p in sandbox.state.status_posts if p.code == order.code and p.status == "ASSEMBLE"]
    assert str(post.attributes["numberOfSpace"]) == "2"
    order.refresh_from_db()
    assert order.assembled and order.waybill.startswith("http") and order.waybill_number
    assert order.courier_transmission_planning_date is not None
    import requests

    pdf = requests.get(order.waybill, timeout=5)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_completion_is_refused_for_kaspi_delivery_orders(sandbox, boss):
    order, _kaspi = accepted(sandbox, boss, kaspi_delivery=True)
    with pytest.raises(StatusChangeRefused, match="Kaspi completes it on delivery"):
        status_change_request(order=order, action="complete", user=boss)


@pytest.mark.parametrize("places", [None, 0, 100])
def test_a_hand_over_needs_a_sensible_number_of_parcels(sandbox, boss, places):
    order, _kaspi = accepted(sandbox, boss, kaspi_delivery=True)
    with pytest.raises(StatusChangeRefused, match="number of parcels"):
        status_change_request(order=order, action="assemble", user=boss, places=places)


def test_only_kaspi_delivery_orders_are_handed_over(sandbox, boss):
    order, _kaspi = accepted(sandbox, boss)
    with pytest.raises(StatusChangeRefused, match="does not go by Kaspi Delivery"):
        status_change_request(order=order, action="assemble", user=boss, places=1)


def test_the_command_hands_over_and_refuses_completion(sandbox, boss):
    order, _kaspi = accepted(sandbox, boss, kaspi_delivery=True)
    with pytest.raises(CommandError, match="Kaspi completes it on delivery"):
        call_command("order_status", order.code, "complete", "--approved-by", "boss")
    call_command("order_status", order.code, "assemble", "--places", "2", "--approved-by", "boss")
    assert Order.objects.get(pk=order.pk).waybill


# --- pre-orders and returns ----------------------------------------------------------------------


def test_a_pre_order_is_marked_arrived(sandbox, boss):
    order, kaspi = accepted(sandbox, boss, pre_order=True)
    assert order.pre_order and order.reservation_date
    call_command("order_status", order.code, "arrived", "--approved-by", "boss")
    assert [p.status for p in sandbox.state.status_posts if p.code == order.code][-1] == "ARRIVED"
    assert not Order.objects.get(pk=order.pk).pre_order


def test_arrived_is_only_for_pre_orders(sandbox, boss):
    order, _kaspi = accepted(sandbox, boss)
    with pytest.raises(StatusChangeRefused, match="not a pre-order"):
        status_change_request(order=order, action="arrived", user=boss)


def test_returned_goods_become_own_stock_and_reach_the_feed(sandbox, boss, product, store):
    from feeds.services import feed_build

    order, kaspi = accepted(sandbox, boss, entries=[(product.sku, 2)])
    kaspi["attributes"].update(status="CANCELLING")  # the buyer sent it back
    orders_sync(days=1)
    call_command("order_status", order.code, "returned", "--approved-by", "boss")
    order.refresh_from_db()
    assert order.status == "CANCELLED" and order.returned_to_warehouse
    product.refresh_from_db()
    assert product.own_stock == 2
    assert feed_build().outcome == "published"
    assert published_stock(product.sku) == 10 + 2  # the supplier's stock, and the returned units on top
    orders_sync(days=1)  # read again: the units are added once
    assert Product.objects.get(pk=product.pk).own_stock == 2


def published_stock(sku):
    from django.conf import settings
    from lxml import etree

    from feeds.validation import validate_file

    path = settings.FEED_DIR / "kaspi.xml"
    assert validate_file(path) == []
    offer = etree.parse(str(path)).find(f".//k:offer[@sku='{sku}']", {"k": "kaspiShopping"})
    return int(offer.find(".//k:availability", {"k": "kaspiShopping"}).get("stockCount"))


def test_returned_is_only_for_orders_coming_back(sandbox, boss):
    order, _kaspi = accepted(sandbox, boss)
    with pytest.raises(StatusChangeRefused, match="only from"):
        status_change_request(order=order, action="returned", user=boss)


def test_new_orders_use_own_stock_first(sandbox, boss, make_product):
    shelf = make_product(supplier_stock=0, own_stock=3)
    order, _kaspi = imported(sandbox, entries=[(shelf.sku, 2)])
    entry = order.entries.get()
    assert entry.own_units == 2
    assert Product.objects.get(pk=shelf.pk).own_stock == 1
    assert reserved_quantities().get(shelf.sku, 0) == 0  # nothing held of the supplier's stock
    assert run(order, "cancel", boss, reason="BUYER_NOT_REACHABLE").state == "done"
    assert Product.objects.get(pk=shelf.pk).own_stock == 3  # the units never left the shelf


# --- part cancellation ---------------------------------------------------------------------------


def kaspi_catches_up(sandbox):
    """Kaspi applies the part cancellations it accepted; the next sweep reads them back."""
    from orders.changes import order_statuses_push

    sandbox.state.apply_deferred()
    order_statuses_push()


def test_a_part_cancellation_keeps_the_other_lines(sandbox, boss, make_product):
    first, second = make_product(), make_product()
    order, kaspi = imported(sandbox, entries=[(first.sku, 3, 1000), (second.sku, 1, 5000)])
    assert reserved_quantities()[first.sku] == 3
    change = run(order, "cancel_entry", boss, sku=first.sku, keep=1, reason="MERCHANT_OUT_OF_STOCK")
    assert change.state == "applying", change.message  # Kaspi answers INPROGRESS and applies it afterwards
    assert reserved_quantities()[first.sku] == 3  # until Kaspi shows it, the stock stays held
    kaspi_catches_up(sandbox)
    change.refresh_from_db()
    assert change.state == "done", change.message
    [post] = sandbox.state.entry_cancel_posts
    assert (post.remained, post.reason) == (1, "MERCHANT_OUT_OF_STOCK")
    order.refresh_from_db()
    lines = {entry.sku: entry.quantity for entry in order.entries.all()}
    assert lines == {first.sku: 1, second.sku: 1}
    assert order.total_price == 1000 + 5000 == kaspi["attributes"]["totalPrice"]
    assert reserved_quantities()[first.sku] == 1


def test_the_command_cancels_part_of_a_line(sandbox, boss, make_product):
    first, second = make_product(), make_product()
    order, kaspi = imported(sandbox, entries=[(first.sku, 2, 1000), (second.sku, 1, 5000)])
    call_command("order_status", order.code, "cancel", "--sku", first.sku, "--keep", "0",
                 "--reason", "MERCHANT_OUT_OF_STOCK", "--approved-by", "boss")
    kaspi_catches_up(sandbox)
    assert list(OrderEntry.objects.filter(order=order).values_list("sku", flat=True)) == [second.sku]
    assert Order.objects.get(pk=order.pk).total_price == 5000


@pytest.mark.parametrize("keep, message", [(2, "units to keep"), (5, "units to keep")])
def test_a_part_cancellation_must_cancel_something(sandbox, boss, make_product, keep, message):
    first, second = make_product(), make_product()
    order, _kaspi = imported(sandbox, entries=[(first.sku, 2), (second.sku, 1)])
    with pytest.raises(StatusChangeRefused, match=message):
        status_change_request(order=order, action="cancel_entry", user=boss, sku=first.sku, keep=keep,
                              reason="MERCHANT_OUT_OF_STOCK")


def test_a_part_cancellation_that_leaves_nothing_asks_for_a_whole_cancellation(sandbox, boss, make_product):
    only = make_product()
    order, _kaspi = imported(sandbox, entries=[(only.sku, 2)])
    with pytest.raises(StatusChangeRefused, match="cancel the whole order"):
        status_change_request(order=order, action="cancel_entry", user=boss, sku=only.sku, keep=0,
                              reason="MERCHANT_OUT_OF_STOCK")


def test_a_part_cancellation_kaspi_never_applies_fails_after_an_hour(sandbox, boss, make_product):
    from datetime import timedelta

    from orders.changes import APPLY_HOURS, order_statuses_push

    first, second = make_product(), make_product()
    order, _kaspi = imported(sandbox, entries=[(first.sku, 3, 1000), (second.sku, 1, 5000)])
    sandbox.state.entry_cancel_delay = 10 * 3600  # Kaspi sits on it
    change = run(order, "cancel_entry", boss, sku=first.sku, keep=1, reason="MERCHANT_OUT_OF_STOCK")
    order_statuses_push()
    assert StatusChange.objects.get(pk=change.pk).state == "applying"
    StatusChange.objects.filter(pk=change.pk).update(sent_at=change.sent_at - timedelta(hours=APPLY_HOURS))
    order_statuses_push()
    change.refresh_from_db()
    assert change.state == "failed" and "Kaspi's cabinet" in change.message
    assert len(sandbox.state.entry_cancel_posts) == 1  # waited for, never sent again
    assert reserved_quantities()[first.sku] == 3


@pytest.mark.parametrize("kind", ["502", "slow"])
def test_a_part_cancellation_whose_answer_was_lost_is_read_back_not_sent_again(sandbox, boss, make_product, kind):
    from orders.changes import order_statuses_push

    first, second = make_product(), make_product()
    order, _kaspi = imported(sandbox, entries=[(first.sku, 3, 1000), (second.sku, 1, 5000)])
    sandbox.state.apply_then_fail_next, sandbox.state.apply_then_fail_kind = 1, kind
    change = run(order, "cancel_entry", boss, sku=first.sku, keep=1, reason="MERCHANT_OUT_OF_STOCK")
    assert change.state == "uncertain"
    order_statuses_push()  # read back: not applied yet, and it may be on its way: wait, do not send again
    assert StatusChange.objects.get(pk=change.pk).state == "applying"
    kaspi_catches_up(sandbox)
    change.refresh_from_db()
    assert change.state == "done" and "read back" in change.message
    assert len(sandbox.state.entry_cancel_posts) == 1
    assert reserved_quantities()[first.sku] == 1


def test_a_hand_over_whose_answer_was_lost_is_read_back_not_sent_again(sandbox, boss):
    from orders.changes import order_statuses_push

    order, _kaspi = accepted(sandbox, boss, kaspi_delivery=True)
    sandbox.state.apply_then_fail_next = 1
    assert run(order, "assemble", boss, places=1).state == "uncertain"
    order_statuses_push()
    assert [p.status for p in sandbox.state.status_posts if p.code == order.code].count("ASSEMBLE") == 1
    assert Order.objects.get(pk=order.pk).waybill


def test_after_a_part_cancellation_the_rest_is_proposed_for_acceptance(sandbox, boss, make_product):
    first, second = make_product(supplier_stock=5), make_product(supplier_stock=5)
    order, _kaspi = imported(sandbox, entries=[(first.sku, 1, 1000), (second.sku, 2, 5000)])
    from orders.changes import orders_propose

    orders_propose()
    assert StatusChange.objects.get(order=order, state="pending").action == "accept"
    # Staff decide to cancel one unit by hand instead (the proposal is replaced), and it is done.
    by_hand = run(order, "cancel_entry", boss, sku=second.sku, keep=1, reason="BUYER_CANCELLATION_BY_MERCHANT")
    assert by_hand.state == "applying"
    assert not StatusChange.objects.filter(order=order, state="pending").exists()  # nothing while Kaspi applies it
    kaspi_catches_up(sandbox)
    proposal = StatusChange.objects.get(order=order, state="pending")
    assert (proposal.action, proposal.proposed) == ("accept", True)


def test_an_order_seen_cancelled_and_returned_at_once_counts_its_units_once(sandbox, boss, make_product):
    shelf = make_product(supplier_stock=5, own_stock=2)
    order, kaspi = imported(sandbox, entries=[(shelf.sku, 3)])
    assert order.entries.get().own_units == 2 and Product.objects.get(pk=shelf.pk).own_stock == 0
    # Handed over, sent back and received while no import looked: Kaspi now shows it cancelled and returned.
    kaspi["attributes"].update(status="CANCELLED", state="ARCHIVE", returnedToWarehouse=True)
    orders_sync(days=1)
    assert Product.objects.get(pk=shelf.pk).own_stock == 3  # the three units that came back, no more


def test_a_cancelled_order_gives_its_own_units_back_and_a_later_return_adds_only_the_rest(sandbox, boss,
                                                                                         make_product):
    shelf = make_product(supplier_stock=5, own_stock=1)
    order, kaspi = imported(sandbox, entries=[(shelf.sku, 3)])
    kaspi["attributes"].update(status="CANCELLED", state="ARCHIVE")
    orders_sync(days=1)
    assert Product.objects.get(pk=shelf.pk).own_stock == 1
    kaspi["attributes"]["returnedToWarehouse"] = True
    orders_sync(days=1)
    assert Product.objects.get(pk=shelf.pk).own_stock == 1 + 2


def test_two_lines_of_one_sku_are_told_apart(sandbox, boss, make_product):
    twice = make_product(supplier_stock=1)
    order, _kaspi = imported(sandbox, entries=[(twice.sku, 1, 1000), (twice.sku, 2, 900)])
    with pytest.raises(StatusChangeRefused, match="several lines"):
        status_change_request(order=order, action="cancel_entry", user=boss, sku=twice.sku, keep=0,
                              reason="MERCHANT_OUT_OF_STOCK")
    second = order.entries.get(quantity=2)
    change = status_change_request(order=order, action="cancel_entry", user=boss, entry_id=second.kaspi_id, keep=0,
                                   reason="MERCHANT_OUT_OF_STOCK")
    assert (change.entry_kaspi_id, change.sku) == (second.kaspi_id, twice.sku)
    from orders.changes import orders_propose

    change.delete()
    orders_propose()  # one unit in stock: the first line fits, the proposal cuts the second one
    proposal = StatusChange.objects.get(order=order, state="pending")
    assert (proposal.action, proposal.entry_kaspi_id, proposal.keep_quantity) == ("cancel_entry", second.kaspi_id, 0)


# --- when Kaspi's answers do not settle anything --------------------------------------------------


def test_an_unreadable_read_back_leaves_the_change_uncertain_and_the_sweep_goes_on(sandbox, boss):
    from orders.changes import order_statuses_push

    stuck, _kaspi = imported(sandbox)
    other, other_kaspi = imported(sandbox)
    sandbox.state.apply_then_fail_next = 1
    assert run(stuck, "accept", boss).state == "uncertain"
    change = status_change_request(order=other, action="accept", user=boss)
    status_change_approve(change=change, user=boss, queue=False)
    sandbox.state.find_order(code=stuck.code)["attributes"]["creationDate"] = None  # Kaspi's answer, broken
    order_statuses_push()
    assert StatusChange.objects.get(order=stuck).state == "uncertain"  # not known, so not sent again
    assert StatusChange.objects.get(order=other).state == "done"
    assert [p.code for p in sandbox.state.status_posts].count(stuck.code) == 1


def test_an_answer_that_shows_nothing_with_no_read_back_is_decided_later_not_failed(sandbox, boss, monkeypatch):
    from orders.changes import order_statuses_push
    from orders.kaspi import KaspiClient, KaspiError

    order, kaspi = imported(sandbox, status="CANCELLING", state="DELIVERY")
    sandbox.state.unapplied_200_next = 1  # a 200 that does not show the change
    reads = KaspiClient.order_by_code

    def unreachable(self, code):
        raise KaspiError("GET orders: no answer within 30 s", temporary=True)

    monkeypatch.setattr(KaspiClient, "order_by_code", unreachable)  # and the read-back gets no answer
    change = run(order, "returned", boss)
    assert change.state == "uncertain", change.message  # nothing known: neither done nor failed
    monkeypatch.setattr(KaspiClient, "order_by_code", reads)
    order_statuses_push()  # read back: not applied, so it is sent again, once
    change.refresh_from_db()
    assert change.state == "done" and kaspi["attributes"]["status"] == "CANCELLED"
    assert [(p.status, p.applied) for p in sandbox.state.status_posts] == [
        ("ARRIVED_BACKWARD", False), ("ARRIVED_BACKWARD", True)]


def test_one_order_whose_lines_cannot_be_read_does_not_stop_the_others(sandbox, make_product, monkeypatch):
    from orders.kaspi import KaspiClient, KaspiError

    broken = sandbox.state.add_order(entries=[(make_product().sku, 1)])
    fine = sandbox.state.add_order(entries=[(make_product(supplier_stock=9).sku, 1)])
    entries = KaspiClient.entries

    def flaky(self, order_id):
        if order_id == broken["id"]:
            raise KaspiError("GET entries: the answer is not JSON (HTTP 200)", temporary=True)
        return entries(self, order_id)

    monkeypatch.setattr(KaspiClient, "entries", flaky)
    run_ = orders_sync(days=1)
    assert run_.outcome == "ok" and any(broken["attributes"]["code"] in line for line in run_.lines)
    assert StatusChange.objects.get(order__code=fine["attributes"]["code"]).action == "accept"


def test_a_return_seen_before_its_lines_adds_them_when_they_arrive(sandbox, boss, make_product):
    shelf = make_product(supplier_stock=0)
    order, kaspi = imported(sandbox, entries=[(shelf.sku, 2)], status="CANCELLING", state="DELIVERY")
    order.entries.all().delete()
    Order.objects.filter(pk=order.pk).update(entries_loaded=False)  # as on an upgrade: lines not read yet
    assert run(order, "returned", boss).state == "done"
    assert Product.objects.get(pk=shelf.pk).own_stock == 0
    orders_sync(days=1)
    assert Product.objects.get(pk=shelf.pk).own_stock == 2


def test_an_order_kaspi_gives_no_lines_for_gets_no_proposal(sandbox):
    kaspi = sandbox.state.add_order()
    kaspi["entries"].clear()
    orders_sync(days=1)
    assert not StatusChange.objects.filter(order__code=kaspi["attributes"]["code"]).exists()


def test_units_held_under_the_derived_sku_count_for_the_sku_the_shop_kept(sandbox, boss, make_product):
    from orders.changes import orders_propose

    product = make_product(supplier_stock=3)
    accepted(sandbox, boss, entries=[(product.sku, 3, 1000)])  # sold before the shop's SKU was taken over
    Product.objects.filter(pk=product.pk).update(kaspi_sku="123456789_987654321")
    order, _kaspi = imported(sandbox, entries=[("123456789_987654321", 1, 1000)])

    orders_propose()

    assert order.entries.get().product_id == product.pk
    assert StatusChange.objects.get(order=order, state="pending").action == "cancel"  # all 3 are held
