"""Celery tasks for tax documentation: ids or dates in, a service call, safe to run twice."""
from __future__ import annotations

import datetime as dt

from celery import shared_task


@shared_task(name="tax.expiry_sweep")
def tax_expiry_sweep(today: str | None = None) -> dict:
    """Daily: expire forms past validity, flag those expiring within 90 days, default withholding.
    Idempotent: an expired form is not expired twice and a warning is sent once per form."""
    from .services import tax_forms_expiry_sweep

    return tax_forms_expiry_sweep(today=dt.date.fromisoformat(today) if today else None)


@shared_task(name="tax.review_party_change")
def tax_review_party_change(party_id: int) -> list[int]:
    from onboarding.models import Party

    from .services import tax_forms_review_party_change

    return [f.pk for f in tax_forms_review_party_change(party=Party.objects.get(pk=party_id))]
