"""The buyers' personal data at rest: rewriting it under the current key, and telling what is not under it.

`model` is the Order model, or its historical form when a migration calls these.
"""

from django.db import models, transaction
from django.db.models.functions import Cast

from common.crypto import TOKEN_PREFIX, is_current, is_token

from .models import CUSTOMER_DATA, CUSTOMER_SEARCH, Order

BATCH = 500


def _stored(name):
    """The column as stored (a token, or text left plain), not decrypted."""
    return Cast(name, models.TextField())


def customer_data_rotate(*, model=Order, batch_size=BATCH, progress=None):
    """Every order's personal data under the first key, its search forms made under it too.

    Rows already under the first key are left alone, so a run stopped half-way goes on where it stopped
    and a second run writes nothing. `progress(seen, total)` follows each batch. How many rows were rewritten.
    """
    total, seen, rewritten, last = model.objects.count(), 0, 0, 0
    stored = {f"stored_{name}": _stored(name) for name in CUSTOMER_DATA}
    while True:
        with transaction.atomic():  # each batch as it is now: an import in between waits for it
            rows = list(model.objects.select_for_update().annotate(**stored).filter(pk__gt=last)
                        .order_by("pk")[:batch_size])
            if not rows:
                return rewritten
            stale = [row for row in rows if not _is_current(getattr(row, name) for name in stored)]
            for row in stale:
                for field, (source, form) in CUSTOMER_SEARCH.items():
                    setattr(row, field, form(getattr(row, source)))
            model.objects.bulk_update(stale, [*CUSTOMER_DATA, *CUSTOMER_SEARCH])
        last, seen, rewritten = rows[-1].pk, seen + len(rows), rewritten + len(stale)
        if progress is not None:
            progress(seen, total)


def _is_current(values):
    return all(is_current(value) for value in values if value)


def customer_data_check(*, model=Order, batch_size=BATCH):
    """Counts of the orders (`rows`), of those holding personal data in plain text (`plain`) and of
    those encrypted under a key other than the first (`old_key`)."""
    counts = {"rows": 0, "plain": 0, "old_key": 0}
    rows = model.objects.order_by("pk").values_list(*map(_stored, CUSTOMER_DATA))
    for values in rows.iterator(chunk_size=batch_size):
        counts["rows"] += 1
        if any(value and not is_token(value) for value in values):
            counts["plain"] += 1
        elif not _is_current(values):
            counts["old_key"] += 1
    return counts


def stored_tokens(model=Order):
    """A token of the oldest and of the newest order holding one: what a start-up check tries the keys on."""
    tokens = []
    for name in CUSTOMER_DATA:
        found = model.objects.annotate(stored=_stored(name)).filter(stored__startswith=TOKEN_PREFIX)
        tokens += [row.stored for row in (found.order_by("pk").only("pk").first(),
                                          found.order_by("-pk").only("pk").first()) if row is not None]
        if tokens:
            return tokens
    return tokens
