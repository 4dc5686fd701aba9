"""The one way to write the audit trail. Call it inside the same transaction as the change."""
from __future__ import annotations

from typing import Any

from django.db import models

from .models import AuditEvent, Firm, User


def record_event(
    *,
    subject: models.Model,
    event_type: str,
    actor: User | None = None,
    firm: Firm | None = None,
    from_state: str = "",
    to_state: str = "",
    reason: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event about `subject` (any model instance)."""
    if firm is None:
        firm = getattr(subject, "firm", None)
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return AuditEvent.objects.create(
        firm=firm,
        actor=actor,
        subject_type=subject._meta.label_lower,
        subject_id=str(subject.pk),
        event_type=event_type,
        from_state=str(from_state or ""),
        to_state=str(to_state or ""),
        reason=reason or "",
        detail=detail or {},
    )


def events_for(subject: models.Model):
    return AuditEvent.objects.filter(subject_type=subject._meta.label_lower, subject_id=str(subject.pk))
