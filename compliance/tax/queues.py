"""The tax documents' work queues for the compliance admin: forms expiring within the warning
window, and expired forms putting accounts on default withholding."""
from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from onboarding.requirements import WorkQueue, register_work_queue
from onboarding.selectors import scope_to_user

from .models import TaxForm, TaxFormStatus
from .selectors import form_label, forms_expiring


def expiring(user) -> WorkQueue:
    today = timezone.localdate()
    queryset = scope_to_user(forms_expiring(on=today), user)
    rows = [{"label": f"{form_label(f.form_type)} · {f.party}", "url": reverse("admin:tax_taxform_change", args=[f.pk]),
             "age_days": (f.valid_until - today).days, "detail": f"valid until {f.valid_until}"}
            for f in queryset[:5]]
    return WorkQueue(title="Tax documents expiring within 90 days", count=queryset.count(),
                     url=reverse("admin:tax_taxform_changelist") + "?status__exact=valid", rows=rows,
                     severity="warning" if rows else "normal")


def expired(user) -> WorkQueue:
    today = timezone.localdate()
    queryset = scope_to_user(TaxForm.objects.filter(status=TaxFormStatus.EXPIRED), user).select_related("party")
    rows = [{"label": f"{form_label(f.form_type)} · {f.party}", "url": reverse("admin:tax_taxform_change", args=[f.pk]),
             "age_days": (today - f.valid_until).days if f.valid_until else 0, "detail": "default withholding applies"}
            for f in queryset.order_by("valid_until")[:5]]
    return WorkQueue(title="Expired tax documents", count=queryset.count(),
                     url=reverse("admin:tax_taxform_changelist") + "?status__exact=expired", rows=rows,
                     severity="danger" if rows else "normal")


def register() -> None:
    register_work_queue("tax.expiring", expiring)
    register_work_queue("tax.expired", expired)
