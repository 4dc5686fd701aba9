"""Admin: snapshots and entries read-only, alerts worked through services, thresholds and risk models."""
from __future__ import annotations

from django.contrib import admin, messages

from onboarding.exceptions import MeridianError

from . import services
from .models import (
    ClearedMatch,
    RiskAssessment,
    RiskModel,
    ScreeningAlert,
    ScreeningRun,
    ScreeningThreshold,
    WatchlistEntry,
    WatchlistSnapshot,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(WatchlistSnapshot)
class WatchlistSnapshotAdmin(ReadOnlyAdmin):
    list_display = ("source", "version", "is_active", "entry_count", "imported_at", "imported_by")
    list_filter = ("source", "is_active")
    readonly_fields = ("source", "version", "is_active", "files", "entry_count", "report", "imported_by",
                       "imported_at")


@admin.register(WatchlistEntry)
class WatchlistEntryAdmin(ReadOnlyAdmin):
    list_display = ("source", "ref", "kind", "name", "snapshot")
    list_filter = ("source", "kind", "snapshot__is_active")
    search_fields = ("ref", "name", "aliases")
    list_select_related = ("snapshot",)


def _run_action(modeladmin, request, queryset, fn, label):
    done = 0
    for alert in queryset:
        try:
            fn(alert)
            done += 1
        except MeridianError as exc:
            modeladmin.message_user(request, f"alert {alert.pk}: {exc.message}", level=messages.ERROR)
    if done:
        modeladmin.message_user(request, f"{label}: {done} alert(s)")


@admin.register(ScreeningAlert)
class ScreeningAlertAdmin(admin.ModelAdmin):
    """Decisions go through the services (four eyes, notes, audit). The note for an action is
    the text typed in the alert's "decision note" field beforehand, or the action name."""

    list_display = ("pk", "party", "firm", "source", "entry_ref", "entry_name", "score", "state", "is_pep",
                    "created_at")
    list_filter = ("state", "source", "is_pep", "firm")
    search_fields = ("party__family_name", "party__legal_name", "entry_name", "entry_ref")
    readonly_fields = [f.name for f in ScreeningAlert._meta.fields if f.name != "decision_note"]
    actions = ["start_review", "escalate", "clear_false_positive", "confirm_match"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Start review")
    def start_review(self, request, queryset):
        _run_action(self, request, queryset, lambda a: services.alert_start_review(alert=a, actor=request.user),
                    "review started")

    @admin.action(description="Escalate (note required)")
    def escalate(self, request, queryset):
        _run_action(self, request, queryset,
                    lambda a: services.alert_escalate(alert=a, actor=request.user, note=a.decision_note),
                    "escalated")

    @admin.action(description="Clear as false positive (note required; four eyes for high scores)")
    def clear_false_positive(self, request, queryset):
        _run_action(self, request, queryset,
                    lambda a: services.alert_clear(alert=a, actor=request.user, note=a.decision_note), "cleared")

    @admin.action(description="Confirm match (note required; rejects cases, suspends relationships)")
    def confirm_match(self, request, queryset):
        _run_action(self, request, queryset,
                    lambda a: services.alert_confirm(alert=a, actor=request.user, note=a.decision_note),
                    "confirmed")


@admin.register(ClearedMatch)
class ClearedMatchAdmin(ReadOnlyAdmin):
    list_display = ("party", "source", "entry_ref", "party_version", "cleared_at", "expires_at")
    list_filter = ("source",)
    search_fields = ("entry_ref",)


@admin.register(ScreeningRun)
class ScreeningRunAdmin(ReadOnlyAdmin):
    list_display = ("party", "trigger", "hits", "alerts_opened", "suppressed", "created_at")
    list_filter = ("trigger",)


@admin.register(ScreeningThreshold)
class ScreeningThresholdAdmin(admin.ModelAdmin):
    list_display = ("firm", "source", "threshold", "high_score", "note")
    list_filter = ("source",)


@admin.register(RiskModel)
class RiskModelAdmin(ReadOnlyAdmin):
    list_display = ("code", "version", "name", "effective_from", "is_active", "created_at")
    list_filter = ("code", "is_active")
    search_fields = ("code", "name")


@admin.register(RiskAssessment)
class RiskAssessmentAdmin(ReadOnlyAdmin):
    list_display = ("party", "level", "score", "next_review_due", "model", "created_at")
    list_filter = ("level", "model")
