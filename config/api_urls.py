"""The partner REST API, /api/v1/. Each app contributes its routes."""
from django.urls import include, path
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.routers import DefaultRouter

from accounts import api as accounts_api
from compliance import api as compliance_api
from compliance.tax.api import TaxFormViewSet
from onboarding.api.tokens import ApiTokenViewSet
from onboarding.api.urls import router as onboarding_router
from onboarding.api.views import ErrorCatalogueView, WebhookEventTypeView
from trading import api as trading_api
from trading.reconciliation import api as recon_api
from trading.reference import api as reference_api


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    """Declares `Authorization: Token <prefix>.<secret>` in the OpenAPI schema."""

    target_class = "onboarding.api.auth.TokenAuthentication"
    name = "TokenAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Token <prefix>.<secret>` (scopes: read for GET, write for the rest)"}


class SessionAuthenticationScheme(OpenApiAuthenticationExtension):
    """The portal's signed-in session (cookie), for the operations a person does in a browser."""

    target_class = "onboarding.api.auth.SessionAuthentication"
    name = "SessionAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid",
                "description": "a portal session that passed the second factor"}


class ApiRouter(DefaultRouter):
    """One router for the whole API, so that the root (GET /api/v1/) lists every resource."""

    EXTRA_ROOT = {"errors": "error-catalogue", "webhook-events": "webhook-event-types"}

    def get_api_root_view(self, api_urls=None):
        view = super().get_api_root_view(api_urls)
        view.initkwargs["api_root_dict"].update(self.EXTRA_ROOT)
        return view


router = ApiRouter()
router.registry.extend(onboarding_router.registry)  # parties, ownership, documents, cases, relationships, webhooks, audit-events
router.register("api-tokens", ApiTokenViewSet, basename="api-token")
router.register("tax-forms", TaxFormViewSet, basename="tax-form")
# accounts
router.register("households", accounts_api.HouseholdViewSet, basename="household")
router.register("accounts", accounts_api.AccountViewSet, basename="account")
router.register("custodians", accounts_api.CustodianViewSet, basename="custodian")
router.register("custody-accounts", accounts_api.CustodyAccountViewSet, basename="custody-account")
router.register("models", accounts_api.ModelPortfolioViewSet, basename="model-portfolio")
router.register("subscriptions", accounts_api.SubscriptionViewSet, basename="subscription")
# trading
router.register("orders", trading_api.OrderViewSet, basename="order")
router.register("blocks", trading_api.BlockViewSet, basename="block")
router.register("fx-orders", trading_api.FxOrderViewSet, basename="fx-order")
router.register("cash-transfers", trading_api.CashTransferViewSet, basename="cash-transfer")
router.register("fills", trading_api.FillViewSet, basename="fill")
router.register("rebalance-runs", trading_api.RebalanceRunViewSet, basename="rebalance-run")
# reference data (read-only, shared)
router.register("instruments", reference_api.InstrumentViewSet, basename="instrument")
router.register("listings", reference_api.ListingViewSet, basename="listing")
router.register("markets", reference_api.MarketViewSet, basename="market")
router.register("currencies", reference_api.CurrencyViewSet, basename="currency")
# reconciliation
router.register("recon-runs", recon_api.ReconRunViewSet, basename="recon-run")
router.register("recon-breaks", recon_api.BreakViewSet, basename="recon-break")
router.register("book-imports", recon_api.BookImportViewSet, basename="book-import")
router.register("recon-layouts", recon_api.CustodianLayoutViewSet, basename="recon-layout")
# screening (read-only)
router.register("screening-alerts", compliance_api.AlertViewSet, basename="screening-alert")
router.register("screening-runs", compliance_api.ScreeningRunViewSet, basename="screening-run")

urlpatterns = [
    path("errors/", ErrorCatalogueView.as_view(), name="error-catalogue"),
    path("webhook-events/", WebhookEventTypeView.as_view(), name="webhook-event-types"),
    path("", include(router.urls)),
]
