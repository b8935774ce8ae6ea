"""Supplier orders under the inconvenient parts of Al-Style: the lock in one connection, a lost submit
looked up by date and time, and tracking that one bad answer does not stop."""

from datetime import timedelta

import pytest
import responses
from django.utils import timezone
from responses import matchers

from catalog.alstyle import AlstyleClient
from jobs.locks import JobBusy, job_lock
from purchasing import services
from purchasing.models import SupplierOrder
from purchasing.sending import CART_LOCK, _find_submitted
from purchasing.tracking import supplier_orders_sync, supplier_orders_track
from tests.test_supplier_orders import (  # noqa: F401 (buyer, shop: fixtures)
    accepted,
    buyable,
    buyer,
    lost_answer,
    proposal_for,
    send,
    shop,
)

URL = "https://alstyle.test/api"


def answer(endpoint, params, **body):
    responses.get(f"{URL}/{endpoint}", match=[matchers.query_param_matcher(params, strict_match=False)], **body)


@pytest.mark.postgres
def test_it_does_not_take_the_cart_lock_twice_in_one_connection(transactional_db):
    """A PostgreSQL advisory lock is reentrant in its session: a second send there must not get through."""
    with job_lock(CART_LOCK):
        with pytest.raises(JobBusy):
            with job_lock(CART_LOCK):
                pass
        with pytest.raises(JobBusy):  # the refused one did not release the outer one
            with job_lock(CART_LOCK):
                pass
    with job_lock(CART_LOCK):
        pass  # released again


def _lost_submit(shop, buyer, monkeypatch):  # noqa: F811
    """A supplier order whose submit made an Al-Style order and lost its answer; (supplier order, Al-Style order)."""
    submit = AlstyleClient.cart_submit

    def submit_lost(self, **fields):
        submit(self, **fields)
        raise lost_answer()

    [product] = buyable(shop)
    order = accepted(shop, buyer, [(product, 1)])
    services.supplier_orders_propose()
    monkeypatch.setattr(AlstyleClient, "cart_submit", submit_lost)
    monkeypatch.setattr("purchasing.sending._find_submitted", lambda client, supplier_order: None)
    assert send(proposal_for(order), buyer).state == "uncertain"
    monkeypatch.undo()
    return proposal_for(order), shop.state.alstyle_orders[-1]


def test_it_does_not_take_an_earlier_order_of_the_same_day_for_a_lost_submit(shop, buyer, monkeypatch):  # noqa: F811
    """Someone in the B2B portal ordered the same goods that morning: that order is not ours."""
    uncertain, made = _lost_submit(shop, buyer, monkeypatch)
    shop.state.alstyle_orders.remove(made)  # ours never came to be after all
    afternoon = timezone.localtime().replace(hour=15, minute=0, second=0)
    SupplierOrder.objects.filter(pk=uncertain.pk).update(submitted_at=afternoon)
    uncertain.refresh_from_db()
    made["created"] = afternoon - timedelta(hours=3)  # but the partner's own, same cart and sum, that morning
    made["id"] -= 1
    shop.state.alstyle_orders.append(made)
    found = _find_submitted(AlstyleClient(), uncertain)
    assert found is None


def test_it_finds_a_lost_submit_made_just_after_midnight(shop, buyer, monkeypatch):  # noqa: F811
    uncertain, made = _lost_submit(shop, buyer, monkeypatch)
    just_before_midnight = timezone.localtime().replace(hour=23, minute=59, second=58)
    SupplierOrder.objects.filter(pk=uncertain.pk).update(submitted_at=just_before_midnight)
    made["created"] = just_before_midnight + timedelta(seconds=5)  # Al-Style's clock: the next day
    uncertain.refresh_from_db()
    found = _find_submitted(AlstyleClient(), uncertain)
    assert found is not None and found[0] == made["id"]


def _tracked(ids, db=None):
    for number in ids:
        SupplierOrder.objects.create(state="sent", alstyle_id=number, alstyle_status="N", sent_at=timezone.now())


@responses.activate
def test_one_unreadable_order_does_not_stop_tracking_the_others(db, settings):
    settings.HTTP_RETRIES = 0
    _tracked([501, 502])
    today = timezone.localtime().strftime("%d.%m.%Y 10:00:00")
    elements = [{"id": 502, "date": today, "sum": 100, "status": "SV"},
                {"id": 501, "date": today, "sum": 100, "status": "SV"}]
    for kind in ("index", "current", "archive", "canceled"):
        answer("orders", {"type": kind, "page": "1"}, json={"elements": elements if kind == "index" else [],
                                                                 "pagination": {"totalPages": 1}})
    answer("order", {"id": "502"}, body="<html>busy</html>", status=200)
    answer("order", {"id": "501"}, json={"data": {"id": 501, "cart": []}})
    client = AlstyleClient(base_url=URL, token="t", min_interval=0)
    assert supplier_orders_track(client=client) == 2
    assert set(SupplierOrder.objects.values_list("alstyle_status", flat=True)) == {"SV"}


@responses.activate
def test_an_order_answer_with_an_empty_cart_shorts_nothing(db, settings):
    """An order Al-Style still ships cannot hold nothing: an empty `cart` is an unreadable answer, not a
    reason to propose cancelling every Kaspi line."""
    _tracked([601])
    supplier_order = SupplierOrder.objects.get()
    supplier_order.lines.create(article=1, needed=1, quantity=1)
    today = timezone.localtime().strftime("%d.%m.%Y 10:00:00")
    for kind in ("index", "current", "archive", "canceled"):
        answer("orders", {"type": kind, "page": "1"}, json={
            "elements": [{"id": 601, "date": today, "sum": 100, "status": "SV"}] if kind == "index" else [],
            "pagination": {"totalPages": 1}})
    answer("order", {"id": "601"}, json={"data": {"id": 601, "cart": []}})
    assert supplier_orders_track(client=AlstyleClient(base_url=URL, token="t", min_interval=0)) == 1
    assert supplier_order.lines.get().delivered is None
    assert not supplier_order.events.filter(notify=True).exists()


@responses.activate
def test_one_broken_element_in_the_orders_list_leaves_the_others_readable(db):
    responses.get(f"{URL}/orders", json={"elements": [None, "x", {"id": 7, "status": "N"}]})  # no pagination
    elements, pagination = AlstyleClient(base_url=URL, token="t", min_interval=0).orders()
    assert (elements, pagination) == ([{"id": 7, "status": "N"}], {})


@responses.activate
def test_tracking_reads_further_pages_when_the_pagination_has_no_page_count(db):
    _tracked([701])
    today = timezone.localtime().strftime("%d.%m.%Y 10:00:00")
    older = [{"id": 800 - n, "date": today, "sum": 1, "status": "N"} for n in range(20)]
    answer("orders", {"type": 'index', "page": "1"}, json={"elements": older, "pagination": {"totalCount": 21}})
    answer("orders", {"type": 'index', "page": "2"}, json={
        "elements": [{"id": 701, "date": today, "sum": 1, "status": "SV"}], "pagination": {"totalCount": 21}})
    for kind in ("current", "archive", "canceled"):
        answer("orders", {"type": kind, "page": "1"}, json={"elements": [], "pagination": {"totalCount": 0}})
    answer("order", {"id": "701"}, json={"data": {"id": 701, "cart": [{"article": 1, "quantity": 1}]}})
    assert supplier_orders_track(client=AlstyleClient(base_url=URL, token="t", min_interval=0)) == 1
    assert SupplierOrder.objects.get().alstyle_status == "SV"


def test_the_sync_sweep_survives_one_bad_order_answer(shop, buyer):  # noqa: F811
    product, other = buyable(shop, 2)
    orders = [accepted(shop, buyer, [(product, 1)]), accepted(shop, buyer, [(other, 1)])]
    services.supplier_orders_propose()
    sent = [send(proposal_for(order), buyer) for order in orders]
    shop.state.alstyle_broken = {"order"}  # api/order answers 500, the lists still work
    shop.state.alstyle_advance_orders(31)
    supplier_orders_sync()
    assert [SupplierOrder.objects.get(pk=so.pk).alstyle_status for so in sent] == ["SV", "SV"]


def test_it_never_takes_back_an_article_someone_else_added_units_of(shop, buyer, monkeypatch):  # noqa: F811
    """Someone in the B2B portal adds one more of our article while ours go in: `remove` takes the whole
    line, theirs with ours, so the line stays, nothing is submitted, and people are told."""
    add = AlstyleClient.cart_add

    def add_and_someone_else_too(self, lines):
        answer = add(self, lines)
        shop.state.alstyle_foreign_cart_item(lines[0][0], 1)
        return answer

    [product] = buyable(shop)
    order = accepted(shop, buyer, [(product, 2)])
    services.supplier_orders_propose()
    monkeypatch.setattr(AlstyleClient, "cart_add", add_and_someone_else_too)
    held = send(proposal_for(order), buyer)
    assert held.state == "held"
    assert [line["quantity"] for line in shop.state.alstyle_cart.values()] == [3]
    assert not [r for r in shop.state.requests if r.path in ("cart-api/remove", "cart-api/clear", "cart-api/submit")]
    assert held.events.filter(notify=True).exists()
