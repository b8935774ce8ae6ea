"""No poison pills: a record that cannot be stored is skipped with its reason, the rest is stored,
the run is "done with N skipped", and the feed built after it validates."""

import copy
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from catalog.models import PricingRule, Product
from catalog.services import products_sync, stock_refresh
from feeds.services import feed_build
from orders.models import Order
from orders.sync import orders_sync
from tests.conftest import ReplayedKaspi


def good_item(article, **fields):
    return {"article": article, "article_pn": f"PN-{article}", "name": f"Товар {article}", "full_name": "",
            "brand": "HP", "category": 2, "price1": 10000 + article % 100, "price2": 15000, "quantity": 5,
            "isnew": 0, **fields}


CATEGORIES = [{"id": 1, "name": "Электроника", "left": 1, "right": 4, "level": 1},
              {"id": 2, "name": "Колонки", "left": 2, "right": 3, "level": 2}]
# A number past every integer column, written as Al-Style's JSON could carry it.
HUGE = 10**30


@pytest.fixture
def supplier(sandbox, store, settings):
    settings.HTTP_RETRIES = 0
    PricingRule.objects.create(name="default", markup_percent=20)
    sandbox.state.alstyle_categories = CATEGORIES
    return sandbox.state


@pytest.mark.parametrize("poison", [
    {"price1": 1e308}, {"price1": HUGE}, {"price2": HUGE}, {"price1": 3_000_000_000},  # over 2**31 on PostgreSQL
    {"quantity": HUGE}, {"quantity": "1e30"}, {"category": HUGE}, {"category": -1}, {"category": "шесть"},
    {"article": 2**64}, {"article": -5}, {"name": None, "full_name": None},
], ids=lambda poison: json.dumps(poison, ensure_ascii=False)[:40])
def test_one_bad_supplier_record_is_skipped_and_the_rest_is_published(supplier, poison):
    supplier.alstyle_products = [good_item(100 + n) for n in range(20)] + [{**good_item(999), **poison}]

    run = products_sync()

    assert run.verdict == "done with 1 skipped", run.notes
    assert "skipped: " in run.notes
    assert Product.objects.count() == 20
    build = feed_build()
    assert (build.outcome, build.valid, build.offers) == ("published", True, 20)


def test_the_stock_refresh_skips_a_bad_number_and_refreshes_the_rest(supplier):
    supplier.alstyle_products = [good_item(100 + n) for n in range(5)]
    products_sync()
    supplier.alstyle_products[0]["price1"] = HUGE
    supplier.alstyle_products[1]["quantity"] = 42

    run = stock_refresh()

    assert run.verdict.startswith("done with 1 skipped") and "out of range" in run.notes
    assert Product.objects.get(article=101).supplier_stock == 42
    assert Product.objects.get(article=100).purchase_price == 10000  # kept what it had


@pytest.mark.parametrize("field, value", [
    ("creationDate", 1e20), ("creationDate", "вчера"), ("totalPrice", 1e30), ("code", None), ("code", ""),
    ("status", None),
])
def test_one_bad_kaspi_order_is_skipped_and_its_page_is_stored(db, sandbox, kaspi_answers, field, value):
    answers = copy.deepcopy(kaspi_answers)
    state, pages = next((state, pages) for state, pages in answers.pages.items() if pages and len(pages[0][0]) > 1)
    poisoned = pages[0][0][0]
    poisoned["attributes"][field] = value
    on_the_page = len(pages[0][0])

    run = orders_sync(days=30, client=ReplayedKaspi(answers))

    assert run.verdict == "done with 1 skipped", run.notes
    assert not Order.objects.filter(kaspi_id=poisoned["id"]).exists()
    assert Order.objects.filter(kaspi_id__in=[o["id"] for o in pages[0][0]]).count() == on_the_page - 1


# --- anything at all ------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=300),
    st.sampled_from([">50", ">100", "1e308", "-0", "NaN", "Infinity", "\x00", "<b>&amp;", "  12 990 "]),
)
values = st.one_of(scalars, st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=5), scalars, max_size=3))
FIELDS = ["article", "article_pn", "name", "full_name", "brand", "category", "price1", "price2", "quantity", "isnew"]
records = st.one_of(
    st.fixed_dictionaries({}, optional={name: values for name in FIELDS}),
    st.fixed_dictionaries({"article": st.integers(1, 10**6), "name": st.text(min_size=1, max_size=50)},
                          optional={name: values for name in FIELDS if name not in ("article", "name")}),
    values,
)


class Supplier:
    """Al-Style at the seam: the records as its pages would bring them."""

    requests = 0

    def __init__(self, records):
        self.records = records

    def iter_pages(self):
        yield 1, 1, self.records

    def categories(self):
        return CATEGORIES


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(records, max_size=12))
def test_any_supplier_answer_ends_in_a_run_and_a_valid_feed(db, store, settings, tmp_path, noise):
    settings.FEED_DIR = tmp_path / f"feeds-{len(noise)}"
    good = [good_item(900_000 + n) for n in range(3)]
    run = products_sync(client=Supplier(noise + good))
    assert run.outcome == "ok" and run.finished
    assert Product.objects.filter(article__in=[item["article"] for item in good]).count() == 3
    build = feed_build()
    assert build.valid, build.validation_errors
    assert build.outcome in ("published", "held")


attributes = st.fixed_dictionaries({}, optional={
    name: values for name in ["code", "status", "state", "totalPrice", "creationDate", "deliveryCost",
                              "paymentMode", "deliveryMode", "isKaspiDelivery", "preOrder", "customer",
                              "deliveryAddress", "kaspiDelivery", "plannedDeliveryDate", "creditTerm"]
})
documents = st.one_of(st.fixed_dictionaries({"id": st.text(max_size=20), "attributes": attributes}), values)


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(documents, max_size=8))
def test_any_kaspi_page_ends_in_a_run_that_keeps_the_good_orders(db, kaspi_answers, noise):
    answers = copy.deepcopy(kaspi_answers)
    state = next(state for state, pages in answers.pages.items() if pages and pages[0][0])
    good = list(answers.pages[state][0][0])
    answers.pages[state][0] = (noise + good, answers.pages[state][0][1])
    answers.lines.update({str(doc.get("id")): [] for doc in noise if isinstance(doc, dict)})

    run = orders_sync(days=30, client=ReplayedKaspi(answers))

    assert run.outcome == "ok" and run.finished
    assert Order.objects.filter(kaspi_id__in=[order["id"] for order in good]).count() == len(good)
    assert timezone.now() - run.started < timedelta(minutes=5)
