"""Test URLconf: the project's URLs plus the accounts API (until config/api_urls.py registers it)."""
from django.urls import include, path
from rest_framework.routers import DefaultRouter

from accounts.api import AccountViewSet
from config.urls import urlpatterns as project_urlpatterns

router = DefaultRouter()
router.register("accounts", AccountViewSet, basename="account")

urlpatterns = [path("api/v1/", include(router.urls)), *project_urlpatterns]
