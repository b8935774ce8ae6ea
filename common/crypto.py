"""Personal data encrypted at rest: Fernet tokens in text columns, and keyed hashes to find rows by them.

The keys are `settings.FIELD_ENCRYPTION_KEYS`, the newest first (`FIELD_ENCRYPTION_KEYS=new,old` while a
rotation runs): the first encrypts, every one decrypts. A search form is an HMAC-SHA256 under a key derived
from a Fernet key, so the database alone tells nothing about it. Each row's forms are made under the same
key as its tokens, and a search asks for the forms under every configured key: a row the rotation has not
reached yet is still found, and once `rotate_encryption_key` rewrote it (tokens and forms), the old key can go.
"""

import hashlib
import hmac
from base64 import urlsafe_b64decode
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models import Lookup
from django.utils.translation import gettext as _

from .text import fold, phone_digits

# Every Fernet token starts so: the version byte 0x80, then a 64-bit timestamp whose high bytes are zero.
TOKEN_PREFIX = "gAAAAA"
WORD_DIGEST_LENGTH = 16  # hex characters (64 bits) per word: enough to tell words apart, half the room
KEY_NAMES = "FIELD_ENCRYPTION_KEY (or FIELD_ENCRYPTION_KEY_FILE, FIELD_ENCRYPTION_KEYS)"


class WrongKey(ImproperlyConfigured):
    """A stored token that none of the configured keys decrypts."""


def wrong_key_message():
    return _("%(names)s does not decrypt the customer data in the database: it is not the key it was "
             "encrypted with. Set the key in use; while changing keys, give both: FIELD_ENCRYPTION_KEYS=new,old."
             ) % {"names": KEY_NAMES}


@lru_cache(maxsize=8)
def _ciphers(keys):
    fernets = [Fernet(key) for key in keys]
    hash_keys = [hmac.new(urlsafe_b64decode(key), b"kaspiconnect search form", hashlib.sha256).digest() for key in keys]
    return MultiFernet(fernets), fernets[0], hash_keys


def _configured():
    return _ciphers(tuple(settings.FIELD_ENCRYPTION_KEYS))


def is_token(value):
    return isinstance(value, str) and value.startswith(TOKEN_PREFIX)


def encrypt(text):
    """`text` as a token under the first key; empty stays empty."""
    return _configured()[0].encrypt(text.encode()).decode() if text else text


def decrypt(value):
    """The text a stored value holds. A value that is no token is a row left in plain text (the migration or
    a restore put it there; `rotate_encryption_key --check` counts them) and reads as it is."""
    if not is_token(value):
        return value
    try:
        return _configured()[0].decrypt(value.encode()).decode()
    except InvalidToken:
        raise WrongKey(wrong_key_message()) from None


def decrypts(token):
    """Whether any configured key opens `token`."""
    try:
        decrypt(token)
    except WrongKey:
        return False
    return True


def is_current(value):
    """Whether `value` is a token under the first key, as everything is once a rotation is done."""
    if not is_token(value):
        return False
    try:
        _configured()[1].decrypt(value.encode())
    except InvalidToken:
        return False
    return True


def _digest(text, key):
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def keyed_phone(value, key_index=0):
    """The search form of a phone: the keyed hash of its 10 digits (`common.text.phone_digits`); "" for none."""
    digits = phone_digits(value)
    return _digest(digits, _configured()[2][key_index]) if digits else ""


def phone_forms(value):
    """The phone's search form under every configured key, for a search."""
    return [keyed_phone(value, index) for index in range(len(settings.FIELD_ENCRYPTION_KEYS))]


def keyed_words(text, key_index=0):
    """The search form of a name: each folded word's keyed hash, in order, between spaces (` a1… b2… `).
    A whole word finds the row, a part of one does not: the hash of a part is another hash."""
    key = _configured()[2][key_index]
    words = [_digest(word, key)[:WORD_DIGEST_LENGTH] for word in fold(text).split()]
    return f" {' '.join(words)} " if words else ""


class EncryptedTextField(models.TextField):
    """Text kept in the database as a Fernet token under the first key, read back as the text.

    A lookup compares tokens, and each encryption makes a new one: find rows by a keyed hash kept beside.
    """

    def from_db_value(self, value, expression, connection):
        return decrypt(value)

    def get_prep_value(self, value):
        return encrypt(super().get_prep_value(value))


class KeyedWordsField(models.TextField):
    """`keyed_words` of another field, kept by the code that writes the row; `field__words=text` finds it."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("editable", False)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)


@KeyedWordsField.register_lookup
class HasWords(Lookup):
    """The words of the query, next to each other and in order, among the row's words under any key."""

    lookup_name = "words"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        count = len(settings.FIELD_ENCRYPTION_KEYS)
        patterns = [f"%{form}%" for form in {keyed_words(str(self.rhs), index) for index in range(count)} if form]
        if not patterns:
            return "1 = 0", []
        return "(" + " OR ".join([f"{lhs} LIKE %s"] * len(patterns)) + ")", [
            value for pattern in patterns for value in (*params, pattern)]
