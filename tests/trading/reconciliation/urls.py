from django.urls import include, path

urlpatterns = [path("reconciliation/", include("trading.reconciliation.urls"))]
