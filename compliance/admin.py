"""Admin: snapshots and entries read-only, alerts worked through services, thresholds and risk models."""
from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.utils.html import format_html, format_html_join

from onboarding.exceptions import MeridianError

from . import services
from .models import (
    LIVE_ALERT_STATES,
    ClearedMatch,
    RiskAssessment,
    RiskModel,
    ScreeningAlert,
    ScreeningRun,
    ScreeningThreshold,
    WatchlistEntry,
    WatchlistSnapshot,
)
from .screening.explain import explain_alert


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


_ALERT_ACTIONS = {
    "start_review": ("Start review", False),
    "assign_to_me": ("Assign to me", False),
    "clear": ("Clear as false positive", True),
    "escalate": ("Escalate", True),
    "confirm": ("Confirm match", True),
}


@admin.register(ScreeningAlert)
class ScreeningAlertAdmin(admin.ModelAdmin):
    """One page per alert: the hit explained in words (tokens and how they matched, date of
    birth, country, identifiers) and the actions, each with a mandatory note typed on that page.
    Decisions go through the services (four eyes above the high score, audit). Nothing on the
    alert is edited directly; notes are read-only, once decided for good."""

    list_display = ("pk", "party", "firm", "source", "entry_ref", "entry_name", "score", "state", "assigned_to",
                    "is_pep", "created_at")
    list_filter = ("state", "source", "is_pep", "firm")
    search_fields = ("party__family_name", "party__legal_name", "entry_name", "entry_ref")
    readonly_fields = ["hit_explained", *[f.name for f in ScreeningAlert._meta.fields if f.name != "explanation"]]
    exclude = ("explanation",)
    change_form_template = "admin/compliance/screeningalert/change_form.html"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Why this alert")
    def hit_explained(self, obj):
        readable = explain_alert(obj.explanation, entry_name=obj.entry_name)
        rows = format_html_join("", "<li>{}</li>", ((line,) for line in readable["lines"]))
        return format_html("<strong>{}</strong><ul>{}</ul>", readable["summary"], rows)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        alert = self.get_object(request, object_id)
        if request.method == "POST" and alert is not None and "_alert_action" in request.POST:
            return self._act(request, alert)
        extra_context = {**(extra_context or {}),
                         "alert_actions": [(k, label, needs_note) for k, (label, needs_note) in _ALERT_ACTIONS.items()],
                         "alert_live": alert is not None and alert.state in LIVE_ALERT_STATES}
        return super().change_view(request, object_id, form_url, extra_context)

    def _act(self, request, alert):
        action = request.POST["_alert_action"]
        note = request.POST.get("note", "").strip()
        try:
            if action == "start_review":
                services.alert_start_review(alert=alert, actor=request.user)
            elif action == "assign_to_me":
                services.alert_assign(alert=alert, actor=request.user, assignee=request.user)
            elif action == "clear":
                services.alert_clear(alert=alert, actor=request.user, note=note)
            elif action == "escalate":
                services.alert_escalate(alert=alert, actor=request.user, note=note)
            elif action == "confirm":
                services.alert_confirm(alert=alert, actor=request.user, note=note)
            else:
                raise MeridianError(f"unknown action {action!r}")
        except MeridianError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
        else:
            alert.refresh_from_db()
            self.message_user(request, f"{_ALERT_ACTIONS[action][0]}: the alert is now {alert.get_state_display()}")
        return HttpResponseRedirect(request.path)


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
