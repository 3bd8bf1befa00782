"""The admin (with django-rq's pages under /admin/django_rq/dashboard/) and django-rq's own URLs."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("django-rq/", include("django_rq.urls")),
]
