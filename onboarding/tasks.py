"""Celery tasks: ids in, fresh state loaded, a service called; safe to run twice."""
from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from .models import CaseKind, Relationship, RelationshipState
from .services import relationship_open_review


@shared_task(acks_late=True)
def open_due_reviews() -> dict:
    """Open a periodic review case for every active relationship whose review is due. Running it
    twice opens nothing twice (one open review per relationship)."""
    today = timezone.localdate()
    due = list(
        Relationship.objects.filter(state=RelationshipState.ACTIVE, next_review_due__lte=today).values_list("pk", flat=True)
    )
    for relationship_id in due:
        open_review_for.delay(relationship_id)
    return {"due": len(due)}


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def open_review_for(relationship_id: int) -> int:
    relationship = Relationship.objects.get(pk=relationship_id)
    case = relationship_open_review(relationship=relationship, actor=None, reason="periodic review due",
                                    kind=CaseKind.PERIODIC_REVIEW)
    return case.pk


class WebhookNotDelivered(Exception):
    pass


@shared_task(bind=True, acks_late=True, max_retries=8, retry_backoff=True, retry_backoff_max=3600)
def deliver_webhook(self, delivery_id: int) -> str:
    """Deliver one webhook; retried with exponential backoff; a delivered one is never re-sent."""
    from .models import WebhookDelivery
    from .webhooks import attempt

    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    if delivery.status == "delivered":
        return "already delivered"
    if attempt(delivery):
        return "delivered"
    if self.request.retries >= self.max_retries:
        WebhookDelivery.objects.filter(pk=delivery_id).update(status="failed")
        return "failed"
    if self.app.conf.task_always_eager:
        return "pending"  # eager mode (no broker): retries are left to the next sweep
    raise self.retry(exc=WebhookNotDelivered(delivery.last_error or str(delivery.last_status_code)))


@shared_task(acks_late=True)
def audit_chain() -> int:
    """Chain the audit rows committed since the last run (beat: every minute)."""
    from .audit_chain import chain_pending

    return chain_pending().chained


@shared_task(acks_late=True)
def audit_verify() -> dict:
    """Nightly: chain what is pending, prove every chain; a break raises an officer alert and logs an error."""
    from .audit_chain import verify_and_alert

    report = verify_and_alert()
    return {"ok": report.ok, "rows": report.rows, "breaks": [str(b) for b in report.breaks]}
