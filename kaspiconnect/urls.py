from django.contrib import admin
from django.urls import include, path

from kaspiconnect.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("feeds/", include("feeds.urls")),
    path("admin/", admin.site.urls),
]
