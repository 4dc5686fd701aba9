"""What compliance.tax registers with onboarding: a requirement provider (tax forms outstanding
on a case), an activation check (the relationship is currently documented) and a case hook
(a change of party data voids forms whose circumstances changed)."""
from __future__ import annotations

from typing import Any

from onboarding.requirements import Outstanding

from . import selectors
from .forms_catalogue import FORM_TYPES


def outstanding_tax_forms(case: Any) -> list[Outstanding]:
    items = []
    for req, why, latest in selectors.missing_forms(case.party, booking_centre=case.jurisdiction, case=case):
        items.append(
            Outstanding(
                code=req.code,
                subject=req.subject_ref,
                reason=f"{FORM_TYPES[req.form]} from {req.subject_name}: {why}. {req.reason}",
                category="tax",
                source=req.source,
                detail={"form_type": req.form, "why": why, "latest_form": latest.pk if latest else None,
                        "for": req.for_ref, **req.detail},
                citation={"rule": req.code, "pack": "", "source": req.source, "effective_from": ""},
            )
        )
    return items


def outstanding_status_mismatches(case: Any) -> list[Outstanding]:
    """An entity client whose W-8BEN-E and CRS self-certification disagree on what kind of entity
    it is (one query; none for a person)."""
    if case.party.kind != "entity":
        return []
    party_ids = [case.party_id]
    return [
        Outstanding(
            code="tax.status_mismatch", subject=selectors.party_ref(m["party"]), reason=m["reason"], category="tax",
            source=m["source"],
            detail={"w8bene": m["w8"].pk, "crs_ent": m["crs"].pk, "chapter4_status": m["chapter4_status"],
                    "crs_classification": m["crs_classification"]},
            citation={"rule": "tax.status_consistency", "pack": "", "source": m["source"], "effective_from": ""},
        )
        for m in selectors.status_mismatches(party_ids)
    ]


def relationship_tax_check(relationship: Any) -> list[str]:
    """Reasons the relationship is not currently documented for tax (empty when it is)."""
    missing = selectors.missing_forms(relationship.party, booking_centre=selectors.booking_centre_for(relationship),
                                      case=selectors.latest_case(relationship))
    return [f"{FORM_TYPES[req.form]} from {req.subject_name}: {why}" for req, why, _ in missing]


def on_case_event(case_or_party: Any, event: str) -> None:
    """onboarding calls hooks with a case ("submitted", ...) or a party ("party_changed").
    On submission the missing forms are prepared (pre-filled drafts to send for signature)."""
    if event == "submitted":
        from .services import tax_forms_prepare_missing

        tax_forms_prepare_missing(case=case_or_party)
    elif event == "party_changed":
        from onboarding.models import OnboardingCase

        from .services import tax_forms_review_party_change

        party = case_or_party.party if isinstance(case_or_party, OnboardingCase) else case_or_party
        tax_forms_review_party_change(party=party)


def register() -> None:
    from onboarding.requirements import (
        register_activation_check,
        register_case_hook,
        register_crs_lookup,
        register_provider,
    )

    from .determination import is_crs_jurisdiction

    register_crs_lookup(lambda country, on: is_crs_jurisdiction(country, on=on))

    register_provider("tax.forms", outstanding_tax_forms)
    register_provider("tax.status_consistency", outstanding_status_mismatches)
    register_activation_check("tax.forms", relationship_tax_check)
    register_case_hook("tax.party_changed", on_case_event)
