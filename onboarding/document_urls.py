from django.urls import path

from . import document_views

app_name = "onboarding"
urlpatterns = [
    path("<int:document_id>/", document_views.document_download, name="document-download"),
]
