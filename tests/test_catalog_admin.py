import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from catalog.models import Brand, Category, City, PriceChange, PricingRule, Product, Store
from jobs.models import JobRun


@pytest.fixture
def catalogue(make_product, store):
    PricingRule.objects.create(name="default", markup_percent=20)
    Category.objects.create(id=5, name="Колонки")
    City.objects.create(city_id="750000000", name="Алматы")
    JobRun.objects.create(kind="catalog", outcome="failed", error="HTTP 500")
    return [make_product(brand="Xiaomi", category=5, name=f"Колонка {i}") for i in range(30)]


@pytest.mark.parametrize("model", [Product, PricingRule, Category, Brand, Store, City, PriceChange, JobRun])
def test_it_opens_every_catalogue_page_for_a_superuser(admin_client, catalogue, model):
    meta = model._meta
    changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    assert admin_client.get(changelist).status_code == 200
    obj = model.objects.first()
    if obj is not None:
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
        assert admin_client.get(url).status_code == 200


def test_the_product_list_costs_a_constant_number_of_queries(admin_client, catalogue, make_product,
                                                            django_assert_max_num_queries):
    url = reverse("admin:catalog_product_changelist")
    with django_assert_max_num_queries(25) as first:
        admin_client.get(url)
    for i in range(40):
        make_product(brand=f"Brand {i}")
    with django_assert_max_num_queries(len(first.captured_queries)):
        admin_client.get(url)


@pytest.mark.parametrize("query", ["Колонка 7", "Xiaomi"])
def test_it_searches_products(admin_client, catalogue, query):
    response = admin_client.get(reverse("admin:catalog_product_changelist"), {"q": query})
    assert response.context["cl"].result_count >= 1


def test_it_searches_by_sku(admin_client, catalogue):
    response = admin_client.get(reverse("admin:catalog_product_changelist"), {"q": catalogue[3].sku})
    assert list(response.context["cl"].result_list) == [catalogue[3]]


def post_action(client, action, products):
    return client.post(reverse("admin:catalog_product_changelist"),
                       {"action": action, "_selected_action": [p.pk for p in products]}, follow=True)


def test_it_hides_and_publishes_in_bulk(admin_client, catalogue):
    post_action(admin_client, "hide_items", catalogue[:3])
    assert Product.objects.filter(publish=False).count() == 3
    post_action(admin_client, "publish_items", catalogue[:3])
    assert Product.objects.filter(publish=False).count() == 0


def test_it_locks_unlocks_and_applies_rules(admin_client, catalogue):
    post_action(admin_client, "lock_prices", catalogue[:2])
    assert Product.objects.filter(price_locked=True).count() == 2
    post_action(admin_client, "unlock_prices", catalogue[:2])
    assert Product.objects.filter(price_locked=True).count() == 0
    assert set(Product.objects.filter(pk__in=[p.pk for p in catalogue[:2]]).values_list("price", flat=True)) == {12000}
    response = post_action(admin_client, "apply_rules", catalogue)
    assert "28 prices changed" in response.content.decode()


def test_a_list_edit_of_the_price_locks_it_and_records_who(admin_client, admin_user, catalogue):
    product = catalogue[0]
    url = reverse("admin:catalog_product_changelist")
    page = admin_client.get(url, {"q": product.sku})
    form = page.context["cl"].formset
    data = {"form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "form-0-id": str(product.pk),
            "form-0-price": str(product.purchase_price + 990), "form-0-manual_stock": "4", "form-0-publish": "on",
            "_save": "Save"}
    assert form is not None
    response = admin_client.post(url + f"?q={product.sku}", data, follow=True)
    assert response.status_code == 200
    product.refresh_from_db()
    assert (product.price, product.price_locked, product.manual_stock) == (product.purchase_price + 990, True, 4)
    change = PriceChange.objects.get(product=product)
    assert (change.old_price, change.new_price, change.user) == (12990, product.purchase_price + 990, admin_user)


def test_it_refuses_a_zero_price(admin_client, catalogue):
    product = catalogue[0]
    url = reverse("admin:catalog_product_change", args=[product.pk])
    response = admin_client.post(url, {"price": "0", "publish": "on", "price_change_set-TOTAL_FORMS": "0",
                                       "price_changes-TOTAL_FORMS": "0", "price_changes-INITIAL_FORMS": "0"})
    assert response.status_code == 200
    assert "positive" in response.content.decode() or "положительн" in response.content.decode()
    product.refresh_from_db()
    assert product.price == 12990


def test_confirming_held_prices_needs_the_permission(client, catalogue):
    Product.objects.filter(pk=catalogue[0].pk).update(proposed_price=20000)
    manager = User.objects.create_user("manager", password="pw-123456", is_staff=True)
    manager.user_permissions.add(*Permission.objects.filter(codename__in=["view_product", "change_product"]))
    client.force_login(manager)
    response = post_action(client, "confirm_prices", catalogue[:1])
    assert Product.objects.get(pk=catalogue[0].pk).proposed_price == 20000
    assert response.status_code in (200, 403)
    manager.user_permissions.add(Permission.objects.get(codename="confirm_price"))
    manager = User.objects.get(pk=manager.pk)
    client.force_login(manager)
    post_action(client, "confirm_prices", catalogue[:1])
    assert Product.objects.get(pk=catalogue[0].pk).price == 20000


def test_sync_runs_are_read_only(admin_client, catalogue):
    run = JobRun.objects.first()
    assert admin_client.get(reverse("admin:jobs_jobrun_add")).status_code == 403
    response = admin_client.post(reverse("admin:jobs_jobrun_change", args=[run.pk]), {"error": "edited"})
    assert response.status_code == 403


@pytest.mark.parametrize("query, expected", [
    ({"in_stock": "yes"}, {"A1", "A3"}),
    ({"in_stock": "no"}, {"A2", "A4"}),
    ({"on_request": "yes"}, {"A4"}),
    ({"on_request": "no"}, {"A1", "A2", "A3"}),
])
def test_the_yes_no_filters_pick_the_right_products(admin_client, make_product, query, expected):
    make_product(sku="A1", supplier_stock=5)
    make_product(sku="A2", supplier_stock=0)
    make_product(sku="A3", supplier_stock=0, manual_stock=2)
    make_product(sku="A4", supplier_stock=5, manual_stock=0, purchase_price=1)
    response = admin_client.get(reverse("admin:catalog_product_changelist"), query)
    assert {p.sku for p in response.context["cl"].result_list} == expected


def test_an_own_stock_edit_adds_what_the_manager_typed_to_what_is_there_now(admin_client, catalogue):
    product = catalogue[0]
    Product.objects.filter(pk=product.pk).update(own_stock=3)
    url = reverse("admin:catalog_product_change", args=[product.pk])
    response = admin_client.get(url)
    assert 'name="initial-own_stock" value="3"' in response.content.decode()  # what the manager saw
    page = response.context
    form = page["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name in form.fields}
    data.update({"own_stock": "5", "initial-own_stock": "3", "publish": "on"})
    for inline in page["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update({f"{management.prefix}-{name}": value for name, value in management.initial.items()})
    Product.objects.filter(pk=product.pk).update(own_stock=1)  # an order took two units meanwhile
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Product.objects.get(pk=product.pk).own_stock == 1 + 2


def test_locking_a_price_is_in_the_price_history_with_who(admin_client, admin_user, catalogue):
    post_action(admin_client, "lock_prices", catalogue[:2])
    post_action(admin_client, "lock_prices", catalogue[:2])  # already locked: nothing more to record
    locks = PriceChange.objects.filter(source="locked")
    assert sorted(locks.values_list("product_id", flat=True)) == sorted(p.pk for p in catalogue[:2])
    assert {(c.old_price, c.new_price, c.user) for c in locks} == {(12990, 12990, admin_user)}


def test_publish_and_hide_report_what_they_changed(admin_client, catalogue):
    response = post_action(admin_client, "hide_items", catalogue[:3])
    assert "3 products hidden" in response.content.decode()
    response = post_action(admin_client, "hide_items", catalogue[:3])
    assert "0 products hidden" in response.content.decode()
    assert Product.objects.filter(publish=False).count() == 3


def test_a_price_below_cost_is_refused_in_the_list_and_the_filter_finds_such_offers(admin_client, catalogue):
    product, sold_at_a_loss = catalogue[0], catalogue[1]
    Product.objects.filter(pk=sold_at_a_loss.pk).update(price=100)  # from before this rule
    url = reverse("admin:catalog_product_changelist")
    data = {"form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "form-0-id": str(product.pk),
            "form-0-price": "100", "form-0-manual_stock": "", "form-0-publish": "on", "_save": "Save"}
    response = admin_client.post(url + f"?q={product.sku}", data)
    assert "below the purchase cost" in response.content.decode()
    product.refresh_from_db()
    assert (product.price, product.price_locked) == (12990, False)  # nothing saved, nothing locked
    listed = admin_client.get(url, {"below_cost": "yes"})
    assert [p.pk for p in listed.context["cl"].result_list] == [sold_at_a_loss.pk]


def test_selling_below_cost_takes_the_permission_and_an_explicit_confirmation(client, catalogue):
    from django.contrib.auth.models import Permission, User

    from catalog.services import PriceRefused, product_set_price

    product = catalogue[0]
    manager = User.objects.create_user("manager", password="x", is_staff=True)
    manager.user_permissions.add(*Permission.objects.filter(codename__in=["view_product", "change_product"]))
    manager = User.objects.get(pk=manager.pk)
    with pytest.raises(PriceRefused, match="below the purchase cost"):
        product_set_price(product=product, price=5000, user=manager, below_cost_confirmed=True)  # no permission
    client.force_login(manager)
    page = client.get(reverse("admin:catalog_product_change", args=[product.pk])).content.decode()
    assert "below_cost_confirmed" not in page

    manager.user_permissions.add(Permission.objects.get(codename="sell_below_cost"))
    manager = User.objects.get(pk=manager.pk)
    with pytest.raises(PriceRefused):
        product_set_price(product=product, price=5000, user=manager)  # allowed, but not confirmed
    product_set_price(product=product, price=5000, user=manager, below_cost_confirmed=True)
    product.refresh_from_db()
    assert (product.price, product.price_locked) == (5000, True)


def city_form(**values):
    return {"city_id": "750000000", "name": "Алматы", "is_active": "on", "price_adjust_percent": "0", **values}


def test_activating_a_city_says_what_it_does_to_the_feed_and_waits_for_a_confirmation(admin_client, make_product):
    catalogue = [make_product() for _ in range(3)]
    add = reverse("admin:catalog_city_add")

    response = admin_client.post(add, city_form())

    assert response.status_code == 200 and not City.objects.exists()
    text = response.content.decode()
    assert f"{len(catalogue)} of {len(catalogue)} offers" in text and "sold only in: Алматы" in text
    response = admin_client.post(add, city_form(feed_change_confirmed="on"))
    assert response.status_code == 302 and City.objects.get().is_active


def test_a_city_price_adjustment_counts_the_offers_it_moves(admin_client, make_product, store):
    city = City.objects.create(city_id="750000000", name="Алматы")
    make_product(price=10000)
    make_product(price=10000, purchase_price=10000, max_price=10000)  # at its maximum: does not move
    change = reverse("admin:catalog_city_change", args=[city.pk])

    response = admin_client.post(change, city_form(price_adjust_percent="5"))

    assert "changes 1 of 2 offers" in response.content.decode()
    assert admin_client.post(change, city_form(price_adjust_percent="5", feed_change_confirmed="on")).status_code == 302
    assert City.objects.get().price_adjust_percent == 5


def test_a_city_name_edit_saves_without_a_question(admin_client, make_product):
    city = City.objects.create(city_id="750000000", name="Алматы")
    make_product(price=10000)

    response = admin_client.post(reverse("admin:catalog_city_change", args=[city.pk]), city_form(name="Алма-Ата"))

    assert response.status_code == 302 and City.objects.get().name == "Алма-Ата"


def test_the_cities_page_says_how_the_feed_prices_now(admin_client):
    City.objects.create(city_id="710000000", name="Астана")

    response = admin_client.get(reverse("admin:catalog_city_changelist"))

    assert "sold only in: Астана" in response.content.decode()


def product_page(product, **values):
    data = {"price": str(product.price), "publish": "on", "own_stock": "0", "initial-own_stock": "0",
            "price_changes-TOTAL_FORMS": "0", "price_changes-INITIAL_FORMS": "0"}
    return {**data, **values}


def test_a_maximum_price_set_on_the_product_page_applies_at_once_with_the_reason(admin_client, make_product):
    PricingRule.objects.create(name="Наценка", markup_percent=30, rounding="10")
    product = make_product(purchase_price=10000, price=13000)
    url = reverse("admin:catalog_product_change", args=[product.pk])

    response = admin_client.post(url, product_page(product, max_price="12000"))

    assert response.status_code == 302
    assert Product.objects.get(pk=product.pk).price == 12000
    page = admin_client.get(url).content.decode()
    assert "Наценка" in page and "Cut to the product's maximum price." in page.replace("&#x27;", "'")


def test_it_refuses_a_maximum_below_the_minimum(admin_client, make_product):
    product = make_product()
    url = reverse("admin:catalog_product_change", args=[product.pk])

    response = admin_client.post(url, product_page(product, min_price="15000", max_price="14000"))

    assert response.status_code == 200 and Product.objects.get(pk=product.pk).max_price is None


def test_a_new_code_for_an_active_city_is_confirmed_first(admin_client, make_product):
    city = City.objects.create(city_id="750000000", name="Алматы")
    make_product(price=10000)
    change = reverse("admin:catalog_city_change", args=[city.pk])

    response = admin_client.post(change, city_form(city_id="750000001"))

    assert "changes 1 of 1 offer" in response.content.decode() or "изменит 1 из 1" in response.content.decode()
    assert City.objects.get().city_id == "750000000"
