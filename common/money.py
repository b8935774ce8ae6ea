"""Money as whole tenge."""

from decimal import Decimal, InvalidOperation


def parse_money(value):
    """Whole tenge, half up; None for missing, zero, negative or unparseable."""
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value).replace(" ", "").replace(",", "."))
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount <= 0:
        return None
    return int(amount.quantize(Decimal(1), rounding="ROUND_HALF_UP"))
