"""Celery tasks: ids in, fresh state loaded, a service called; safe to run twice.

Beat schedule (add to CELERY_BEAT_SCHEDULE in config/settings/base.py):
    "compliance-periodic-reviews": {"task": "compliance.tasks.periodic_reviews",
                                    "schedule": crontab(hour=2, minute=0)},
"""
from __future__ import annotations

from celery import shared_task
from django.db import transaction

from onboarding.models import OnboardingCase, Party

from . import selectors, services
from .exceptions import RiskModelError
from .models import WatchlistSnapshot

CHUNK = 500


@shared_task(acks_late=True)
def rescreen_book(snapshot_id: int) -> dict:
    """Fan out a delta re-screen of every party in the book (clients of relationships not
    closed, and their owners and controllers) against what the snapshot added or changed."""
    snapshot = WatchlistSnapshot.objects.get(pk=snapshot_id)
    if not snapshot.is_active:
        return {"skipped": "snapshot no longer active"}
    party_ids = selectors.book_party_ids()
    chunks = [party_ids[i:i + CHUNK] for i in range(0, len(party_ids), CHUNK)]
    for chunk in chunks:
        rescreen_chunk.delay(snapshot_id, chunk)
    return {"parties": len(party_ids), "chunks": len(chunks)}


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def rescreen_chunk(snapshot_id: int, party_ids: list[int]) -> int:
    snapshot = WatchlistSnapshot.objects.get(pk=snapshot_id)
    return services.screen_parties_delta(snapshot=snapshot, party_ids=party_ids)


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def screen_case(case_id: int) -> int:
    case = OnboardingCase.objects.select_related("party").get(pk=case_id)
    opened = services.screen_case(case=case)
    with transaction.atomic():
        try:
            services.rate_case(case=OnboardingCase.objects.get(pk=case_id))
        except RiskModelError:
            pass  # no active risk model loaded yet: the screening still counts
    return len(opened)


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def party_changed(party_id: int) -> None:
    services.party_changed(party=Party.objects.get(pk=party_id))


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def ownership_changed(party_id: int) -> None:
    services.ownership_changed(party=Party.objects.get(pk=party_id))


@shared_task(acks_late=True)
def periodic_reviews() -> dict:
    """Open review cases for relationships falling due and flag overdue ones (daily)."""
    return services.open_due_reviews()
