"""Account pages of the advisor portal, included by onboarding/urls.py under clients/accounts/
(Django auth owns /accounts/)."""
from django.urls import path

from . import views

urlpatterns = [
    path("", views.account_list, name="account_list"),
    path("<int:account_id>/", views.account_detail, name="account_detail"),
    path("open/<int:party_id>/", views.account_open, name="account_open"),
]
urlpatterns += [
    path("<int:account_id>/custody/", views.account_custody_add, name="account_custody_add"),
    path("<int:account_id>/activate/", views.account_activate, name="account_activate"),
    path("<int:account_id>/deposit/", views.account_deposit, name="account_deposit"),
    path("<int:account_id>/subscribe/", views.account_subscribe, name="account_subscribe"),
]
