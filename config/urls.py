from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from onboarding.admin_views import work_queues_view
from onboarding.otp_views import otp_verify_view

# The site's HTML error pages outside /api/, the API's JSON error body inside it.
handler400 = "onboarding.error_views.bad_request"
handler403 = "onboarding.error_views.permission_denied"
handler404 = "onboarding.error_views.page_not_found"
handler500 = "onboarding.error_views.server_error"

urlpatterns = [
    path("admin/queues/", admin.site.admin_view(work_queues_view), name="admin-work-queues"),
    path("admin/", admin.site.urls),
    path("accounts/otp/", otp_verify_view, name="otp-verify"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI with its start-up script served as a file (?script), so the CSP needs no 'unsafe-inline'.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("documents/", include("onboarding.document_urls")),
    path("reconciliation/", include("trading.reconciliation.urls")),
    path("desk/", include("onboarding.desk_urls")),
    path("", include("onboarding.urls")),
]
