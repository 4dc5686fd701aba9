from django.urls import path
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("parties", views.PartyViewSet, basename="party")
router.register("ownership", views.OwnershipViewSet, basename="ownership")
router.register("documents", views.DocumentViewSet, basename="document")
router.register("cases", views.CaseViewSet, basename="case")
router.register("relationships", views.RelationshipViewSet, basename="relationship")
router.register("webhooks", views.WebhookViewSet, basename="webhook")
router.register("audit-events", views.AuditEventViewSet, basename="audit-event")
urlpatterns = [path("errors/", views.ErrorCatalogueView.as_view(), name="error-catalogue"), *router.urls]
