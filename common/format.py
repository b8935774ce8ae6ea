"""How money and durations look to people: whole tenge in groups, `12 990 ₸`; seconds, `1,5 с`."""

from django.contrib import admin
from django.utils.formats import number_format
from django.utils.translation import gettext as _


def tenge(amount):
    """No-break spaces, between the groups and before the sign: an amount never wraps across lines."""
    if amount is None:
        return "—"
    return f"{int(amount):,}\u00a0₸".replace(",", "\u00a0")


def tenge_display(field, description):
    """An admin column or read-only field that shows the money field `field` as `12 990 ₸`."""

    @admin.display(description=description, ordering=field)
    def display(model_admin, obj):
        return tenge(getattr(obj, field))

    return display


def seconds(value):
    """A duration in seconds, to a tenth, in the reader's language: `1.5 s`, `1,5 с`."""
    return _("%(seconds)s s") % {"seconds": number_format(value, 1)}


def decimal(value):
    """A decimal without trailing zeros, in the reader's language: `20`, `12,5`, `0,55`."""
    return number_format(f"{value.normalize():f}")
