"""Partner API for screening: alerts (officers work them here too) and screening results.

Alert details (list entry, score, explanation) follow `compliance.selectors.alerts_for`: platform
officers see them, firm users do not (no tipping-off through the API). A firm user sees, for its
own parties, when each screening ran and whether the party awaits a compliance decision."""
from __future__ import annotations

from django.db.models import Exists, OuterRef
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from onboarding.api.ids import ID_REGEX
from onboarding.exceptions import ValidationFailed
from onboarding.models import User
from onboarding.selectors import scope_to_user

from . import services
from .exceptions import NotAComplianceOfficer
from .models import LIVE_ALERT_STATES, ScreeningAlert, ScreeningRun
from .screening.explain import explain_alert
from .selectors import alerts_for


def _sees_all(user) -> bool:
    return bool(getattr(user, "is_superuser", False) or getattr(user, "is_platform_officer", False))


class AlertSerializer(serializers.ModelSerializer):
    readable_explanation = serializers.SerializerMethodField()

    @extend_schema_field(serializers.DictField())
    def get_readable_explanation(self, obj) -> dict:
        return explain_alert(obj.explanation, entry_name=obj.entry_name)

    class Meta:
        model = ScreeningAlert
        fields = ["id", "firm", "party", "case", "source", "entry_ref", "entry_name", "party_version", "is_pep",
                  "score", "explanation", "readable_explanation", "state", "assigned_to", "clear_requested_by",
                  "decided_by", "decision_note", "decided_at", "created_at", "updated_at"]
        read_only_fields = fields


class ScreeningRunSerializer(serializers.ModelSerializer):
    pending_review = serializers.BooleanField(read_only=True,
                                              help_text="The party has an alert awaiting a compliance decision")
    hits = serializers.SerializerMethodField()
    alerts_opened = serializers.SerializerMethodField()
    suppressed = serializers.SerializerMethodField()

    class Meta:
        model = ScreeningRun
        fields = ["id", "party", "party_version", "trigger", "snapshots", "created_at", "pending_review", "hits",
                  "alerts_opened", "suppressed"]
        read_only_fields = fields

    def _officer(self) -> bool:
        request = self.context.get("request")
        return request is not None and _sees_all(request.user)

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_hits(self, obj):
        return obj.hits if self._officer() else None

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_alerts_opened(self, obj):
        return obj.alerts_opened if self._officer() else None

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_suppressed(self, obj):
        return obj.suppressed if self._officer() else None


class FirmAlertSerializer(serializers.ModelSerializer):
    """What a firm's user sees of an alert on its own client: where it stands and what the firm
    must provide. Never the list, the entry, the score or the explanation (no tipping-off)."""

    status = serializers.SerializerMethodField(help_text="awaiting_compliance | decided")
    what_to_provide = serializers.SerializerMethodField(
        help_text="Information that helps compliance tell the client from a listed subject")

    class Meta:
        model = ScreeningAlert
        fields = ["id", "party", "case", "status", "what_to_provide", "created_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField())
    def get_status(self, obj) -> str:
        return "awaiting_compliance" if obj.state in LIVE_ALERT_STATES else "decided"

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_what_to_provide(self, obj) -> list[str]:
        if obj.state not in LIVE_ALERT_STATES:
            return []
        party = obj.party
        needed = []
        if party.kind == "person":
            if not party.date_of_birth:
                needed.append("date of birth")
            if not party.nationalities:
                needed.append("nationality")
            if not party.place_of_birth_country:
                needed.append("country of birth")
            needed.append("a copy of an identity document (passport or national identity card)")
        else:
            if not party.country_of_incorporation:
                needed.append("country of incorporation")
            needed.append("registration number and a certificate of incorporation")
        return needed


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(allow_blank=False, trim_whitespace=True,
                                 help_text="Why: required for every decision, kept in the audit trail")


class AssignSerializer(serializers.Serializer):
    assignee = serializers.IntegerField(allow_null=True, help_text="User id of an officer, or null to unassign")


class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Screening alerts. Officers list and filter every alert and work it: assign, review,
    clear with a note (a second officer confirms above the high score), escalate, confirm.
    A firm's users list the alerts on their own clients: their state and what to provide."""

    lookup_value_regex = ID_REGEX
    filterset_fields = ["state", "party", "source", "firm", "is_pep", "assigned_to", "case"]

    def get_serializer_class(self):
        if self.action in ("clear", "escalate", "confirm"):
            return NoteSerializer
        if self.action == "assign":
            return AssignSerializer
        if self.request is not None and _sees_all(self.request.user):
            return AlertSerializer
        return FirmAlertSerializer

    def get_queryset(self):
        user = self.request.user
        if not user.is_authenticated:
            return ScreeningAlert.objects.none()
        if _sees_all(user):
            return alerts_for(user).order_by("-pk")
        return (scope_to_user(ScreeningAlert.objects.select_related("party"), user, firm_field="firm")
                .order_by("-pk"))

    def _decide(self, request, fn):
        alert = self.get_object()
        if not _sees_all(request.user):
            raise NotAComplianceOfficer()
        data = NoteSerializer(data=request.data)
        if not data.is_valid():
            raise ValidationFailed("note: required", detail={k: [str(m) for m in v] for k, v in data.errors.items()})
        alert = fn(alert=alert, actor=request.user, note=data.validated_data["note"])
        return Response(AlertSerializer(alert, context={"request": request}).data)

    @extend_schema(request=NoteSerializer, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def clear(self, request, pk=None):
        """Clear as a false positive, with a note; at or above the high score the first call
        records the request and a second, different officer clears."""
        return self._decide(request, services.alert_clear)

    @extend_schema(request=NoteSerializer, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def escalate(self, request, pk=None):
        return self._decide(request, services.alert_escalate)

    @extend_schema(request=NoteSerializer, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        """Confirm a true match (sanctions: cases rejected and relationships suspended)."""
        return self._decide(request, services.alert_confirm)

    @extend_schema(request=None, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        alert = self.get_object()
        if not _sees_all(request.user):
            raise NotAComplianceOfficer()
        alert = services.alert_start_review(alert=alert, actor=request.user)
        return Response(AlertSerializer(alert, context={"request": request}).data)

    @extend_schema(request=AssignSerializer, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        alert = self.get_object()
        if not _sees_all(request.user):
            raise NotAComplianceOfficer()
        data = AssignSerializer(data=request.data)
        if not data.is_valid():
            raise ValidationFailed("assignee: invalid", detail={k: [str(m) for m in v] for k, v in data.errors.items()})
        assignee = None
        if data.validated_data["assignee"] is not None:
            assignee = User.objects.filter(pk=data.validated_data["assignee"]).first()
            if assignee is None:
                raise ValidationFailed("assignee: no such user", detail={"assignee": ["no such user"]})
        alert = services.alert_assign(alert=alert, actor=request.user, assignee=assignee)
        return Response(AlertSerializer(alert, context={"request": request}).data)


class ScreeningRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Screening results of the firm's parties: filter by `party`."""

    serializer_class = ScreeningRunSerializer
    lookup_value_regex = ID_REGEX
    filterset_fields = ["party", "trigger"]

    def get_queryset(self):
        live = ScreeningAlert.objects.filter(party=OuterRef("party"), state__in=LIVE_ALERT_STATES)
        return (scope_to_user(ScreeningRun.objects.all(), self.request.user, firm_field="party__firm")
                .annotate(pending_review=Exists(live)).order_by("-pk"))
