"""Pricing rules: from the supplier's purchase price to the whole-tenge price Kaspi shows.

`rule_price` is pure arithmetic on Decimals; `RuleBook` picks the most specific rule for a
product; `catalog.services.products_reprice` applies the result with the change guard.
"""

import math
from decimal import Decimal

from .models import Category, PricingRule, Rounding, is_price_on_request


def rule_price(purchase, rule):
    """The selling price for `purchase` tenge under `rule`, or None when there is no real price."""
    if is_price_on_request(purchase):
        return None
    purchase = Decimal(purchase)
    price = purchase * (100 + rule.markup_percent) / 100 + rule.markup_fixed
    floor = purchase * (100 + rule.min_margin_percent) / 100
    return round_up(max(price, floor), rule.rounding)


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

    def price(self, *, category_id, brand_id, purchase):
        rule = self.rule_for(category_id=category_id, brand_id=brand_id, purchase=purchase)
        return rule_price(purchase, rule) if rule else None


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
