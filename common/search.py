"""Search that finds Russian text whatever its case or `ё`, on every database.

`field__fold=term` finds the folded term (`common.text.fold`) in the field's folded form. A `SearchField`
holds that form already, written with the row; any other text field is folded in SQL as it is read, which
is fine for the small tables (logs, categories) and too slow for the catalogue's thousands of products.
"""

import re

from django.db import models
from django.db.backends.signals import connection_created
from django.db.models import Q
from django.db.models.lookups import Contains
from django.dispatch import receiver

from .text import fold

# The SQL that folds a column as `fold()` does (PostgreSQL's lower() knows Cyrillic under a UTF-8 locale).
_FOLD_SQL = {
    "sqlite": "kc_fold(%s)",
    "postgresql": r"regexp_replace(translate(lower(%s), 'ё', 'е'), '\s+', ' ', 'g')",
}
_PHONE_QUERY = re.compile(r"[0-9\s()+\-]+")
_NOT_DIGITS = re.compile("[^0-9]")
PHONE_MIN_DIGITS = 4  # fewer digits would find half the orders


class SearchField(models.TextField):
    """The folded form of a row's searchable text, kept by the code that writes the row."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("editable", False)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)


def with_derived(update_fields, derived):
    """`save()`'s `update_fields` plus each derived field whose sources it names; None (every field) stays None.

    `derived` maps a derived field to the fields it is made from.
    """
    if update_fields is None:
        return None
    return {*update_fields, *(field for field, sources in derived.items() if set(sources) & set(update_fields))}


@SearchField.register_lookup
class StoredFoldContains(Contains):
    lookup_name = "fold"

    def get_prep_lookup(self):
        value = super().get_prep_lookup()
        return fold(value) if isinstance(value, str) else value

    def get_rhs_op(self, connection, rhs):
        return connection.operators["contains"] % rhs


@models.CharField.register_lookup
@models.TextField.register_lookup
class FoldContains(StoredFoldContains):
    def process_lhs(self, compiler, connection, lhs=None):
        sql, params = super().process_lhs(compiler, connection, lhs)
        return _FOLD_SQL.get(connection.vendor, "lower(%s)") % sql, params


@receiver(connection_created)
def _sqlite_fold(sender, connection, **kwargs):
    if connection.vendor == "sqlite":
        connection.connection.create_function("kc_fold", 1, fold, deterministic=True)


def phone_query(field, query):
    """A filter finding the phone `query` reads as in `field` (which holds `common.text.phone_digits`), or None.

    Typed from its start (`+7 747…`, `8 747…`, all 11 digits) the number is matched from its start; without
    the 7 or 8 (`747 12…`, `12-34`) anywhere in it. Spaces, dashes and brackets are ignored.
    """
    query = query.strip()
    digits = _NOT_DIGITS.sub("", query)
    if not _PHONE_QUERY.fullmatch(query) or len(digits) < PHONE_MIN_DIGITS:
        return None
    if query.startswith("+") or digits[0] == "8" or (len(digits) == 11 and digits[0] == "7"):
        return Q(**{f"{field}__startswith": digits[1:]})
    return Q(**{f"{field}__contains": digits})
