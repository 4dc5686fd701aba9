from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from onboarding.admin_views import work_queues_view
from onboarding.otp_views import otp_verify_view

urlpatterns = [
    path("admin/queues/", admin.site.admin_view(work_queues_view), name="admin-work-queues"),
    path("admin/", admin.site.urls),
    path("accounts/otp/", otp_verify_view, name="otp-verify"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("documents/", include("onboarding.document_urls")),
    path("reconciliation/", include("trading.reconciliation.urls")),
    path("", include("onboarding.urls")),
]
