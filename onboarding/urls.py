"""The advisor portal (server-rendered). Account pages live under clients/accounts/ so they never
clash with Django auth's /accounts/login/."""
from django.urls import include, path

from . import views
from .views.tokens import api_tokens

app_name = "portal"
urlpatterns = [
    path("", views.dashboard, name="home"),
    path("clients/new/", views.client_new, name="client_new"),
    path("clients/new/<str:kind>/", views.client_new, name="client_new_kind"),
    path("cases/<int:case_id>/", views.case_detail, name="case_detail"),
    path("cases/<int:case_id>/withdraw/", views.case_withdraw, name="case_withdraw"),
    path("cases/<int:case_id>/onboarding/", views.wizard_resume, name="wizard_resume"),
    path("cases/<int:case_id>/onboarding/<str:step>/", views.wizard_step, name="wizard_step"),
    path("cases/<int:case_id>/ownership/<int:link_id>/remove/", views.ownership_remove, name="ownership_remove"),
    path("validate/", views.validate_field, name="validate"),
    path("settings/api-tokens/", api_tokens, name="api_tokens"),
    path("clients/accounts/", include("accounts.urls")),
]
