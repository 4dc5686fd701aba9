"""Compliance's words for its audit events and states, and the audit subjects (screening alerts,
risk assessments) that belong to a case's parties: registered with onboarding's label registry."""
from __future__ import annotations

from django.db.models import Q

from onboarding.labels import (
    register_audit_subjects,
    register_confidential_events,
    register_confidential_subject,
    register_event_labels,
    register_state_labels,
    register_subject_names,
)

EVENTS = {
    "screening.performed": "Screened against the sanctions and PEP lists",
    "screening.alert_opened": "Screening alert opened",
    "screening.alert_review_started": "Screening alert review started",
    "screening.alert_escalated": "Screening alert escalated",
    "screening.alert_confirmed": "Screening alert confirmed as a true match",
    "screening.alert_cleared": "Screening alert cleared as a false positive",
    "screening.alert_clear_requested": "Clearing of a screening alert requested (second officer to confirm)",
    "screening.alert_assigned": "Screening alert assigned",
    "screening.confirmed_match": "Confirmed sanctions or PEP match",
    "screening.entry_delisted": "List entry delisted",
    "watchlist.imported": "Watchlist imported",
    "risk_model.loaded": "Risk model loaded",
    "alert.raised": "Alert raised",
}


def register() -> None:
    from .models import AlertState, RiskAssessment, ScreeningAlert

    register_event_labels(EVENTS)
    register_state_labels(ScreeningAlert._meta.label_lower, AlertState.choices)
    register_confidential_subject(ScreeningAlert._meta.label_lower)
    for prefix in ("screening.", "watchlist.", "risk_model."):
        register_confidential_events(prefix)

    def subjects(party_ids: list[int]) -> Q:
        alerts = ScreeningAlert.objects.filter(party_id__in=party_ids).values_list("pk", flat=True)
        assessments = RiskAssessment.objects.filter(party_id__in=party_ids).values_list("pk", flat=True)
        return (Q(subject_type=ScreeningAlert._meta.label_lower, subject_id__in=[str(pk) for pk in alerts])
                | Q(subject_type=RiskAssessment._meta.label_lower, subject_id__in=[str(pk) for pk in assessments]))

    register_audit_subjects("compliance.screening", subjects)

    def names(ids: list[str]) -> dict[str, str]:
        alerts = ScreeningAlert.objects.filter(pk__in=[int(i) for i in ids if i.isdigit()]).select_related("party")
        return {str(a.pk): f"screening alert on {a.party.display_name}" for a in alerts}

    register_subject_names(ScreeningAlert._meta.label_lower, names)
