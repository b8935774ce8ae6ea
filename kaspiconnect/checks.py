"""System checks that span settings (run at start-up by runserver, qcluster and `manage.py check`)."""

from pathlib import Path

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from common.crypto import decrypts, wrong_key_message
from orders.personal import stored_tokens


@register
def removed_settings(app_configs, **kwargs):
    """A variable that no longer does anything is named, with what replaced it."""
    return [
        Warning(f"{name} is set but no longer used: {settings.REMOVED_SETTINGS[name]}. Remove it from .env.",
                id="kaspiconnect.W001")
        for name in settings.REMOVED_SETTINGS_SET
    ]


@register
def encryption_key(app_configs, **kwargs):
    """The configured key opens the customer data stored, so a wrong key stops the start instead of every
    order page: tried on the oldest and the newest order that hold a token."""
    if _no_database_file_yet():
        return []
    try:
        tokens = stored_tokens()
    except DatabaseError:  # no database yet, or no orders table before the first migrate: nothing to open
        return []
    if all(decrypts(token) for token in tokens):
        return []
    return [Error(wrong_key_message(), id="kaspiconnect.E001")]


def _no_database_file_yet():
    """An SQLite file not made yet: looking into it would make it, before the command says what it does."""
    database = connections[DEFAULT_DB_ALIAS].settings_dict
    name = str(database["NAME"])
    return database["ENGINE"].endswith("sqlite3") and not name.startswith(("file:", ":memory:")) and not Path(
        name).exists()
