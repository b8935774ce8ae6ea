"""The admin's search finds Russian text whatever its case or `ё`, and a phone however it is typed, on every
database: SQLite's LIKE folds only ASCII letters, so the search compares folded forms."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from catalog.models import Product
from common.text import fold, phone_digits
from jobs.models import JobRun
from orders.models import Order

LAPTOPS = ["Ноутбук Lenovo IdeaPad 3", "НОУТБУК ASUS VivoBook", "ноутбук HP 250 G9"]
PHONE = "+77471234567"  # as Kaspi sends the buyer's cellPhone


def postgres_only(test):
    """Run by `make test` against PostgreSQL, as tests/test_postgres.py is."""
    skip = pytest.mark.skipif(connection.vendor != "postgresql", reason="needs DATABASE_URL=postgres://…")
    return pytest.mark.postgres(skip(test))


@pytest.fixture
def catalogue(make_product):
    laptops = [make_product(name=name) for name in LAPTOPS]
    make_product(name="Мышь для ноутбука Logitech")
    make_product(name="Клавиатура Defender", full_name="Клавиатура Defender Оптима, чёрная")
    return laptops


def with_the_mouse(laptops):
    return {*laptops, Product.objects.get(name__startswith="Мышь")}


def found(client, model, query):
    meta = model._meta
    response = client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"), {"q": query})
    assert response.status_code == 200
    return set(response.context["cl"].result_list)


def make_order(code, **fields):
    return Order.objects.create(kaspi_id=f"K{code}", code=code, state="NEW", status="APPROVED_BY_BANK",
                                created_at_kaspi=timezone.now(), **fields)


def test_it_folds_case_yo_and_white_space():
    assert fold("  Чёрная\tКЛАВИАТУРА  Ёлка ") == "черная клавиатура елка"
    assert fold(None) == ""


@pytest.mark.parametrize("typed", ["+7 (747) 123-45-67", "8 747 123 45 67", "87471234567", "7471234567",
                                   "+77471234567", "747-123-45-67"])
def test_it_keeps_a_phones_ten_digits(typed):
    assert phone_digits(typed) == "7471234567"


@pytest.mark.parametrize("query", ["ноутбук", "НОУТБУК", "Ноутбук"])
def test_it_finds_russian_names_whatever_the_case(admin_client, catalogue, query):
    assert found(admin_client, Product, query) == with_the_mouse(catalogue)


def test_it_finds_words_of_the_full_name_with_e_for_yo(admin_client, catalogue):
    keyboard = Product.objects.get(name="Клавиатура Defender")
    assert found(admin_client, Product, "черная клавиатура") == {keyboard}
    assert found(admin_client, Product, '"defender оптима"') == {keyboard}


def test_it_still_finds_a_product_by_its_exact_article_and_its_brand(admin_client, make_product):
    product = make_product(article=987654, sku="X987654", name="Колонка", brand="Гарнизон")
    make_product(article=9876541, sku="Y1", name="Колонка другая")
    assert found(admin_client, Product, "987654") == {product}
    assert found(admin_client, Product, "гарнизон колонка") == {product}


def test_a_product_saved_with_some_fields_keeps_its_search_text(make_product):
    product = make_product(name="Ноутбук")
    product.name = "Планшет"
    product.save(update_fields=["name"])
    product.refresh_from_db()
    assert product.search_text == "планшет"
    Product.objects.filter(pk=product.pk).update(search_text="")
    product.price = 100
    product.save(update_fields=["price"])  # the price alone: nothing else written
    assert Product.objects.get(pk=product.pk).search_text == ""


@pytest.fixture
def orders(db):
    return (make_order("101", customer_name="Сапарова Айгерим Ёрбековна", customer_phone=PHONE),
            make_order("102", customer_name="Иванов Пётр", customer_phone="+77011234500"))


@pytest.mark.parametrize("typed", ["8 747 123 45 67", "+7 747 123 45 67", "+7 (747) 123-45-67", "87471234567",
                                   "7471234567", "747 123 45 67"])
def test_it_finds_an_order_by_its_phone_however_it_is_typed(admin_client, orders, typed):
    assert found(admin_client, Order, typed) == {orders[0]}


@pytest.mark.parametrize("typed", ["747-123", "+7 747", "8(747)12", "айгер"])
def test_a_part_of_a_phone_or_of_a_name_finds_nothing(admin_client, orders, typed):
    assert found(admin_client, Order, typed) == set()  # both are kept only as keyed hashes of the whole


@pytest.mark.parametrize("typed", ["сапарова", "САПАРОВА айгерим", "ербековна"])
def test_it_finds_an_order_by_its_buyer_whatever_the_case(admin_client, orders, typed):
    assert found(admin_client, Order, typed) == {orders[0]}


def test_the_order_number_is_still_found_exactly(admin_client, orders):
    assert found(admin_client, Order, "102") == {orders[1]}


def test_an_order_saved_with_a_new_phone_is_found_by_it(admin_client, orders):
    order = orders[1]
    order.customer_phone = "+7 705 000 11 22"
    order.save(update_fields=["customer_phone"])
    assert found(admin_client, Order, "8 705 000 11 22") == {order}


def test_without_the_permission_for_buyers_a_phone_finds_nothing(client, orders):
    user = User.objects.create_user("clerk", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(user)
    assert found(client, Order, "8 747 123 45 67") == set()
    assert found(client, Order, "сапарова") == set()
    assert found(client, Order, "101") == {orders[0]}


def test_a_log_list_finds_russian_text_whatever_the_case(admin_client, db):
    run = JobRun.objects.create(kind="sync_orders", outcome="failed", error="Заказ 123 не сохранён: ОШИБКА базы")
    JobRun.objects.create(kind="sync_orders", outcome="ok", notes="всё хорошо")
    assert found(admin_client, JobRun, "ошибка сохранен") == {run}


def test_every_searchable_admin_list_takes_a_russian_query(admin_client, db):
    searchable = [model for model, model_admin in admin.site._registry.items() if model_admin.search_fields]
    assert Product in searchable and Order in searchable
    for model in searchable:
        found(admin_client, model, "Ёлка 8 747")


@postgres_only
@pytest.mark.parametrize("query", ["ноутбук", "НОУТБУК", "Ноутбук"])
def test_on_postgresql_it_finds_russian_names_whatever_the_case(admin_client, catalogue, query):
    assert found(admin_client, Product, query) == with_the_mouse(catalogue)


@postgres_only
def test_on_postgresql_it_finds_phones_buyers_and_log_texts(admin_client, orders):
    assert found(admin_client, Order, "8 747 123 45 67") == found(admin_client, Order, "+7 747 1234567") == {orders[0]}
    assert found(admin_client, Order, "ербековна") == {orders[0]}
    run = JobRun.objects.create(kind="sync_orders", outcome="failed", error="Заказ не сохранён:  ОШИБКА базы")
    assert found(admin_client, JobRun, '"сохранен: ошибка"') == {run}
