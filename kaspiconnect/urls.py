from django.contrib import admin
from django.urls import include, path

from kaspiconnect.dashboard import admin_index
from kaspiconnect.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("feeds/", include("feeds.urls")),
    # Django's `set_language`: the admin header's language switch posts here.
    path("i18n/", include("django.conf.urls.i18n")),
    # The admin's front page is the dashboard; the rest of the admin is untouched.
    path("admin/", admin.site.admin_view(admin_index), name="dashboard"),
    path("admin/", admin.site.urls),
]
