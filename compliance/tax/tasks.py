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


@shared_task(name="tax.render_form_pdf")
def tax_render_form_pdf(form_id: int) -> str:
    """Render a form to PDF into the default storage and return its name. Run on a worker with a
    bounded lifetime (worker_max_tasks_per_child): WeasyPrint workers grow in memory."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from .documents import render_tax_form_pdf
    from .models import TaxForm

    form = TaxForm.objects.select_related("party").get(pk=form_id)
    name = f"tax_forms/{form.firm_id}/{form.pk}-{form.form_type}.pdf"
    if default_storage.exists(name):
        default_storage.delete(name)
    return default_storage.save(name, ContentFile(render_tax_form_pdf(form)))
