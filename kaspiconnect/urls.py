from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from monitoring.dashboard import admin_index
from monitoring.health import healthz
from reports.views import reports_page

# Admin pages whose model moved to another app: old bookmarks still arrive.
MOVED_ADMIN_PAGES = [
    re_path(r"^admin/kaspiconnect/alert/(?P<rest>.*)$",
            RedirectView.as_view(url="/admin/monitoring/alert/%(rest)s", query_string=True)),
    re_path(r"^admin/catalog/syncrun/(?P<rest>.*)$",
            RedirectView.as_view(url="/admin/jobs/jobrun/%(rest)s", query_string=True)),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("feeds/", include("feeds.urls")),
    # Django's `set_language`: the admin header's language switch posts here.
    path("i18n/", include("django.conf.urls.i18n")),
    *MOVED_ADMIN_PAGES,
    # The admin's front page is the dashboard; the rest of the admin is untouched.
    path("admin/", admin.site.admin_view(admin_index), name="dashboard"),
    path("admin/reports/", admin.site.admin_view(reports_page), name="reports"),
    path("admin/", admin.site.urls),
]
