"""The partner REST API, /api/v1/. Each app contributes its routes."""
from django.urls import include, path
from rest_framework.routers import DefaultRouter

from compliance.tax.api import TaxFormViewSet

router = DefaultRouter()
router.register("tax-forms", TaxFormViewSet, basename="tax-form")

urlpatterns = [
    path("", include("onboarding.api.urls")),
    path("", include(router.urls)),
]
