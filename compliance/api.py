"""Partner API for screening, read-only: alerts and screening results for a party. Officers'
decisions stay in the admin.

Alert details (list entry, score, explanation) follow `compliance.selectors.alerts_for`: platform
officers see them, firm users do not (no tipping-off through the API). A firm user sees, for its
own parties, when each screening ran and whether the party awaits a compliance decision."""
from __future__ import annotations

from django.db.models import Exists, OuterRef
from drf_spectacular.utils import extend_schema_field
from rest_framework import mixins, serializers, viewsets

from onboarding.api.ids import ID_REGEX
from onboarding.selectors import scope_to_user

from .models import LIVE_ALERT_STATES, ScreeningAlert, ScreeningRun
from .selectors import alerts_for


def _sees_all(user) -> bool:
    return bool(getattr(user, "is_superuser", False) or getattr(user, "is_platform_officer", False))


class AlertSerializer(serializers.ModelSerializer):
    class Meta:
        model = ScreeningAlert
        fields = ["id", "firm", "party", "case", "source", "entry_ref", "entry_name", "party_version", "is_pep",
                  "score", "explanation", "state", "decision_note", "decided_at", "created_at", "updated_at"]
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


class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Screening alerts (platform officers; empty for firm users)."""

    serializer_class = AlertSerializer
    lookup_value_regex = ID_REGEX
    filterset_fields = ["state", "party", "source", "firm", "is_pep"]

    def get_queryset(self):
        if not self.request.user.is_authenticated:
            return ScreeningAlert.objects.none()
        return alerts_for(self.request.user).order_by("-pk")


class ScreeningRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Screening results of the firm's parties: filter by `party`."""

    serializer_class = ScreeningRunSerializer
    lookup_value_regex = ID_REGEX
    filterset_fields = ["party", "trigger"]

    def get_queryset(self):
        live = ScreeningAlert.objects.filter(party=OuterRef("party"), state__in=LIVE_ALERT_STATES)
        return (scope_to_user(ScreeningRun.objects.all(), self.request.user, firm_field="party__firm")
                .annotate(pending_review=Exists(live)).order_by("-pk"))
