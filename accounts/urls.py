"""Account pages of the advisor portal, included by onboarding/urls.py under clients/accounts/
(Django auth owns /accounts/)."""
from django.urls import path

from . import views

urlpatterns = [
    path("", views.account_list, name="account_list"),
    path("<int:account_id>/", views.account_detail, name="account_detail"),
    path("open/<int:party_id>/", views.account_open, name="account_open"),
]
