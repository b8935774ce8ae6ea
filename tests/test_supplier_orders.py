"""Supplier orders: proposed for accepted Kaspi orders, approved by staff, sent to Al-Style's shared cart
exactly once, followed until Al-Style ships or cancels them; stock is never counted twice."""

from datetime import date

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse

from catalog.models import PricingRule, Product
from catalog.services import products_sync, stock_refresh
from feeds.services import feed_build
from jobs.locks import job_lock
from jobs.models import JobRun
from jobs.tasks import run
from monitoring.alerts import alerts_check
from orders.changes import status_change_approve, status_change_request, status_change_send
from orders.models import Order, StatusChange
from orders.stock import reserved_quantities
from orders.sync import order_import_by_code, orders_sync
from purchasing import services
from purchasing.models import Coverage, SupplierOrder
from purchasing.sending import CART_LOCK, next_working_day, supplier_order_send
from purchasing.services import SupplierOrderRefused
from purchasing.tracking import supplier_orders_sync
from tests.test_postgres import at_once
from tests.test_reservations import published_stock

PERMISSIONS = ["approve_supplierorder", "change_supplierorder", "cancel_supplierorder", "view_supplierorder",
               "view_supplierorderline", "view_coverage", "view_supplierorderevent", "approve_statuschange",
               "add_statuschange", "view_order", "view_statuschange"]


@pytest.fixture
def buyer(db):
    """A senior: approves status changes and supplier orders."""
    user = User.objects.create_user("buyer", password="pw-123456", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=PERMISSIONS))
    return User.objects.get(pk=user.pk)


@pytest.fixture
def clerk(db):
    user = User.objects.create_user("clerk", password="pw-123456", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_supplierorder", "view_order"]))
    return User.objects.get(pk=user.pk)


@pytest.fixture
def shop(sandbox, store):
    """The sandbox's catalogue synced and priced: Al-Style's articles are the products here."""
    PricingRule.objects.create(name="default", markup_percent=20)
    products_sync()
    return sandbox


def buyable(sandbox, count=1, *, multiplicity=None, stock=40):
    """Products Al-Style will sell: a real price, `stock` units at Al-Style, sold in `multiplicity`."""
    products = (Product.objects.filter(purchase_price__gt=1, price__gt=0, supplier_stock__gt=0, publish=True,
                                       multiplicity=multiplicity).order_by("article")[:count])
    assert len(products) == count
    for product in products:
        served = next(p for p in sandbox.state.alstyle_products if p["article"] == product.article)
        served["quantity"] = stock
        Product.objects.filter(pk=product.pk).update(supplier_stock=stock, supplier_quantity=str(stock))
    return [Product.objects.get(pk=product.pk) for product in products]


def accepted(sandbox, user, entries):
    """A Kaspi order with `entries` [(product, quantity)], imported and accepted at Kaspi."""
    kaspi = sandbox.state.add_order(entries=[(product.sku, quantity) for product, quantity in entries])
    order = order_import_by_code(code=kaspi["attributes"]["code"])
    change = status_change_request(order=order, action="accept", user=user)
    assert status_change_send(change_id=status_change_approve(change=change, user=user, queue=False).pk).state == "done"
    return Order.objects.get(pk=order.pk)


def lost_answer():
    """What a submit whose answer never came raises: it may have been applied at Al-Style."""
    from catalog.alstyle import AlstyleError

    lost = AlstyleError("no answer within 0.4 s", temporary=True)
    lost.maybe_applied = True
    return lost


def proposal_for(order):
    return SupplierOrder.objects.filter(coverage__order=order, state__in=SupplierOrder.LIVE).distinct().get()


def alstyle_orders(sandbox, code):
    """The orders Al-Style holds whose external_id names the Kaspi order `code`."""
    return [o for o in sandbox.state.alstyle_orders if code in o["external_id"].split(", ")]


def requests_to(sandbox, *endpoints):
    return [r for r in sandbox.state.requests if r.path in endpoints]


def send(supplier_order, user):
    services.supplier_order_approve(supplier_order=supplier_order, user=user, queue=False)
    return supplier_order_send(supplier_order_id=supplier_order.pk)


# --- proposals ----------------------------------------------------------------------------------


def test_it_proposes_what_own_stock_does_not_cover_once(shop, buyer):
    product, other = buyable(shop, 2)
    Product.objects.filter(pk=product.pk).update(own_stock=1)
    order = accepted(shop, buyer, [(product, 3), (other, 1)])
    assert services.supplier_orders_propose() == 1
    proposal = proposal_for(order)
    lines = {line.article: line for line in proposal.lines.all()}
    assert {article: (line.needed, line.quantity) for article, line in lines.items()} == {
        product.article: (2, 2), other.article: (1, 1)}
    assert lines[product.article].expected_price == product.cost
    assert proposal.state == "proposed" and services.kaspi_codes(proposal) == order.code
    assert services.supplier_orders_propose() == 0  # a line gets one proposal
    assert requests_to(shop, "cart-api/add", "cart-api/submit") == []  # nothing leaves before approval
    assert f"supplier-approval:{proposal.pk}" in {alert.key for alert in alerts_check().opened}


def test_it_rounds_up_to_alstyles_multiple_and_shows_it(shop, buyer, admin_client):
    [cable] = buyable(shop, multiplicity=5)
    order = accepted(shop, buyer, [(cable, 2)])
    services.supplier_orders_propose()
    [line] = proposal_for(order).lines.all()
    assert (line.needed, line.quantity, line.rounded_up) == (2, 5, True)
    page = admin_client.get(reverse("admin:purchasing_supplierorder_change", args=[line.supplier_order_id]))
    assert "rounded up from 2" in page.content.decode()


def test_it_proposes_nothing_for_orders_not_accepted(shop, buyer):
    """Only this order counts: the sandbox's own orders of the last day include accepted ones at some
    hours of the day, and those are rightly proposed."""
    [product] = buyable(shop)
    kaspi = shop.state.add_order(entries=[(product.sku, 1)])
    orders_sync(days=1)
    services.supplier_orders_propose()
    order = Order.objects.get(code=kaspi["attributes"]["code"])
    assert order.status == "APPROVED_BY_BANK"
    assert not Coverage.objects.filter(order=order).exists()


# --- sending: exactly once, never someone else's cart -------------------------------------------


def test_approving_in_the_admin_creates_exactly_one_alstyle_order(shop, buyer, client,
                                                                 django_capture_on_commit_callbacks):
    product, other = buyable(shop, 2)
    order = accepted(shop, buyer, [(product, 2), (other, 1)])
    supplier_orders_sync()
    proposal = proposal_for(order)
    client.force_login(buyer)
    url = reverse("admin:purchasing_supplierorder_change", args=[proposal.pk])
    page = client.get(url)
    assert page.status_code == 200 and "approve-supplier-order" in page.content.decode()
    form = page.context["adminform"].form
    data = {"shipping_date": "", "attorney_choice": "", "delivery_choice": "", "_approve": "1",
            **management_data(page)}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data)
    assert response.status_code == 302, form.errors
    proposal.refresh_from_db()
    assert proposal.state == "sent", proposal.message
    [made] = alstyle_orders(shop, order.code)
    assert made["id"] == proposal.alstyle_id and made["external_id"] == order.code
    assert {line["article"]: line["quantity"] for line in made["cart"]} == {product.article: 2, other.article: 1}
    assert made["attorney"]["Основной"] and made["delivery"]["Основной"]  # Al-Style's defaults
    assert made["shipping_date"] == next_working_day(date.today()).strftime("%d.%m.%Y")
    assert shop.state.alstyle_cart == {}
    history = list(proposal.events.values_list("text", flat=True))
    assert any("sent: Al-Style order" in text for text in history)
    assert any("added to Al-Style's cart" in text for text in history)

    supplier_orders_sync()  # again: nothing new
    assert len(alstyle_orders(shop, order.code)) == 1
    assert len(requests_to(shop, "cart-api/submit")) == 1


def management_data(page):
    """The inline formsets' management fields and rows as the page rendered them."""
    data = {}
    for formset in page.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        for name in management.fields:
            value = management[name].value()
            data[f"{management.prefix}-{name}"] = "" if value is None else value
        for form in formset.formset.forms:
            for name in form.fields:
                value = form[name].value()
                if value is not None:
                    data[form.add_prefix(name)] = value
    return data


def test_the_command_sends_once_and_says_so_the_second_time(shop, buyer, capsys):
    [product] = buyable(shop)
    order = accepted(shop, buyer, [(product, 2)])
    call_command("supplier_order", order.code, "--approved-by", "buyer")
    first = capsys.readouterr().out
    [made] = alstyle_orders(shop, order.code)
    assert f"Al-Style order: {made['id']}" in first
    call_command("supplier_order", order.code, "--approved-by", "buyer")
    assert "nothing to send; already sent" in capsys.readouterr().out
    assert len(alstyle_orders(shop, order.code)) == 1


def test_the_command_checks_who_approves_before_it_touches_anything(shop, buyer, clerk):
    [product] = buyable(shop)
    order = accepted(shop, buyer, [(product, 1)])
    with pytest.raises(CommandError, match="may not approve supplier orders"):
        call_command("supplier_order", order.code, "--approved-by", "clerk")
    with pytest.raises(CommandError, match="no active user"):
        call_command("supplier_order", order.code, "--approved-by", "nobody")
    assert not SupplierOrder.objects.exists()


def test_the_command_refuses_an_order_not_accepted(shop, buyer):
    [product] = buyable(shop)
    kaspi = shop.state.add_order(entries=[(product.sku, 1)])
    with pytest.raises(CommandError, match="supplier orders are for accepted orders"):
        call_command("supplier_order", kaspi["attributes"]["code"], "--approved-by", "buyer")


def test_only_users_with_the_permission_approve(shop, buyer, clerk):
    [product] = buyable(shop)
    order = accepted(shop, buyer, [(product, 1)])
    services.supplier_orders_propose()
    with pytest.raises(SupplierOrderRefused, match="may not approve"):
        services.supplier_order_approve(supplier_order=proposal_for(order), user=clerk, queue=False)
    assert proposal_for(order).state == "proposed"


def test_a_double_click_and_a_second_worker_send_once(shop, buyer):
    [product] = buyable(shop)
    order = accepted(shop, buyer, [(product, 1)])
    services.supplier_orders_propose()
    proposal = proposal_for(order)
    send(proposal, buyer)
    with pytest.raises(SupplierOrderRefused):
        services.supplier_order_approve(supplier_order=proposal, user=buyer, queue=False)
    supplier_order_send(supplier_order_id=proposal.pk)
    supplier_orders_sync()
    assert len(alstyle_orders(shop, order.code)) == 1


def test_a_send_while_another_holds_the_cart_waits_for_the_next_sweep(shop, buyer):
    [product] = buyable(shop)
    order = accepted(shop, buyer, [(product, 1)])
    services.supplier_orders_propose()
    proposal = proposal_for(order)
    with job_lock(CART_LOCK):
        assert send(proposal, buyer).state == "approved"
    assert requests_to(shop, "cart-api/get") == []
    supplier_orders_sync()
    assert proposal_for(order).state == "sent" and len(alstyle_orders(shop, order.code)) == 1


def test_a_foreign_item_in_the_cart_stops_everything_and_raises_an_alert(shop, buyer):
    product, theirs = buyable(shop, 2)
    order = accepted(shop, buyer, [(product, 1)])
    services.supplier_orders_propose()
    shop.state.alstyle_foreign_cart_item(theirs.article, 3)
    before = dict(shop.state.alstyle_cart)
    held = send(proposal_for(order), buyer)
    assert held.state == "held" and "not empty" in held.message
    assert shop.state.alstyle_cart == before
    assert requests_to(shop, "cart-api/add", "cart-api/remove", "cart-api/clear", "cart-api/submit") == []
    assert alstyle_orders(shop, order.code) == []
    [alert] = [alert for alert in alerts_check().opened if alert.kind == "supplier_order"]
    assert "not empty" in alert.message and str(theirs.article) in alert.message

    shop.state.alstyle_cart.clear()  # the partner's manager empties it; someone approves again
    assert send(held, buyer).state == "sent"
    assert len(alstyle_orders(shop, order.code)) == 1


def test_a_price_above_the_tolerance_stops_for_a_decision(shop, buyer, settings):
    settings.SUPPLIER_PRICE_TOLERANCE_PERCENT = 3
    [product] = buyable(shop)
    order = accepted(shop, buyer, [(product, 2)])
    services.supplier_orders_propose()
    proposal = proposal_for(order)
    proposal.lines.update(expected_price=int(product.cost * 0.9))  # Al-Style's price went up 11 %
    held = send(proposal, buyer)
    assert held.state == "held" and "above the expected" in held.message
    assert shop.state.alstyle_cart == {}  # our lines taken back out
    assert alstyle_orders(shop, order.code) == []
    again = send(held, buyer)  # approved again: at the price the cart showed
    assert again.state == "sent"
    assert again.lines.get().expected_price == product.cost


def test_a_price_within_the_tolerance_goes_through(shop, buyer, settings):
    settings.SUPPLIER_PRICE_TOLERANCE_PERCENT = 3
    [product] = buyable(shop)
    order = accepted(shop, buyer, [(product, 1)])
    services.supplier_orders_propose()
    proposal = proposal_for(order)
    proposal.lines.update(expected_price=int(product.cost / 1.02))
    assert send(proposal, buyer).state == "sent"


def test_a_late_answered_submit_is_found_not_sent_again(shop, buyer):
    [product] = buyable(shop)
    order = accepted(shop, buyer, [(product, 2)])
    services.supplier_orders_propose()
    shop.state.alstyle_submit_answers_late = True
    sent = send(proposal_for(order), buyer)
    supplier_orders_sync()
    sent.refresh_from_db()
    [made] = alstyle_orders(shop, order.code)
    assert (sent.state, sent.alstyle_id) == ("sent", made["id"])
    assert any("found among Al-Style's orders" in text for text in sent.events.values_list("text", flat=True))
    assert len(requests_to(shop, "cart-api/submit")) == 1


def test_a_sender_that_died_after_submitting_is_settled_by_the_lookup(shop, buyer, monkeypatch):
    """A worker killed between the submit and its answer: the next sweep finds the order, sends nothing."""
    from catalog.alstyle import AlstyleClient

    class Killed(BaseException):
        pass

    submit = AlstyleClient.cart_submit

    def submit_and_die(self, **fields):
        submit(self, **fields)
        raise Killed

    [product] = buyable(shop)
    order = accepted(shop, buyer, [(product, 1)])
    services.supplier_orders_propose()
    monkeypatch.setattr(AlstyleClient, "cart_submit", submit_and_die)
    with pytest.raises(Killed):
        send(proposal_for(order), buyer)
    monkeypatch.undo()
    assert proposal_for(order).state == "sending"
    supplier_orders_sync()
    sent = proposal_for(order)
    [made] = alstyle_orders(shop, order.code)
    assert (sent.state, sent.alstyle_id) == ("sent", made["id"])
    assert len(requests_to(shop, "cart-api/submit")) == 1


def test_a_lost_submit_nobody_can_find_is_never_sent_again_by_itself(shop, buyer, monkeypatch):
    """The cart emptied, no order to be found: adding the lines again could order twice, so a person decides."""
    from catalog.alstyle import AlstyleClient

    submit = AlstyleClient.cart_submit

    def submit_lost(self, **fields):
        number = submit(self, **fields)
        shop.state.alstyle_orders = [o for o in shop.state.alstyle_orders if o["id"] != number]
        raise lost_answer()

    [product] = buyable(shop)
    order = accepted(shop, buyer, [(product, 1)])
    services.supplier_orders_propose()
    monkeypatch.setattr(AlstyleClient, "cart_submit", submit_lost)
    assert send(proposal_for(order), buyer).state == "uncertain"
    monkeypatch.undo()
    for _ in range(10):
        supplier_orders_sync()
    held = proposal_for(order)
    assert held.state == "held" and "check the orders in the B2B portal" in held.message
    assert len(requests_to(shop, "cart-api/add")) == 1 and len(requests_to(shop, "cart-api/submit")) == 1

    assert send(held, buyer).state == "sent"  # a person looked: it is not there
    assert len(alstyle_orders(shop, order.code)) == 1


def test_exactly_one_order_each_under_twenty_percent_faults(shop, buyer, settings):
    settings.HTTP_RETRIES = 1
    products = buyable(shop, 6)
    orders = [accepted(shop, buyer, [(product, 1)]) for product in products]
    services.supplier_orders_propose()
    shop.state.fail_rate = 0.2
    shop.state.fault_kinds = ("500", "502", "bad_json", "slow")
    for order in orders:
        try:
            send(proposal_for(order), buyer)
        except Exception:
            pass  # a failed send stays for the sweeps
    for _ in range(8):
        try:
            supplier_orders_sync()
        except Exception:
            continue
    shop.state.fail_rate = 0
    supplier_orders_sync()
    for order in orders:
        supplier_order = SupplierOrder.objects.filter(coverage__order=order).distinct().get()
        assert supplier_order.state == "sent", supplier_order.message
        [made] = alstyle_orders(shop, order.code)
        assert made["id"] == supplier_order.alstyle_id
    assert shop.state.alstyle_cart == {}


# --- merging and withdrawing --------------------------------------------------------------------


def test_proposals_merge_into_one_order_for_both_kaspi_orders(shop, buyer):
    product, other = buyable(shop, 2)
    first = accepted(shop, buyer, [(product, 1)])
    second = accepted(shop, buyer, [(product, 2), (other, 1)])
    services.supplier_orders_propose()
    merged = services.supplier_orders_merge(supplier_orders=[proposal_for(second), proposal_for(first)], user=buyer)
    assert SupplierOrder.objects.filter(state="merged").count() == 1
    assert {line.article: line.quantity for line in merged.lines.all()} == {product.article: 3, other.article: 1}
    assert send(merged, buyer).state == "sent"
    [made] = alstyle_orders(shop, first.code)
    assert made["external_id"] == f"{first.code}, {second.code}" and alstyle_orders(shop, second.code) == [made]


def test_only_proposals_merge(shop, buyer):
    product, other = buyable(shop, 2)
    first, second = accepted(shop, buyer, [(product, 1)]), accepted(shop, buyer, [(other, 1)])
    services.supplier_orders_propose()
    send(proposal_for(first), buyer)
    with pytest.raises(SupplierOrderRefused, match="only proposals can be merged"):
        services.supplier_orders_merge(supplier_orders=[proposal_for(first), proposal_for(second)], user=buyer)
    assert proposal_for(second).state == "proposed"


def test_a_kaspi_order_cancelled_before_sending_withdraws_its_lines(shop, buyer):
    product, other = buyable(shop, 2)
    first = accepted(shop, buyer, [(product, 1)])
    second = accepted(shop, buyer, [(other, 2)])
    services.supplier_orders_propose()
    merged = services.supplier_orders_merge(supplier_orders=[proposal_for(first), proposal_for(second)], user=buyer)
    services.supplier_order_approve(supplier_order=merged, user=buyer, queue=False)
    shop.state.find_order(code=second.code)["attributes"].update(status="CANCELLED", state="ARCHIVE")
    orders_sync(days=1)
    supplier_orders_sync()
    merged.refresh_from_db()
    assert merged.state == "sent"
    [made] = alstyle_orders(shop, first.code)
    assert made["cart"][0]["article"] == product.article and len(made["cart"]) == 1
    assert made["external_id"] == first.code

    lonely = accepted(shop, buyer, [(other, 1)])
    services.supplier_orders_propose()
    shop.state.find_order(code=lonely.code)["attributes"].update(status="CANCELLED", state="ARCHIVE")
    orders_sync(days=1)
    supplier_orders_sync()
    assert SupplierOrder.objects.filter(coverage__order=lonely).distinct().get().state == "withdrawn"
    assert alstyle_orders(shop, lonely.code) == []


def test_quantities_change_only_in_alstyles_multiples_while_proposed(shop, buyer):
    [cable] = buyable(shop, multiplicity=5)
    order = accepted(shop, buyer, [(cable, 2)])
    services.supplier_orders_propose()
    [line] = proposal_for(order).lines.all()
    with pytest.raises(SupplierOrderRefused, match="multiples of 5"):
        services.supplier_line_set_quantity(line=line, quantity=7, user=buyer)
    services.supplier_line_set_quantity(line=line, quantity=10, user=buyer)
    assert send(proposal_for(order), buyer).state == "sent"
    [made] = alstyle_orders(shop, order.code)
    assert made["cart"][0]["quantity"] == 10
    with pytest.raises(SupplierOrderRefused, match="awaits a decision"):
        services.supplier_line_set_quantity(line=line, quantity=5, user=buyer)


# --- tracking -----------------------------------------------------------------------------------


def test_statuses_reach_the_admin_as_alstyle_moves_them(shop, buyer, admin_client):
    [product] = buyable(shop)
    order = accepted(shop, buyer, [(product, 1)])
    services.supplier_orders_propose()
    sent = send(proposal_for(order), buyer)
    supplier_orders_sync()
    seen = []
    for minutes in (0, 31, 100, 24 * 60):
        shop.state.alstyle_advance_orders(minutes)
        supplier_orders_sync()
        sent.refresh_from_db()
        seen.append(sent.alstyle_status)
    assert seen == ["N", "SV", "OK", "F"]
    history = list(sent.events.values_list("text", flat=True))
    assert any("→ ready to ship" in text for text in history)
    page = admin_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert str(sent.alstyle_id) in page and "shipped and paid" in page


def test_a_supplier_order_alstyle_cancels_proposes_cancelling_the_kaspi_lines(shop, buyer):
    [product] = buyable(shop)
    order = accepted(shop, buyer, [(product, 2)])
    services.supplier_orders_propose()
    shop.state.alstyle_supplier_cancels_next = 1
    sent = send(proposal_for(order), buyer)
    assert product.sku not in reserved_quantities()  # bought: Al-Style's stock holds it no more
    shop.state.alstyle_advance_orders(31)
    supplier_orders_sync()
    sent.refresh_from_db()
    assert (sent.state, sent.alstyle_status) == ("cancelled", "DA")
    assert reserved_quantities()[product.sku] == 2  # held again
    proposal = StatusChange.objects.get(order=order, state="pending")
    assert (proposal.action, proposal.reason, proposal.proposed) == ("cancel", "MERCHANT_OUT_OF_STOCK", True)
    assert str(sent.alstyle_id) in proposal.comment
    opened = alerts_check().opened
    assert any(alert.kind == "supplier_order" and "cancelled" in alert.message for alert in opened)
    supplier_orders_sync()  # asked once
    assert StatusChange.objects.filter(order=order).count() == 2  # the accept and the proposal


def test_a_shorted_line_proposes_cancelling_only_its_missing_units(shop, buyer):
    product, other = buyable(shop, 2)
    order = accepted(shop, buyer, [(product, 3), (other, 1)])
    services.supplier_orders_propose()
    sent = send(proposal_for(order), buyer)
    made = shop.state.alstyle_find_order(sent.alstyle_id)
    next(line for line in made["cart"] if line["article"] == product.article)["quantity"] = 1  # Al-Style shorts it
    shop.state.alstyle_advance_orders(31)
    supplier_orders_sync()
    proposal = StatusChange.objects.get(order=order, state="pending")
    assert (proposal.action, proposal.sku, proposal.keep_quantity) == ("cancel_entry", product.sku, 1)
    assert reserved_quantities()[product.sku] == 2


def test_cancelling_at_alstyle_needs_its_own_permission(shop, buyer, clerk):
    [product] = buyable(shop)
    order = accepted(shop, buyer, [(product, 1)])
    services.supplier_orders_propose()
    sent = send(proposal_for(order), buyer)
    with pytest.raises(SupplierOrderRefused, match="may not cancel"):
        services.supplier_order_cancel(supplier_order=sent, user=clerk)
    cancelled = services.supplier_order_cancel(supplier_order=sent, user=buyer)
    assert cancelled.state == "cancelled"
    assert reserved_quantities()[product.sku] == 1
    supplier_orders_sync()
    cancelled.refresh_from_db()
    assert cancelled.alstyle_status == "DA"
    assert not StatusChange.objects.filter(order=order, state="pending").exists()  # our decision, not Al-Style's


# --- stock --------------------------------------------------------------------------------------


def test_the_feed_drops_once_while_held_and_not_again_when_bought(shop, buyer, settings):
    [product] = buyable(shop, stock=10)
    feed_build()
    assert published_stock(settings, product.sku)[0] == 10
    order = accepted(shop, buyer, [(product, 2)])
    orders_sync(days=1)
    feed_build()
    assert published_stock(settings, product.sku)[0] == 8  # the Kaspi order holds two
    services.supplier_orders_propose()
    send(proposal_for(order), buyer)
    served = next(p for p in shop.state.alstyle_products if p["article"] == product.article)
    served["quantity"] = 8  # Al-Style's stock drops by what it sold us
    stock_refresh()
    feed_build()
    assert published_stock(settings, product.sku)[0] == 8  # not 6


# --- jobs, commands, dates ----------------------------------------------------------------------


def test_the_sync_command_and_the_job_share_one_lock(db):
    with job_lock("supplier-orders"):
        with pytest.raises(CommandError, match="another supplier order sync is running"):
            call_command("sync_supplier_orders")
        assert run("sync_supplier_orders").startswith("skipped:")


def test_the_sync_command_proposes_and_reports(shop, buyer, capsys):
    [product] = buyable(shop)
    accepted(shop, buyer, [(product, 1)])
    call_command("sync_supplier_orders")
    assert "1 proposed" in capsys.readouterr().out


def test_auto_approval_sends_without_a_person_when_the_setting_says_so(shop, buyer, settings):
    [product] = buyable(shop)
    order = accepted(shop, buyer, [(product, 1)])
    settings.SUPPLIER_AUTO_APPROVE = True
    supplier_orders_sync()
    sent = SupplierOrder.objects.filter(coverage__order=order).distinct().get()
    assert (sent.state, sent.approved_by) == ("sent", None)
    assert len(alstyle_orders(shop, order.code)) == 1


def test_an_order_import_is_followed_by_the_supplier_order_sync(shop, buyer):
    [product] = buyable(shop)
    order = accepted(shop, buyer, [(product, 1)])
    run("sync_orders")
    assert JobRun.objects.filter(kind="sync_supplier_orders", outcome="ok").exists()
    assert proposal_for(order).state == "proposed"


@pytest.mark.parametrize("today, days, expected", [
    (date(2026, 5, 14), 1, date(2026, 5, 15)),  # Thursday → Friday
    (date(2026, 5, 15), 1, date(2026, 5, 18)),  # Friday → Monday
    (date(2026, 5, 16), 1, date(2026, 5, 18)),  # Saturday → Monday
    (date(2026, 5, 15), 2, date(2026, 5, 19)),
    (date(2026, 5, 16), 0, date(2026, 5, 18)),
])
def test_the_shipping_date_is_the_next_working_day(today, days, expected):
    assert next_working_day(today, days) == expected


def test_the_list_costs_a_constant_number_of_queries(shop, buyer, admin_client, django_assert_max_num_queries):
    products = buyable(shop, 5)
    url = reverse("admin:purchasing_supplierorder_changelist")
    accepted(shop, buyer, [(products[0], 1)])
    services.supplier_orders_propose()
    with django_assert_max_num_queries(20) as few:
        admin_client.get(url)
    for product in products[1:]:
        accepted(shop, buyer, [(product, 1)])
    services.supplier_orders_propose()
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = admin_client.get(url)
    assert page.context["cl"].result_count == 5


# --- roles and PostgreSQL -----------------------------------------------------------------------


def test_the_orders_role_sees_supplier_orders_and_the_seniors_decide(client, db):
    clerk = User.objects.create_user("orders-clerk", password="x", is_staff=True)
    clerk.groups.add(Group.objects.get(name="Заказы"))
    senior = User.objects.create_user("senior", password="x", is_staff=True)
    senior.groups.add(Group.objects.get(name="Старшие"))
    client.force_login(clerk)
    assert client.get(reverse("admin:purchasing_supplierorder_changelist")).status_code == 200
    assert not clerk.has_perm("purchasing.approve_supplierorder")
    assert senior.has_perms(["purchasing.approve_supplierorder", "purchasing.cancel_supplierorder",
                             "purchasing.change_supplierorder"])


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs DATABASE_URL=postgres://…")
def test_workers_on_postgresql_at_once_make_one_order_each(transactional_db, shop, buyer):
    product, other = buyable(shop, 2)
    first, second = accepted(shop, buyer, [(product, 1)]), accepted(shop, buyer, [(other, 1)])
    services.supplier_orders_propose()
    pks = [services.supplier_order_approve(supplier_order=proposal_for(order), user=buyer, queue=False).pk
           for order in (first, second)]
    at_once(*[lambda pk=pk: supplier_order_send(supplier_order_id=pk) for pk in [pks[0], pks[0], pks[1]]])
    supplier_orders_sync()  # whichever found the cart taken goes now
    for order in (first, second):
        assert proposal_for(order).state == "sent"
        assert len(alstyle_orders(shop, order.code)) == 1
