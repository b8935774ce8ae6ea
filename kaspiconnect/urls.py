from django.contrib import admin
from django.urls import include, path

from kaspiconnect.dashboard import admin_index
from kaspiconnect.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("feeds/", include("feeds.urls")),
    # The admin's front page is the dashboard; the rest of the admin is untouched.
    path("admin/", admin.site.admin_view(admin_index), name="dashboard"),
    path("admin/", admin.site.urls),
]
