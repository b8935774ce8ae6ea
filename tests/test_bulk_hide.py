"""Hiding many products from Kaspi at once asks first, saying how many offers stop selling."""

import re

import pytest
from django.urls import reverse

from catalog.models import Product, Store

CHANGELIST = reverse("admin:catalog_product_changelist")


@pytest.fixture
def two_stores(db):
    Store.objects.create(store_id="PP1", name="Main")
    Store.objects.create(store_id="PP2", name="Second")
    Store.objects.create(store_id="PP3", name="Closed", is_active=False)


@pytest.fixture(autouse=True)
def _threshold(settings):
    settings.BULK_HIDE_CONFIRM_OVER = 3


def hide(client, products, url=CHANGELIST, **extra):
    return client.post(url, {"action": "hide_items", "index": 0, "_selected_action": [p.pk for p in products],
                             **extra})


def confirm(client, page, url=CHANGELIST):
    """Post the confirmation page's form as a browser would: its hidden fields, to the page's own address."""
    form = page.content.decode().split('<form method="post">')[1].split("</form>")[0]
    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form)
    data = {}
    for name, value in fields:
        data.setdefault(name, []).append(value)
    return client.post(url, data, follow=True)


def published():
    return Product.objects.filter(publish=True).count()


def test_it_asks_before_hiding_more_than_the_threshold_and_counts_the_offers(admin_client, make_product, two_stores):
    products = [make_product() for _ in range(3)] + [make_product(at_supplier=False)]  # that one sells nothing now

    page = hide(admin_client, products)

    assert page.status_code == 200 and published() == 4  # nothing hidden yet
    text = page.content.decode()
    assert "4 products will be hidden from Kaspi." in text
    assert "6 offers will stop selling" in text  # 3 products on sale × 2 active stores
    assert f'href="{CHANGELIST}" class="button cancel-link"' in text

    response = confirm(admin_client, page)

    assert "4 products hidden." in response.content.decode() and published() == 0


def test_at_the_threshold_it_hides_at_once(admin_client, make_product, two_stores):
    products = [make_product() for _ in range(4)]
    Product.objects.filter(pk=products[0].pk).update(publish=False)  # already hidden: not counted

    response = hide(admin_client, products)

    assert response.status_code == 302 and published() == 0


def test_it_confirms_a_selection_across_pages_of_a_filtered_list(admin_client, make_product, two_stores):
    chosen = [make_product(brand="Acme") for _ in range(5)]
    other = make_product(brand="Other")
    url = f"{CHANGELIST}?brand__id__exact={chosen[0].brand_id}"

    page = hide(admin_client, chosen[:1], url=url, select_across=1)

    assert "5 products will be hidden from Kaspi." in page.content.decode() and published() == 6
    confirm(admin_client, page, url=url)
    assert list(Product.objects.filter(publish=True)) == [other]
