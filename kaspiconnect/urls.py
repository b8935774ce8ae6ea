from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("feeds/", include("feeds.urls")),
    path("admin/", admin.site.urls),
]
