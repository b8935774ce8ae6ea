"""Money as whole tenge."""

from decimal import Decimal, InvalidOperation

# Every integer column on every database holds this (PostgreSQL's integer ends at 2**31 - 1);
# no real price or order comes near it.
MAX_MONEY = 2_000_000_000


class AmountOutOfRange(ValueError):
    """An amount no column can hold: the record that carries it cannot be stored."""


def parse_money(value):
    """Whole tenge, half up; None for missing, zero, negative or unparseable; `AmountOutOfRange`
    for an amount above MAX_MONEY (1e308, 10**30), which is not "no price" but a broken record."""
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value).replace(" ", "").replace(",", "."))
    except InvalidOperation:
        return None
    if amount.is_nan() or amount <= 0:
        return None
    if amount > MAX_MONEY:
        raise AmountOutOfRange(f"amount {str(value)[:40]} is out of range")
    return int(amount.quantize(Decimal(1), rounding="ROUND_HALF_UP"))
