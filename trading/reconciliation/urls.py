"""Include in config/urls.py as path("reconciliation/", include("trading.reconciliation.urls"))."""
from django.urls import path

from .views import run_report_view

app_name = "reconciliation"
urlpatterns = [path("runs/<str:as_of>/report/", run_report_view, name="run-report")]
