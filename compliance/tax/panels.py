"""Compliance's panels on onboarding's pages (onboarding/panels.py): the tax forms a case needs
and the capture of a signed form on the case page, the forms expiring soon on the dashboard.
Registered in TaxConfig.ready()."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from onboarding.exceptions import MeridianError
from onboarding.models import OnboardingCase, Party, PartyKind, User
from onboarding.panels import case_page, dashboard

from . import forms_catalogue, rulefiles, selectors, services, validity


def tax_forms_for_case(case: OnboardingCase) -> dict[str, Any]:
    """The determination for the case's party, with the reason each form is missing."""
    try:
        centre = selectors.booking_centre_for(case.relationship)
        required = selectors.required_forms(case.party, booking_centre=centre, case=case)
        missing = {(req.form, req.subject_ref): why
                   for req, why, _latest in selectors.missing_forms(case.party, booking_centre=centre, case=case)}
        on_file = list(selectors.forms_for_party(case.party)[:20])
    except MeridianError as exc:
        return {"source": "compliance.tax", "error": exc.message, "required": [], "on_file": []}
    own_ref = selectors.party_ref(case.party)
    crs_class = selectors.entity_crs_classification(case.party) if case.party.kind == PartyKind.ENTITY else ""
    return {
        "crs_classification": selectors.status_words(crs_class),
        "controlling_persons": selectors.controlling_persons_for_crs(case.party) if crs_class == "passive_nfe" else [],
        "mismatches": [m["reason"] for m in selectors.status_mismatches([case.party_id])] if crs_class else [],
        "source": "compliance.tax",
        "required": [
            {"form": selectors.form_label(req.form), "code": req.form, "who": req.subject_name, "why": req.reason,
             "source": req.source, "missing": missing.get((req.form, req.subject_ref), ""),
             "own": req.subject_ref == own_ref}
            for req in required
        ],
        "on_file": [_on_file(f) for f in on_file],
    }


def _on_file(form: Any) -> dict[str, Any]:
    """A form on file in words; a superseded form's status is the sentence naming its successor."""
    reason = selectors.status_reason_words(form)
    status = form.get_status_display()
    if form.status == "superseded" and reason.startswith("Superseded"):
        status, reason = reason, ""
    return {"form": selectors.form_label(form.form_type), "status": status, "valid_until": form.valid_until,
            "reason": reason, "signed_on": form.signed_on}


def tax_forms_expiring(user: User) -> list[Any]:
    """The firm's valid forms that expire within the warning window, soonest first."""
    if user.firm_id is None:
        return []
    today = timezone.localdate()
    horizon = today + dt.timedelta(days=validity.expiry_warning_days())
    return list(
        selectors.forms_for_firm(user.firm).filter(status="valid", valid_until__isnull=False, valid_until__lte=horizon)
        .order_by("valid_until")[:20]
    )


@dataclass(frozen=True)
class TaxCapture:
    """What the case page's tax-form capture needs from the tax app."""

    def form_choices(self, case: OnboardingCase, tax_forms: dict[str, Any]) -> list[tuple[str, str]]:
        """The forms this client must give first, then the other forms for its kind of party."""
        party = case.party
        own = [(f["code"], f["form"]) for f in tax_forms.get("required", []) if f.get("own") and f.get("code")]
        kind_forms = ["W9", "W8BEN", "CRS_IND"] if party.kind == PartyKind.PERSON else ["W9", "W8BENE", "CRS_ENT"]
        return list(dict.fromkeys(own + [(code, forms_catalogue.FORM_TYPES[code]) for code in kind_forms]))

    def controlling_persons(self, case: OnboardingCase) -> list[dict[str, Any]]:
        """An entity's controlling persons from its ownership structure, as a CRS
        self-certification lists them (party, name, role, role_label, tax_residences)."""
        return selectors.controlling_persons_for_crs(case.party) if case.party.kind == PartyKind.ENTITY else []

    def statuses(self) -> dict[str, Any]:
        return rulefiles.form_rules().get("statuses", {})

    def record(self, *, party: Party, form_type: str, data: dict[str, Any], signed_on: dt.date, actor: User) -> Any:
        return services.tax_form_capture(party=party, form_type=form_type, data=data, signed_on=signed_on, actor=actor)


def register() -> None:
    case_page.register("tax_forms", tax_forms_for_case)
    case_page.register("tax_capture", TaxCapture())
    dashboard.register("tax_expiring", tax_forms_expiring)
