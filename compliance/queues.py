"""Screening work queues for the compliance admin: live alerts, highest score first."""
from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from onboarding.requirements import WorkQueue, register_work_queue
from onboarding.selectors import scope_to_user

from .models import AlertState, ScreeningAlert


def _queue(title: str, states: tuple[str, ...], severity: str):
    def provider(user) -> WorkQueue:
        now = timezone.now()
        queryset = scope_to_user(ScreeningAlert.objects.filter(state__in=states), user).select_related("party")
        rows = [{"label": f"Alert {a.pk}: {a.party} ~ {a.entry_name} ({a.source.upper()})",
                 "url": reverse("admin:compliance_screeningalert_change", args=[a.pk]),
                 "age_days": (now - a.created_at).days, "detail": f"score {a.score}"}
                for a in queryset.order_by("-score", "created_at")[:5]]
        url = reverse("admin:compliance_screeningalert_changelist") + "?" + "&".join(
            f"state__exact={s}" for s in states[:1])
        return WorkQueue(title=title, count=queryset.count(), url=url, rows=rows,
                         severity=severity if rows else "normal")

    return provider


def register() -> None:
    register_work_queue("compliance.alerts_open", _queue("Open screening alerts",
                                                         (AlertState.OPEN, AlertState.UNDER_REVIEW), "warning"))
    register_work_queue("compliance.alerts_escalated", _queue("Escalated screening alerts",
                                                              (AlertState.ESCALATED,), "danger"))
