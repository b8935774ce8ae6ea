from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MonitoringConfig(AppConfig):
    """The top layer: the dashboard, the alerts and /healthz read every app and the job registry."""

    name = "monitoring"
    verbose_name = _("Monitoring")

    def ready(self):
        from . import security  # noqa: F401  (connects the login and lockout signals)
