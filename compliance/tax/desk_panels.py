"""What tax documentation shows on the officer's review desk: the forms the case needs, why, and
the forms on file with their validity. Registered with onboarding's panel registry."""
from __future__ import annotations

from django.template.loader import render_to_string

from onboarding.exceptions import MeridianError
from onboarding.models import Party
from onboarding.panels import Panel, review_desk


def tax_panel(request, case, party_ids):
    from . import selectors
    from .models import TaxForm

    error = ""
    required = []
    try:
        centre = selectors.booking_centre_for(case.relationship)
        missing = {(req.form, req.subject_ref): why
                   for req, why, _latest in selectors.missing_forms(case.party, booking_centre=centre, case=case)}
        required = [{"form": selectors.form_label(req.form), "who": req.subject_name, "why": req.reason,
                     "source": req.source, "missing": missing.get((req.form, req.subject_ref), "")}
                    for req in selectors.required_forms(case.party, booking_centre=centre, case=case)]
    except MeridianError as exc:
        error = exc.message
    names = dict(Party.objects.filter(pk__in=party_ids).values_list("pk", "legal_name"))
    forms = list(TaxForm.objects.filter(party_id__in=party_ids).select_related("party", "related_party")
                 .order_by("party_id", "-created_at")[:50])
    on_file = [{"form": f, "label": selectors.form_label(f.form_type), "status": f.get_status_display(),
                "reason": selectors.status_reason_words(f), "who": f.party.display_name + (f" — controlling person of {f.related_party.display_name}"
                                               if f.related_party_id else ""),
                "errors": [e.get("message", "") for e in (f.validation_errors or []) if isinstance(e, dict)]}
               for f in forms]
    missing_count = sum(1 for r in required if r["missing"])
    from .panels import tax_forms_for_case

    html = render_to_string("desk/_tax_panel.html", {"required": required, "on_file": on_file, "error": error,
                                                     "names": names, "tax_forms": tax_forms_for_case(case)},
                            request=request)
    return Panel("tax", f"Tax forms ({missing_count} missing)" if missing_count else "Tax forms", html)


def register() -> None:
    review_desk.register("tax_forms", tax_panel)
