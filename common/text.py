"""Text as the feed and the admin can carry it."""

import re

# Characters XML 1.0 forbids (C0 controls other than tab, LF, CR; surrogates; U+FFFE/U+FFFF).
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SPACES = re.compile(r"\s+")


def clean_text(value, limit=None):
    """Strip what XML 1.0 cannot carry and fold white space; cut to `limit` on a word boundary."""
    text = str(value or "")
    # Most names are already clean, and the two substitutions are a third of a feed build. A printable
    # string holds no control character and no white space but " ", so only a double space needs them.
    if not text.isprintable() or "  " in text:
        text = _SPACES.sub(" ", _XML_FORBIDDEN.sub("", text))
    text = text.strip()
    if limit and len(text) > limit:
        text = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,.;:-") + "…"
    return text


def fold(value):
    """The form search compares: case-folded, `ё` as `е`, white space folded to single spaces.

    SQLite's LIKE folds only ASCII letters, so Russian text is searched on this form on every database.
    """
    return _SPACES.sub(" ", str(value or "").casefold().replace("ё", "е")).strip()


_NOT_DIGITS = re.compile("[^0-9]")


def phone_digits(value):
    """A Kazakh phone as its 10 digits, without the country's 7 or the trunk 8: `+7 (747) 123-45-67`,
    `8 747 123 45 67` and `747-123-45-67` all give `7471234567`. Any other count of digits comes back as it is."""
    digits = _NOT_DIGITS.sub("", str(value or ""))
    return digits[1:] if len(digits) == 11 and digits[0] in "78" else digits
