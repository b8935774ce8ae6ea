"""Pricing rules: from the supplier's purchase price to the whole-tenge price Kaspi shows.

`rule_price` is pure arithmetic on Decimals; `RuleBook` picks the most specific rule for a
product; `catalog.services.products_reprice` applies the result with the change guard.
"""

import math
from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext

from common.format import decimal, tenge

from .models import Category, PricingRule, Rounding, is_price_on_request


def rule_price(purchase, rule, *, min_price=None, max_price=None, rrp_price=None):
    """The selling price for `purchase` tenge under `rule`, or None when there is no real price."""
    return quote(purchase, rule, min_price=min_price, max_price=max_price, rrp_price=rrp_price).price


@dataclass(frozen=True)
class Quote:
    price: int | None
    floor: int | None  # the lowest price the rule allows (cost plus the minimum margin, rounded up)
    limit: str = ""  # "min", "max" or "floor": which limit decided the price, if one did


def quote(cost, rule, *, min_price=None, max_price=None, rrp_price=None):
    """The rule's price for `cost`, clamped to the product's own limits; the floor wins over both.

    The floor is the cost plus the rule's minimum margin, and never below `rrp_price` (the retail price
    the brand controls, see `rrp_floor`). `rule` None (no rule matches) prices nothing, but the floor is
    still the cost itself.
    """
    if is_price_on_request(cost):
        return Quote(None, None)
    cost = Decimal(cost)
    rounding = rule.rounding if rule else Rounding.NONE
    floor = round_up(max(cost * (100 + (rule.min_margin_percent if rule else 0)) / 100, rrp_price or 0), rounding)
    if rule is None:
        return Quote(None, floor)
    price = round_up(max(cost * (100 + rule.markup_percent) / 100 + rule.markup_fixed, floor), rounding)
    limit = ""
    if min_price and price < min_price:  # the price is at or above the floor already
        price, limit = min_price, "min"
    if max_price and price > max_price:
        price, limit = max(max_price, floor), "max" if max_price >= floor else "floor"
    return Quote(price, floor, limit)


def rrp_floor(rrp_controlled, retail_price):
    """The lowest price Al-Style's dealer terms allow: the RRP (price2) when the brand controls it, else none."""
    return retail_price if rrp_controlled and retail_price else None


def city_price(price, adjust_percent, *, rounding=Rounding.NONE, floor=None, min_price=None, max_price=None):
    """A city's price: the published price moved by the city's percent, through the same arithmetic as the
    main price (the rule's rounding, the product's limits, the cost floor).

    It never goes below the floor, unless the published price itself is lower (a price someone allowed
    below cost): then it is not lower than that price.
    """
    value = round_up(Decimal(price) * (100 + Decimal(adjust_percent)) / 100, rounding)
    if min_price:
        value = max(value, min_price)
    if max_price:
        value = min(value, max_price)
    if floor:
        value = max(value, min(floor, price))
    return value


def round_up(value, rounding):
    """Round up, so that rounding never eats into the margin or goes below the floor."""
    value = math.ceil(value)
    if rounding in (Rounding.END_90, Rounding.END_990):
        tail = int(rounding)
        step = 10 ** len(rounding)  # 90 → 100, 990 → 1000
        rounded = (value - tail + step - 1) // step * step + tail
        return max(rounded, tail)
    step = int(rounding)
    return -(-value // step) * step


class RuleBook:
    """The active rules, loaded once, and the category tree for "applies to subcategories"."""

    def __init__(self):
        self.rules = list(PricingRule.objects.filter(is_active=True).order_by("-priority", "id"))
        self.parents = dict(Category.objects.values_list("id", "parent_id"))

    def ancestry(self, category_id):
        """The category and its ancestors, nearest first (guarding against loops in bad data)."""
        chain = []
        while category_id is not None and category_id not in chain:
            chain.append(category_id)
            category_id = self.parents.get(category_id)
        return chain

    def rule_for(self, *, category_id, brand_id, purchase):
        """The most specific matching rule: more criteria win, then a nearer category, then priority."""
        chain = self.ancestry(category_id)
        best, best_key = None, None
        for rule in self.rules:
            if rule.brand_id is not None and rule.brand_id != brand_id:
                continue
            if rule.category_id is not None and rule.category_id not in chain:
                continue
            if not _in_band(rule, purchase):
                continue
            has_band = rule.min_purchase_price is not None or rule.max_purchase_price is not None
            criteria = sum((rule.category_id is not None, rule.brand_id is not None, has_band))
            nearness = -chain.index(rule.category_id) if rule.category_id is not None else 0
            key = (criteria, nearness, rule.priority)
            if best_key is None or key > best_key:
                best, best_key = rule, key
        return best

    def price(self, *, category_id, brand_id, purchase, **limits):
        return self.quote(category_id=category_id, brand_id=brand_id, purchase=purchase, **limits).price

    def quote(self, *, category_id, brand_id, purchase, min_price=None, max_price=None, rrp_price=None):
        rule = self.rule_for(category_id=category_id, brand_id=brand_id, purchase=purchase)
        return quote(purchase, rule, min_price=min_price, max_price=max_price, rrp_price=rrp_price)


def _in_band(rule, purchase):
    if rule.min_purchase_price is None and rule.max_purchase_price is None:
        return True
    if purchase is None:
        return False
    low_ok = rule.min_purchase_price is None or purchase >= rule.min_purchase_price
    high_ok = rule.max_purchase_price is None or purchase <= rule.max_purchase_price
    return low_ok and high_ok


def guard_holds(old, new, percent, *, cost=None):
    """True when moving a published price from `old` to `new` needs a person to confirm it. A price
    below the purchase cost that moves up is never held: the correction towards cost applies at once."""
    if cost and old is not None and old < cost and new > old:
        return False
    return old is not None and old > 0 and abs(new - old) * 100 > old * percent


def below_cost(price, purchase):
    """A price under what the goods cost (a price on request, 0 or 1 ₸, has no cost to compare)."""
    return price is not None and purchase is not None and purchase > 1 and price < purchase


def price_story(product):
    """In words: where the product's published price comes from, for its admin page."""
    cost = product.cost
    if product.price_locked:
        return gettext("Set by hand and locked: neither the sync nor the rules change it.")
    if is_price_on_request(cost):
        return gettext("Price on request at the supplier: the rules give it no price.")
    rule = RuleBook().rule_for(category_id=product.category_id, brand_id=product.brand_id, purchase=cost)
    rrp = rrp_floor(product.rrp_controlled, product.retail_price)
    result = quote(cost, rule, min_price=product.min_price, max_price=product.max_price, rrp_price=rrp)
    if rule is None:
        return gettext("No active rule matches: the price stays as it was.")
    words = [gettext("Rule “%(rule)s”: cost %(cost)s + %(percent)s %% + %(fixed)s, at least %(floor)s (the minimum "
                     "margin), rounded %(rounding)s.") % {
        "rule": rule.name, "cost": tenge(cost), "percent": decimal(rule.markup_percent),
        "fixed": tenge(rule.markup_fixed), "floor": tenge(result.floor), "rounding": rule.get_rounding_display()}]
    if rrp:
        words.append(gettext("The brand controls the retail price: never below the supplier RRP %(rrp)s.")
                     % {"rrp": tenge(rrp)})
    words.append({
        "min": gettext("Raised to the product's minimum price."),
        "max": gettext("Cut to the product's maximum price."),
        "floor": gettext("The maximum price is below the floor: the floor wins."),
        "": "",
    }[result.limit])
    words.append(gettext("The rules give %(price)s.") % {"price": tenge(result.price)})
    if product.proposed_price:
        words.append(gettext("It moves too far at once and waits for a confirmation."))
    return " ".join(word for word in words if word)
