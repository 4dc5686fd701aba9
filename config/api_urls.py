"""The partner REST API, /api/v1/. Each app contributes its routes from `<app>/api/urls.py`."""
from django.urls import include, path

urlpatterns = [
    path("", include("onboarding.api.urls")),
]
