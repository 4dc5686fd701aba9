"""Tax documentation's words for its audit events and form statuses, and the tax forms that
belong to a case's parties: registered with onboarding's label registry."""
from __future__ import annotations

from django.db.models import Q

from onboarding.labels import (
    register_audit_subjects,
    register_event_labels,
    register_state_labels,
    register_subject_names,
)

EVENTS = {
    "tax_form.prepared": "Tax form prepared",
    "tax_form.received": "Signed tax form received",
    "tax_form.validated": "Tax form validated",
    "tax_form.invalid": "Tax form found invalid",
    "tax_form.invalidated": "Tax form invalidated",
    "tax_form.expiring": "Tax form expiring soon",
    "tax_form.expired": "Tax form expired",
    "tax_form.cure_documents_added": "Documents curing a US indicium added",
    "tax_form.superseded": "Tax form superseded by a newer one",
    "tax_form.sensitive_revealed": "Tax form shown unmasked (audited reveal)",
    "tax.withholding_basis": "Withholding basis set",
    "tax.rule_created": "Tax rule loaded",
    "tax.rule_changed": "Tax rule changed",
}


def register() -> None:
    from .models import TaxForm, TaxFormStatus

    register_event_labels(EVENTS)
    register_state_labels(TaxForm._meta.label_lower, TaxFormStatus.choices)

    def subjects(party_ids: list[int]) -> Q:
        forms = TaxForm.objects.filter(Q(party_id__in=party_ids) | Q(related_party_id__in=party_ids))
        return Q(subject_type=TaxForm._meta.label_lower, subject_id__in=[str(pk) for pk in forms.values_list("pk", flat=True)])

    register_audit_subjects("compliance.tax.forms", subjects)

    def names(ids: list[str]) -> dict[str, str]:
        from .selectors import form_label

        forms = TaxForm.objects.filter(pk__in=[int(i) for i in ids if i.isdigit()]).select_related("party")
        return {str(f.pk): f"{form_label(f.form_type)} of {f.party.display_name}" for f in forms}

    register_subject_names(TaxForm._meta.label_lower, names)
