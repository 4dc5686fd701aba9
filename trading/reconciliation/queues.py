"""Reconciliation's work queue for the compliance admin: live breaks past their SLA due time,
then the oldest, highest priority first."""
from __future__ import annotations

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from onboarding.requirements import WorkQueue, register_work_queue

from .models import ACTIVE_STATES, Break


def aged_breaks(user) -> WorkQueue:
    now = timezone.now()
    today = timezone.localdate()
    queryset = Break.objects.filter(state__in=ACTIVE_STATES)
    if not (user.is_platform_officer or user.is_superuser):
        queryset = queryset.filter(firm_id=user.firm_id) if user.firm_id else queryset.none()
    overdue = queryset.filter(Q(due_at__lt=now))
    rows = [{"label": f"{b.custodian_code} {b.custody_account} · {b.get_kind_display()} · {b.amount_base} "
                      f"{b.base_currency}",
             "url": reverse("admin:reconciliation_break_change", args=[b.pk]),
             "age_days": (today - b.first_seen).days,
             "detail": f"P{b.priority}, due {b.due_at:%Y-%m-%d %H:%M}" if b.due_at else f"P{b.priority}"}
            for b in overdue.order_by("due_at", "priority", "first_seen")[:5]]
    return WorkQueue(title="Reconciliation breaks past their SLA", count=overdue.count(),
                     url=reverse("admin:reconciliation_break_changelist"), rows=rows,
                     severity="danger" if rows else "normal")


def register() -> None:
    register_work_queue("reconciliation.aged_breaks", aged_breaks)
