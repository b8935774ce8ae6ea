from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KaspiconnectConfig(AppConfig):
    """The project: settings, urls, the admin's titles, and the commands that start the whole shop."""

    name = "kaspiconnect"
    verbose_name = "kaspiconnect"

    def ready(self):
        from django.contrib import admin

        from . import checks  # noqa: F401  (registers them)

        admin.site.site_header = _("kaspiconnect: Al-Style → Kaspi.kz")
        admin.site.site_title = "kaspiconnect"
        admin.site.index_title = _("Dashboard")
        admin.site.empty_value_display = "—"  # nothing reads as a dash everywhere, as `common.format` writes it
        _actions_need_permissions()


def _actions_need_permissions():
    """The libraries' admin actions that change something, behind a permission like ours: resubmitting
    a queued task (it could run a job again) and clearing login attempts (it unlocks)."""
    from axes.admin import AccessAttemptAdmin
    from django_q import admin as queue_admin

    queue_admin.resubmit_task.allowed_permissions = ("change",)
    AccessAttemptAdmin.cleanup_expired_attempts.allowed_permissions = ("delete",)
