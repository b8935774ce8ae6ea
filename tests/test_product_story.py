"""The product page tells the product's whole story; the order page shows stock and only the possible actions."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils import timezone

from catalog.models import PriceChange, PricingRule, Product, Store
from catalog.services import product_set_price
from orders.models import Order, OrderEntry

ALMATY_ONLY = "almaty"


@pytest.fixture
def product(store, make_product):
    """A product priced by a rule, held in part by one open order, sold before in a finished one."""
    Store.objects.create(store_id="PP2", name="Astana", warehouses=ALMATY_ONLY)
    PricingRule.objects.create(name="Base markup", markup_percent=20)
    product = make_product(name="Ноутбук Lenovo", purchase_price=10000, discount_price=9000, price=12990,
                           supplier_stock=7, warehouse_stock={"almaty": 3, "astana": 4})
    for number, status, units in (("101", "ACCEPTED_BY_MERCHANT", 2), ("102", "COMPLETED", 1)):
        order = Order.objects.create(kaspi_id=f"K{number}", code=number, state="NEW", status=status,
                                     total_price=12990 * units,
                                     created_at_kaspi=timezone.now() - timedelta(days=int(number) - 100))
        OrderEntry.objects.create(order=order, sku=product.sku, name=product.name, product=product, quantity=units,
                                  unit_price=12990, total_price=12990 * units)
    return product


def page_of(client, product):
    return client.get(reverse("admin:catalog_product_change", args=[product.pk])).content.decode()


def panel(page):
    start = page.index('id="product-story"')
    return page[start:page.index("</fieldset>", start)]


@pytest.fixture
def manager(db, client):
    """Staff who edit products, without the sales reports: no margins."""
    user = User.objects.create_user("manager", password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_product", "change_product"]))
    client.force_login(user)
    return client


def test_it_tells_the_whole_story(admin_client, product):
    story = panel(page_of(admin_client, product))
    assert "Base markup" in story  # the rule
    assert "9\u00a0000\u00a0₸ (partner price)" in story  # the cost
    assert "3\u00a0990\u00a0₸ (30.7 % of the price" in story  # the margin
    assert "7 units" in story and "almaty: 3, astana: 4" in story  # at the supplier, per warehouse
    assert 'id="story-reserved">2 units<' in story  # the accepted order holds 2; the completed one nothing
    assert "Main" in story and "Astana" in story  # one offer per store: all 5 free units, or Almaty's 3 of them
    assert "<td>5 units</td>" in story and "<td>3 units</td>" in story
    for order in Order.objects.all():
        assert reverse("admin:orders_order_change", args=[order.pk]) in story
    assert story.index("№101") < story.index("№102")  # the newest first


def test_a_plain_manager_sees_no_margin(manager, product):
    story = panel(page_of(manager, product))
    assert "Base markup" in story and "9\u00a0000\u00a0₸" in story
    assert "story-margin" not in story and "3\u00a0990" not in story


def test_it_says_which_manager_set_the_price_and_when(admin_client, admin_user, product):
    product_set_price(product=product, price=13490, user=admin_user)
    story = panel(page_of(admin_client, product))
    change = PriceChange.objects.get(product=product)
    assert "12\u00a0990\u00a0₸ → 13\u00a0490\u00a0₸" in story and "admin" in story
    assert change.get_source_display() in story and "Set by hand and locked" in story


def test_the_story_costs_a_few_queries_however_many_orders(admin_client, product, django_assert_max_num_queries):
    with django_assert_max_num_queries(25) as few:
        page_of(admin_client, product)
    for number in range(200, 220):
        order = Order.objects.create(kaspi_id=f"K{number}", code=str(number), state="NEW", status="APPROVED_BY_BANK",
                                     total_price=12990, created_at_kaspi=timezone.now())
        OrderEntry.objects.create(order=order, sku=product.sku, name=product.name, product=product, quantity=1,
                                  unit_price=12990, total_price=12990)
    with django_assert_max_num_queries(len(few.captured_queries)):
        story = panel(page_of(admin_client, product))
    assert 'id="story-reserved">22 units<' in story


def order_page(client, order):
    return client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()


def test_the_order_page_shows_the_stock_of_each_line(admin_client, product):
    Product.objects.filter(pk=product.pk).update(own_stock=1)
    page = order_page(admin_client, Order.objects.get(code="101"))
    assert "supplier: 7" in page and "own: 1" in page and "held by open orders: 2" in page


def test_an_accepted_order_offers_no_accept(admin_client, product):
    page = order_page(admin_client, Order.objects.get(code="101"))
    actions = page[page.index('name="action"'):]
    actions = actions[:actions.index("</select>")]
    assert 'value="accept"' not in actions and 'value="complete"' in actions and 'value="cancel"' in actions


def test_a_new_order_offers_accept_and_a_finished_one_nothing(admin_client, product):
    Order.objects.filter(code="101").update(status="APPROVED_BY_BANK")
    assert 'value="accept"' in order_page(admin_client, Order.objects.get(code="101"))
    finished = order_page(admin_client, Order.objects.get(code="102"))
    assert 'id="status-request"' not in finished and 'id="nothing-to-request"' in finished
