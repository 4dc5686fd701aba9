"""Onboarding's work queues for the compliance admin."""
from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from .models import AuditIntegrityAlert, CaseState, OnboardingCase, Relationship, RelationshipState
from .requirements import WorkQueue, register_work_queue
from .selectors import cases_for, relationships_for

ROWS = 5


def _case_rows(queryset) -> list[dict]:
    now = timezone.now()
    return [
        {"label": f"Case {c.pk}: {c.party} ({c.jurisdiction})",
         "url": reverse("desk:case", args=[c.pk]),
         "age_days": (now - (c.submitted_at or c.created_at)).days, "detail": c.get_state_display()}
        for c in queryset.select_related("party")[:ROWS]
    ]


def _state_queue(title: str, state: str, severity: str = "normal"):
    def provider(user) -> WorkQueue:
        queryset = cases_for(user).filter(state=state).order_by("submitted_at", "pk")
        url = reverse("desk:queue") + f"?state={state}"
        return WorkQueue(title=title, count=queryset.count(), url=url, rows=_case_rows(queryset), severity=severity)

    return provider


def overdue_reviews(user) -> WorkQueue:
    today = timezone.localdate()
    queryset = relationships_for(user).filter(
        next_review_due__lt=today, state__in=[RelationshipState.ACTIVE, RelationshipState.UNDER_REVIEW]
    ).order_by("next_review_due")
    rows = [{"label": f"{r.party} @ {r.firm}", "url": reverse("admin:onboarding_relationship_change", args=[r.pk]),
             "age_days": (today - r.next_review_due).days, "detail": f"due {r.next_review_due}"}
            for r in queryset[:ROWS]]
    url = reverse("admin:onboarding_relationship_changelist") + "?overdue=1"
    return WorkQueue(title="Overdue periodic reviews", count=queryset.count(), url=url, rows=rows,
                     severity="danger" if rows else "normal")


def audit_integrity(user) -> WorkQueue:
    """Audit chains that did not prove (`audit_verify`): platform officers only."""
    queryset = (AuditIntegrityAlert.objects.filter(acknowledged_at__isnull=True).select_related("firm")
                if getattr(user, "is_platform_officer", False) or user.is_superuser else AuditIntegrityAlert.objects.none())
    now = timezone.now()
    rows = [{"label": str(a), "url": reverse("admin:onboarding_auditintegrityalert_change", args=[a.pk]),
             "age_days": (now - a.raised_at).days, "detail": f"expected {a.expected or '-'}, found {a.found or '-'}"}
            for a in queryset[:ROWS]]
    return WorkQueue(title="Audit trail integrity", count=queryset.count(),
                     url=reverse("admin:onboarding_auditintegrityalert_changelist"), rows=rows,
                     severity="danger" if rows else "normal")


def register() -> None:
    register_work_queue("onboarding.audit_integrity", audit_integrity)
    register_work_queue("onboarding.awaiting_review", _state_queue("Cases awaiting review", CaseState.SUBMITTED))
    register_work_queue("onboarding.in_review", _state_queue("Cases in review", CaseState.IN_REVIEW))
    register_work_queue("onboarding.second_approval",
                        _state_queue("Awaiting a second approval", CaseState.AWAITING_SECOND_APPROVAL, "warning"))
    register_work_queue("onboarding.information_requested",
                        _state_queue("Information requested from the firm", CaseState.INFORMATION_REQUESTED))
    register_work_queue("onboarding.overdue_reviews", overdue_reviews)


__all__ = ["register", "OnboardingCase", "Relationship"]
