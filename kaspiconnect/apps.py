from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KaspiconnectConfig(AppConfig):
    name = "kaspiconnect"
    verbose_name = _("Monitoring")

    def ready(self):
        from django.contrib import admin

        admin.site.site_header = _("kaspiconnect: Al-Style → Kaspi.kz")
        admin.site.site_title = "kaspiconnect"
        admin.site.index_title = _("Dashboard")
