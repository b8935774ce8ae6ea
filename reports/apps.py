from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    """Sales reports: above the apps, like monitoring; it only reads orders."""

    name = "reports"
    verbose_name = _("Reports")
