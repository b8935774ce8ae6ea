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

from .crypto import phone_forms
from .text import fold, phone_digits

# The SQL that folds a column as `fold()` does (PostgreSQL's lower() knows Cyrillic under a UTF-8 locale).
_FOLD_SQL = {
    "sqlite": "kc_fold(%s)",
    "postgresql": r"regexp_replace(translate(lower(%s), 'ё', 'е'), '\s+', ' ', 'g')",
}
_PHONE_QUERY = re.compile(r"[0-9\s()+\-]+")
PHONE_DIGITS = 10  # a Kazakh number without its 7 or 8


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
    """A filter finding the phone `query` is in `field` (which holds `common.crypto.keyed_phone`), or None.

    The whole number, typed any way: `8 747 123 45 67`, `+7 (747) 123-45-67`, `747 123 45 67`. The phone is
    kept only as a keyed hash, so a part of it finds nothing. Its form under each configured key is asked for:
    a row the key rotation has not reached is found too.
    """
    query = query.strip()
    if not _PHONE_QUERY.fullmatch(query) or len(phone_digits(query)) != PHONE_DIGITS:
        return None
    return Q(**{f"{field}__in": phone_forms(query)})
