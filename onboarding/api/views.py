"""Partner API views for onboarding. Thin: parse, call a service or selector, shape the answer."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from .. import csvsafe, intake, services, webhook_events, webhooks
from ..exceptions import PermissionDenied
from ..models import Document, OnboardingCase, OwnershipLink, WebhookDelivery, WebhookEndpoint
from ..selectors import (
    AUDIT_EXPORT_FIELDS,
    audit_events_for,
    audit_rows_for,
    beneficial_owner_summary,
    case_audit_events,
    case_outstanding_cached,
    cases_for,
    get_party_for,
    parties_for,
    relationships_for,
    scope_to_user,
)
from . import serializers as s
from .errors import catalogue
from .idempotency import idempotent
from .ids import ID_REGEX
from .pagination import Cursor


def _party_spec(data: dict) -> intake.PartySpec:
    data = dict(data)
    nested = {k: [dict(x) for x in data.pop(k, [])] for k in ("identifiers", "addresses", "tax_residences")}
    return intake.PartySpec(kind=data.pop("kind"), client_type=data.pop("client_type", None),
                            documents=list(data.pop("documents", [])), fields=data, **nested)


def _firm_of(request):
    firm = request.user.firm
    if firm is None:
        raise PermissionDenied("this action is for a firm's users; platform officers act in the admin")
    return firm


class PartyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.PartySerializer
    filterset_fields = ["kind", "client_type", "residence_country", "is_pep"]
    search_fields = ["given_names", "family_name", "legal_name", "email"]

    def get_queryset(self):
        return parties_for(self.request.user).prefetch_related("addresses", "identifiers", "tax_residences").order_by("pk")

    @extend_schema(request=s.PartyCreateSerializer, responses={201: s.PartySerializer})
    @idempotent
    def create(self, request):
        data = s.PartyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = {k: v for k, v in data.validated_data.items() if k not in ("kind", "client_type")}
        party = services.party_create(firm=_firm_of(request), actor=request.user, kind=data.validated_data["kind"],
                                      client_type=data.validated_data.get("client_type"), **fields)
        party = parties_for(request.user).prefetch_related("addresses", "identifiers", "tax_residences").get(pk=party.pk)
        return Response(s.PartySerializer(party).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.PartyBulkCreateSerializer, responses={201: s.PartySerializer(many=True)})
    @action(detail=False, methods=["post"], url_path="bulk", pagination_class=None, filter_backends=[])
    @idempotent
    def bulk(self, request):
        """Create many parties (each with identifiers, addresses, tax residences) in one transaction: all or
        none; an error names the party by its position (`parties.3.family_name`)."""
        data = s.PartyBulkCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        created = intake.parties_create_bulk(firm=_firm_of(request), actor=request.user,
                                             parties=[_party_spec(p) for p in data.validated_data["parties"]])
        rows = parties_for(request.user).prefetch_related("addresses", "identifiers", "tax_residences").filter(
            pk__in=[p.pk for p in created]).order_by("pk")
        return Response(s.PartySerializer(rows, many=True).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.PartyUpdateSerializer, responses={200: s.PartySerializer})
    def partial_update(self, request, pk=None):
        party = get_party_for(request.user, pk)
        data = s.PartyUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        party = services.party_update(party=party, actor=request.user, **data.validated_data)
        return Response(s.PartySerializer(party).data)

    @extend_schema(request=None, responses={200: dict})
    @action(detail=True, methods=["post"])
    def reveal(self, request, pk=None):
        """The sensitive values in full; every reveal is written to the audit trail."""
        party = get_party_for(request.user, pk)
        return Response(services.party_reveal_sensitive(party=party, actor=request.user))

    @extend_schema(request=s.IdentifierInputSerializer, responses={201: s.IdentifierSerializer})
    @action(detail=True, methods=["post"])
    def identifiers(self, request, pk=None):
        party = get_party_for(request.user, pk)
        data = s.IdentifierInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        identifier = services.party_add_identifier(party=party, actor=request.user, **data.validated_data)
        return Response(s.IdentifierSerializer(identifier).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.AddressInputSerializer, responses={201: s.AddressSerializer})
    @action(detail=True, methods=["post"])
    def addresses(self, request, pk=None):
        party = get_party_for(request.user, pk)
        data = s.AddressInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        address = services.party_add_address(party=party, actor=request.user, **data.validated_data)
        return Response(s.AddressSerializer(address).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.TaxResidenceInputSerializer, responses={201: s.TaxResidenceSerializer})
    @action(detail=True, methods=["post"], url_path="tax-residences")
    def tax_residences(self, request, pk=None):
        party = get_party_for(request.user, pk)
        data = s.TaxResidenceInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        residence = services.party_set_tax_residence(party=party, actor=request.user, **data.validated_data)
        return Response(s.TaxResidenceSerializer(residence).data, status=status.HTTP_201_CREATED)


class OwnershipViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    serializer_class = s.OwnershipSerializer
    filterset_fields = ["owner", "owned", "role"]

    def get_queryset(self):
        return scope_to_user(OwnershipLink.objects.all(), self.request.user).order_by("pk")

    @extend_schema(request=s.OwnershipInputSerializer, responses={201: s.OwnershipSerializer})
    @idempotent
    def create(self, request):
        data = s.OwnershipInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        owner = get_party_for(request.user, data.validated_data["owner"])
        owned = get_party_for(request.user, data.validated_data["owned"])
        link = services.ownership_link_add(owner=owner, owned=owned, actor=request.user,
                                           percentage=data.validated_data["percentage"], role=data.validated_data["role"])
        return Response(s.OwnershipSerializer(link).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.ownership_link_remove(link=instance, actor=self.request.user)


class DocumentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.DocumentSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    filterset_fields = ["party", "doc_type"]
    search_fields = ["original_name"]

    def get_queryset(self):
        return scope_to_user(Document.objects.all(), self.request.user).order_by("pk")

    @extend_schema(request={"multipart/form-data": s.DocumentUploadSerializer}, responses={201: s.DocumentSerializer})
    @idempotent
    def create(self, request):
        data = s.DocumentUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        party = get_party_for(request.user, data.validated_data["party"]) if data.validated_data.get("party") else None
        upload = data.validated_data["file"]
        if upload.size > services.MAX_UPLOAD_BYTES:
            from ..exceptions import ValidationFailed

            raise ValidationFailed("file: larger than 10 MB", detail={"file": "too_large"})
        document = services.document_add(party=party, actor=request.user, doc_type=data.validated_data["doc_type"],
                                         content=upload.read(), original_name=upload.name,
                                         expires_on=data.validated_data.get("expires_on"), firm=_firm_of(request))
        return Response(s.DocumentSerializer(document).data, status=status.HTTP_201_CREATED)


class CaseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.CaseSerializer
    filterset_fields = ["state", "kind", "jurisdiction", "party", "risk_level"]
    search_fields = ["party__given_names", "party__family_name", "party__legal_name"]

    # Reads of one case touch only the case's own row (the requirements read its pinned policy too): its
    # party, firm and relationship load only if a requirement evaluation misses the cache (issue 18's
    # profile: the joins cost more to build than to run).
    def get_queryset(self):
        if self.action == "retrieve":
            return self._lean(self.request.user)
        if self.action == "requirements":
            return scope_to_user(OnboardingCase.objects.all(), self.request.user)
        return cases_for(self.request.user).order_by("pk")

    @extend_schema(request=s.CaseCreateSerializer, responses={201: s.CaseSerializer})
    @idempotent
    def create(self, request):
        """Open a case for an existing client (`party`) or create the whole structure in one call: the client
        (`client`, with identifiers, addresses, tax residences and uploaded documents), its owners and
        controllers (`related`) and the links between them (`ownership`); all or nothing."""
        data = s.CaseCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        client = get_party_for(request.user, v["party"]) if "party" in v else _party_spec(v["client"])
        related = [intake.RelatedSpec(ref=r["ref"], existing=r.get("existing"),
                                      party=_party_spec(r["party"]) if "party" in r else None)
                   for r in v.get("related", [])]
        ownership = [intake.LinkSpec(**link) for link in v.get("ownership", [])]
        case = intake.case_create_with_structure(firm=_firm_of(request), actor=request.user, client=client,
                                                 related=related, ownership=ownership,
                                                 jurisdiction=v.get("jurisdiction") or None)
        return Response(self._fresh(case), status=status.HTTP_201_CREATED)

    def _fresh(self, case):
        """The response to a write is the state after it, as a following GET reads it (hooks that ran on
        the write, such as screening and risk rating on submission, included)."""
        return s.CaseSerializer(self._lean(self.request.user).get(pk=case.pk)).data

    @staticmethod
    def _lean(user):
        """The case's own row only: what the case body shows (no joins, no pinned policy)."""
        return scope_to_user(OnboardingCase.objects.defer("policy", "acknowledged_flags"), user)

    @extend_schema(responses={200: s.OutstandingSerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def requirements(self, request, pk=None):
        """What the case still needs, each with a reason a person can act on (not paginated: a case has few)."""
        case = self.get_object()
        return Response([item.as_dict() for item in case_outstanding_cached(case)])

    @extend_schema(responses={(200, "application/json"): s.AuditEventSerializer(many=True),
                              (200, "text/csv"): OpenApiTypes.STR}, parameters=[
        OpenApiParameter("export", str, enum=["json", "csv"], description="csv: a file download")])
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def audit(self, request, pk=None):
        """The case's audit trail (case, relationship, every party in its structure), oldest first."""
        csv_export = request.query_params.get("export") == "csv"
        rows = audit_rows_for(case_audit_events(self.get_object()), request.user, detail_as_text=csv_export,
                              firm_list=False)
        if csv_export:
            import io

            from django.http import HttpResponse

            buffer = io.StringIO()
            writer = csvsafe.DictWriter(buffer, fieldnames=AUDIT_EXPORT_FIELDS)
            writer.writeheader()
            writer.writerows(rows)
            response = HttpResponse(buffer.getvalue(), content_type="text/csv")
            response["Content-Disposition"] = f'attachment; filename="case-{pk}-audit.csv"'
            return response
        return Response(rows)

    @extend_schema(responses={200: s.BeneficialOwnerSerializer(many=True)})
    @action(detail=True, methods=["get"], url_path="beneficial-owners", pagination_class=None, filter_backends=[])
    def beneficial_owners(self, request, pk=None):
        return Response(beneficial_owner_summary(self.get_object()))

    @extend_schema(request=None, responses={200: s.CaseSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def submit(self, request, pk=None):
        return Response(self._fresh(services.case_submit(case=self.get_object(), actor=request.user)))

    @extend_schema(request=s.ReasonSerializer, responses={200: s.CaseSerializer})
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        reason = s.ReasonSerializer(data=request.data)
        reason.is_valid(raise_exception=True)
        case = services.case_withdraw(case=self.get_object(), actor=request.user, reason=reason.validated_data["reason"])
        return Response(self._fresh(case))

    @extend_schema(request=None, responses={200: s.CaseSerializer})
    @action(detail=True, methods=["post"], url_path="start-review")
    def start_review(self, request, pk=None):
        return Response(self._fresh(services.case_start_review(case=self.get_object(), actor=request.user)))

    @extend_schema(request=s.ReasonSerializer, responses={200: s.CaseSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        reason = s.ReasonSerializer(data=request.data)
        reason.is_valid(raise_exception=True)
        case = services.case_approve(case=self.get_object(), actor=request.user, reason=reason.validated_data["reason"])
        return Response(self._fresh(case))

    @extend_schema(request=s.ReasonSerializer, responses={200: s.CaseSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        reason = s.ReasonSerializer(data=request.data)
        reason.is_valid(raise_exception=True)
        case = services.case_reject(case=self.get_object(), actor=request.user, reason=reason.validated_data["reason"])
        return Response(self._fresh(case))

    @extend_schema(request=s.ReasonSerializer, responses={200: s.CaseSerializer})
    @action(detail=True, methods=["post"], url_path="request-information")
    def request_information(self, request, pk=None):
        reason = s.ReasonSerializer(data=request.data)
        reason.is_valid(raise_exception=True)
        case = services.case_request_information(case=self.get_object(), actor=request.user,
                                                 reason=reason.validated_data["reason"])
        return Response(self._fresh(case))


class AuditEventViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The firm's audit trail, newest first, paged by cursor (follow `next`, an opaque `?cursor=`, until it
    is null). A firm's users see the events about their own firm's records only: never another firm's, never
    the platform's own (rule packs, watchlists, risk models loaded). Compliance-internal events (screening
    alerts and screening runs) are listed in words with their states and time, but their `reason`, `detail`
    and the officer who acted are withheld (`detail_withheld: true`, `actor: compliance`). Platform officers
    see every firm's events in full. Filter by `event_type`, `subject_type` and `subject_id`, and by time
    with `created_at__gte` / `created_at__lt`."""

    serializer_class = s.FirmAuditEventSerializer
    pagination_class = Cursor
    filterset_fields = {"event_type": ["exact"], "subject_type": ["exact"], "subject_id": ["exact"],
                        "created_at": ["gte", "lt"]}

    def get_queryset(self):
        return audit_events_for(self.request.user)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(audit_rows_for(page, request.user))


class RelationshipViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.RelationshipSerializer
    filterset_fields = ["state", "risk_level", "party"]
    search_fields = ["party__given_names", "party__family_name", "party__legal_name"]

    def get_queryset(self):
        return relationships_for(self.request.user).order_by("pk")


class WebhookViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
                     viewsets.GenericViewSet):
    serializer_class = s.WebhookEndpointSerializer

    def get_queryset(self):
        return scope_to_user(WebhookEndpoint.objects.all(), self.request.user).order_by("pk")

    @extend_schema(request=s.WebhookEndpointSerializer, responses={201: s.WebhookEndpointWithSecretSerializer})
    @idempotent
    def create(self, request):
        """Register an endpoint. The signing secret is in this response only; rotate it if lost."""
        data = s.WebhookEndpointSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = webhooks.webhook_register(firm=_firm_of(request), url=data.validated_data["url"],
                                             events=data.validated_data.get("events", []), actor=request.user)
        return Response(s.WebhookEndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: s.WebhookEndpointWithSecretSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        """A new signing secret, shown in this response only; the old one stops signing at once (audited)."""
        endpoint = webhooks.webhook_rotate_secret(endpoint=self.get_object(), actor=request.user)
        return Response(s.WebhookEndpointWithSecretSerializer(endpoint).data)

    @extend_schema(responses={200: s.WebhookDeliverySerializer(many=True)})
    @action(detail=True, methods=["get"], filter_backends=[])
    def deliveries(self, request, pk=None):
        """The endpoint's deliveries, newest first (redeliveries and test events included)."""
        endpoint = self.get_object()
        page = self.paginate_queryset(WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-pk"))
        return self.get_paginated_response(s.WebhookDeliverySerializer(page, many=True).data)

    @extend_schema(request=s.WebhookTestSerializer, responses={202: s.WebhookDeliverySerializer})
    @action(detail=True, methods=["post"], filter_backends=[])
    def test(self, request, pk=None):
        """Send a test event to this endpoint now, signed like any delivery and whatever it subscribes to: a
        `webhook.test` event, or the example of `event_type` marked `"test": true`. The URL is checked again
        (an address that has become private or loopback is refused: 400 naming `url`). Audited. Answers the
        delivery as it stands after the first attempt (or `pending` while a worker sends it)."""
        data = s.WebhookTestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        delivery = webhooks.webhook_send_test(endpoint=self.get_object(), actor=request.user,
                                              event_type=data.validated_data.get("event_type"))
        delivery.refresh_from_db()
        return Response(s.WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: s.WebhookDeliverySerializer}, parameters=[
        OpenApiParameter("delivery_id", OpenApiTypes.INT, OpenApiParameter.PATH,
                         description="a delivery of this endpoint (GET .../deliveries/)")])
    @action(detail=True, methods=["post"], filter_backends=[],
            url_path=rf"deliveries/(?P<delivery_id>{ID_REGEX})/redeliver")
    def redeliver(self, request, pk=None, delivery_id=None):
        """Send a past delivery's event again, as a new delivery (`redelivery_of` names the original; the
        event's `id` and body are unchanged). The URL is checked again first. Audited."""
        endpoint = self.get_object()
        original = WebhookDelivery.objects.filter(endpoint=endpoint, pk=int(delivery_id)).first()
        if original is None:
            from ..exceptions import NotFound

            raise NotFound("no such delivery for this endpoint")
        delivery = webhooks.webhook_redeliver(delivery=original, actor=request.user)
        delivery.refresh_from_db()
        return Response(s.WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookEventTypeView(generics.GenericAPIView):
    """The catalogue of webhook events: each type, when it is sent, the schema component that types its body
    (`{id, type, created, test, data}`) and an example of its `data`. Public (no token needed)."""

    authentication_classes: list = []
    permission_classes: list = []
    pagination_class = None
    filter_backends: list = []
    serializer_class = s.WebhookEventTypeSerializer

    @extend_schema(responses={200: s.WebhookEventTypeSerializer(many=True)}, auth=[])
    def get(self, request):
        rows = [{"type": e.name, "summary": e.summary, "schema": e.component, "example": e.example}
                for e in webhook_events.catalogue()]
        return Response(s.WebhookEventTypeSerializer(rows, many=True).data)


class ErrorCatalogueEntrySerializer(serializers.Serializer):
    code = serializers.CharField()
    status = serializers.IntegerField()
    meaning = serializers.CharField()


class ErrorCatalogueView(generics.GenericAPIView):
    """The error catalogue: every stable `code` the API answers with, its HTTP status and its meaning.
    Generated from the exception classes; public (no token needed)."""

    authentication_classes: list = []
    permission_classes: list = []
    pagination_class = None
    filter_backends: list = []
    serializer_class = ErrorCatalogueEntrySerializer

    @extend_schema(responses={200: ErrorCatalogueEntrySerializer(many=True)}, auth=[])
    def get(self, request):
        return Response(ErrorCatalogueEntrySerializer(catalogue(), many=True).data)
