"""How money, durations, numbers and moments look to people: `12 990 ₸`, `1,5 с`, `12,5`, `02.12.2026 17:16`."""

from decimal import Decimal

from django.contrib import admin
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _


def tenge(amount):
    """No-break spaces, between the groups and before the sign: an amount never wraps across lines."""
    if amount is None:
        return "—"
    return f"{int(amount):,}\u00a0₸".replace(",", "\u00a0")


def shown(field, description, render):
    """An admin column or read-only field that shows the model field `field` through `render`."""

    @admin.display(description=description, ordering=field)
    def display(model_admin, obj):
        return render(getattr(obj, field))

    return display


def tenge_display(field, description):
    """The money field `field` as `12 990 ₸`."""
    return shown(field, description, tenge)


def seconds(value):
    """A duration in seconds, to a tenth, in the reader's language: `1.5 s`, `1,5 с`; "—" for none."""
    if value is None:
        return "—"
    return _("%(seconds)s s") % {"seconds": number_format(value, 1)}


def decimal(value):
    """A decimal without trailing zeros, in the reader's language: `20`, `12,5`, `0,55`; "—" for none."""
    if value is None:
        return "—"
    return number_format(f"{Decimal(value).normalize():f}")


def decimal_display(field, description):
    """The decimal field `field` as `12,5`."""
    return shown(field, description, decimal)


def moment(value):
    """A date and time in the shop's time zone (Almaty), short, in the reader's language; "—" for none."""
    if value is None:
        return "—"
    return date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
