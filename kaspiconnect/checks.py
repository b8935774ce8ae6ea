"""System checks that span settings (run at start-up by runserver, qcluster and `manage.py check`)."""

from django.conf import settings
from django.core.checks import Warning, register


@register
def removed_settings(app_configs, **kwargs):
    """A variable that no longer does anything is named, with what replaced it."""
    return [
        Warning(f"{name} is set but no longer used: {settings.REMOVED_SETTINGS[name]}. Remove it from .env.",
                id="kaspiconnect.W001")
        for name in settings.REMOVED_SETTINGS_SET
    ]
