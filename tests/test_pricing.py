from decimal import Decimal

import pytest

from catalog.models import Brand, Category, PriceChange, PricingRule, Product, Rounding
from catalog.pricing import Quote, RuleBook, city_price, guard_holds, quote, round_up, rule_price
from catalog.services import product_set_price, products_confirm_price, products_reprice


def rule(**fields):
    defaults = {"markup_percent": Decimal(0), "markup_fixed": 0, "min_margin_percent": Decimal(0),
                "rounding": Rounding.NONE}
    return PricingRule(**{**defaults, **fields})


@pytest.mark.parametrize(
    "value, rounding, expected",
    [
        (11437, Rounding.NONE, 11437),
        (11431, Rounding.TEN, 11440),
        (11401, Rounding.HUNDRED, 11500),
        (11437, Rounding.END_90, 11490),
        (11495, Rounding.END_90, 11590),
        (11490, Rounding.END_90, 11490),
        (11437, Rounding.END_990, 11990),
        (12100, Rounding.END_990, 12990),
        (50, Rounding.END_990, 990),
        (Decimal("100.01"), Rounding.NONE, 101),
    ],
)
def test_it_rounds_up_to_the_chosen_step(value, rounding, expected):
    assert round_up(value, rounding) == expected


def test_it_adds_percent_and_fixed_markup():
    assert rule_price(10000, rule(markup_percent=Decimal("15"), markup_fixed=500)) == 12000


def test_it_never_prices_below_the_margin_floor():
    assert rule_price(10000, rule(markup_percent=Decimal("2"), min_margin_percent=Decimal("8"))) == 10800


def test_it_gives_no_price_for_price_on_request_items():
    assert rule_price(1, rule(markup_percent=Decimal(20))) is None
    assert rule_price(None, rule(markup_percent=Decimal(20))) is None


def test_it_returns_whole_tenge_integers():
    price = rule_price(999, rule(markup_percent=Decimal("33.33")))
    assert price == 1332 and isinstance(price, int)  # 1331.97 rounded up


@pytest.mark.django_db
def test_it_picks_the_most_specific_rule():
    parent = Category.objects.create(id=1, name="Компьютеры")
    child = Category.objects.create(id=2, name="Ноутбуки", parent=parent)
    brand = Brand.objects.create(name="HP")
    PricingRule.objects.create(name="default", markup_percent=10)
    PricingRule.objects.create(name="computers", category=parent, markup_percent=20)
    PricingRule.objects.create(name="laptops", category=child, markup_percent=30)
    PricingRule.objects.create(name="hp laptops", category=child, brand=brand, markup_percent=40)
    PricingRule.objects.create(name="cheap hp laptops", category=child, brand=brand, max_purchase_price=5000,
                               markup_percent=50)
    book = RuleBook()
    assert book.rule_for(category_id=None, brand_id=None, purchase=100).name == "default"
    assert book.rule_for(category_id=1, brand_id=None, purchase=100).name == "computers"
    assert book.rule_for(category_id=2, brand_id=None, purchase=100).name == "laptops"
    assert book.rule_for(category_id=2, brand_id=brand.id, purchase=9000).name == "hp laptops"
    assert book.rule_for(category_id=2, brand_id=brand.id, purchase=4000).name == "cheap hp laptops"


@pytest.mark.django_db
def test_it_prefers_higher_priority_between_equally_specific_rules():
    PricingRule.objects.create(name="low", markup_percent=10, priority=0)
    PricingRule.objects.create(name="high", markup_percent=20, priority=5)
    PricingRule.objects.create(name="off", markup_percent=90, priority=99, is_active=False)
    assert RuleBook().rule_for(category_id=None, brand_id=None, purchase=100).name == "high"


@pytest.mark.django_db
def test_it_matches_price_bands_inclusively():
    PricingRule.objects.create(name="band", min_purchase_price=1000, max_purchase_price=2000, markup_percent=10)
    book = RuleBook()
    assert book.rule_for(category_id=None, brand_id=None, purchase=1000).name == "band"
    assert book.rule_for(category_id=None, brand_id=None, purchase=2000).name == "band"
    assert book.rule_for(category_id=None, brand_id=None, purchase=2001) is None


def test_it_guards_only_moves_beyond_the_threshold():
    assert not guard_holds(None, 5000, 30)
    assert not guard_holds(10000, 13000, 30)
    assert guard_holds(10000, 13001, 30)
    assert guard_holds(10000, 6999, 30)


@pytest.fixture
def default_rule(db):
    return PricingRule.objects.create(name="default", markup_percent=20, rounding=Rounding.TEN)


def test_it_prices_new_products_and_records_history(default_rule, make_product):
    product = make_product(purchase_price=10000, price=None)
    assert products_reprice() == 1
    product.refresh_from_db()
    assert product.price == 12000
    assert PriceChange.objects.get(product=product).source == PriceChange.Source.RULES


def test_it_leaves_locked_prices_alone(default_rule, make_product):
    product = make_product(purchase_price=10000, price=15000, price_locked=True)
    assert products_reprice() == 0
    product.refresh_from_db()
    assert product.price == 15000


def test_it_holds_a_big_move_until_confirmed(default_rule, make_product, admin_user, settings):
    settings.PRICE_GUARD_PERCENT = 30
    product = make_product(purchase_price=20000, price=40000)
    products_reprice()
    product.refresh_from_db()
    assert (product.price, product.proposed_price) == (40000, 24000)
    assert products_confirm_price(queryset=Product.objects.all(), user=admin_user) == 1
    product.refresh_from_db()
    assert (product.price, product.proposed_price) == (24000, None)
    assert PriceChange.objects.get(product=product).user == admin_user


def test_it_keeps_the_last_price_of_a_price_on_request_item(default_rule, make_product):
    product = make_product(purchase_price=1, price=9990)
    products_reprice()
    product.refresh_from_db()
    assert product.price == 9990


def test_it_locks_and_records_a_managers_price(make_product, admin_user):
    product = make_product(price=12990)
    product_set_price(product=product, price=11990, user=admin_user)
    product.refresh_from_db()
    assert product.price == 11990 and product.price_locked
    change = PriceChange.objects.get(product=product)
    assert (change.old_price, change.new_price, change.user, change.source) == (12990, 11990, admin_user, "manager")


def test_it_refuses_a_non_positive_manager_price(make_product, admin_user):
    with pytest.raises(ValueError):
        product_set_price(product=make_product(), price=0, user=admin_user)


def test_it_writes_nothing_when_prices_do_not_move(default_rule, make_product, django_assert_max_num_queries):
    for _ in range(5):
        make_product(purchase_price=10000, price=12000)
    with django_assert_max_num_queries(6):
        assert products_reprice() == 0


def test_a_price_below_cost_is_corrected_at_once_not_held(default_rule, make_product, settings):
    settings.PRICE_GUARD_PERCENT = 30
    product = make_product(purchase_price=83930, price=100)  # a typo that went live
    assert products_reprice() == 1
    product.refresh_from_db()
    assert product.price >= 83930 and product.proposed_price is None


def test_it_clamps_a_rule_price_to_the_products_limits():
    markup = rule(markup_percent=Decimal(50), rounding=Rounding.TEN)
    assert quote(10000, markup) == Quote(15000, 10000, "")
    assert quote(10000, markup, min_price=16000) == Quote(16000, 10000, "min")
    assert quote(10000, markup, max_price=13000) == Quote(13000, 10000, "max")


def test_it_never_lets_a_limit_go_below_the_cost_floor():
    floored = rule(markup_percent=Decimal(50), min_margin_percent=Decimal(10), rounding=Rounding.TEN)
    assert quote(10000, floored, max_price=10500) == Quote(11000, 11000, "floor")
    assert quote(10000, rule(min_margin_percent=Decimal(10)), min_price=10200) == Quote(11000, 11000, "")


def test_it_prices_a_city_through_the_rules_arithmetic():
    # The reported case: −20 % of 39 990 gave 31 992 ₸ for goods that cost 32 631 ₸.
    floor = quote(32631, rule(markup_percent=Decimal(20), rounding=Rounding.END_990)).floor
    assert floor == 32990
    assert city_price(39990, Decimal(-20), rounding=Rounding.END_990, floor=floor) == 32990
    assert city_price(39990, Decimal(5), rounding=Rounding.END_990, floor=floor) == 41990
    assert city_price(39990, Decimal(5), rounding=Rounding.END_990, floor=floor, max_price=41000) == 41000


def test_it_keeps_a_city_price_no_lower_than_a_price_allowed_below_cost():
    assert city_price(9000, Decimal(-10), floor=10000) == 9000


@pytest.mark.django_db
def test_it_applies_the_products_limits_when_the_rules_run(make_product):
    PricingRule.objects.create(name="default", markup_percent=30, rounding=Rounding.NONE)
    capped = make_product(purchase_price=10000, price=None, max_price=12000)
    lifted = make_product(purchase_price=10000, price=None, min_price=14000)
    below_floor = make_product(purchase_price=10000, price=None, max_price=9000)

    products_reprice()

    assert [Product.objects.get(pk=p.pk).price for p in (capped, lifted, below_floor)] == [12000, 14000, 10000]


@pytest.mark.django_db
def test_it_prices_from_the_partner_price_where_al_style_gives_one(make_product):
    PricingRule.objects.create(name="default", markup_percent=10, rounding=Rounding.NONE)
    product = make_product(purchase_price=10000, discount_price=9000, price=None)

    products_reprice()

    assert Product.objects.get(pk=product.pk).price == 9900
