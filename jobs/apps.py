from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class JobsConfig(AppConfig):
    """Runs, locks and the row each run leaves; it imports no app, every app uses it."""

    name = "jobs"
    verbose_name = _("Jobs")
