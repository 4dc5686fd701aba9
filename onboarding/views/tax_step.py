"""The wizard's tax step: tax residences, the forms the case needs (the tax app's panel, or the
policy's list) and the capture of a signed form through the tax app's panel."""
from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from .. import selectors, services
from ..exceptions import MeridianError
from ..forms import (
    TaxFormCaptureForm,
    TaxResidenceForm,
    add_service_error,
)
from ..models import (
    OnboardingCase,
    PartyKind,
    TaxResidence,
)
from ..panels import case_page
from .common import wizard_context

# --- Panels other apps fill (onboarding/panels.py) --------------------------------------------------------------------------------


def tax_forms_for_case(case: OnboardingCase) -> dict[str, Any]:
    """The tax forms the case needs: what the tax app's panel determines (with the reason each form
    is missing), or, with no tax app registered, the forms the (pinned or current) policy lists
    with the conditions under which each applies."""
    provider = case_page.provider("tax_forms")
    if provider is not None:
        return provider(case)
    policy = selectors.case_policy(case).get("policy", {})
    kind = case.party.kind
    listed = []
    for rule in policy.get("tax_forms", []):
        when = rule.get("when", {})
        if when.get("party_kind") and when["party_kind"] != kind:
            continue
        conditions = []
        if "us_person" in when:
            conditions.append("the client is a US person" if when["us_person"] else "the client is not a US person")
        if "intermediary" in when:
            conditions.append("the client is an intermediary" if when["intermediary"] else "the client is not an intermediary")
        if when.get("crs"):
            conditions.append("the booking jurisdiction participates in CRS"
                              + (" (it does)" if policy.get("crs_participating") else " (it does not)"))
        listed.append({"form": rule.get("form", "?"), "why": "when " + " and ".join(conditions) if conditions else "always"})
    return {"source": "policy", "required": listed, "on_file": []}




def tax_capture_form(request: HttpRequest, case: OnboardingCase, tax_forms: dict[str, Any]) -> TaxFormCaptureForm | None:
    """The tax form capture, when the tax app registered it: the forms this client must give
    first, fields started from the party's data."""
    capture = case_page.provider("tax_capture")
    if capture is None:
        return None
    choices = capture.form_choices(case, tax_forms)
    party = case.party
    missing_first = next((f["code"] for f in tax_forms.get("required", []) if f.get("own") and f.get("missing")), None)
    address = party.addresses.filter(kind__in=["residential", "registered"]).first()
    initial = {
        "form_type": missing_first or (choices[0][0] if choices else ""), "name": party.display_name,
        "date_of_birth": party.date_of_birth, "citizenship": (party.nationalities or [""])[0],
        "country_of_incorporation": party.country_of_incorporation, "signed_on": timezone.localdate(),
        "signer_name": party.display_name if party.kind == PartyKind.PERSON else "",
        "tax_classification": "individual" if party.kind == PartyKind.PERSON else "",
    }
    # The TIN of the client's tax residence outside the US, entered once, is offered again on the W-8
    foreign = party.tax_residences.exclude(country="US").exclude(tin="").order_by("pk").first()
    if foreign is not None:
        initial["foreign_tin"] = foreign.tin
    if address:
        initial.update({"address_line1": address.line1, "address_city": address.city,
                        "address_postal_code": address.postal_code, "address_country": address.country})
    data = request.POST if request.method == "POST" and request.POST.get("action") == "tax_form" else None
    return TaxFormCaptureForm(data, form_types=choices, statuses=capture.statuses(),
                              controlling_persons=capture.controlling_persons(case), initial=initial, prefix="tf")


def residence_parties(case: OnboardingCase) -> list[tuple[int, str]]:
    """Whose tax residences the step records: the client, then (an entity) its controlling persons
    for CRS, whose residences its self-certification carries."""
    parties = [(case.party_id, case.party.display_name)]
    capture = case_page.provider("tax_capture")
    if capture is not None and case.party.kind == PartyKind.ENTITY:
        parties += [(int(p["party"]), f"{p['name']} (controlling person)") for p in capture.controlling_persons(case)]
    return list(dict.fromkeys(parties))


def step_tax(request: HttpRequest, case: OnboardingCase) -> HttpResponse:
    posted = request.POST.get("action") if request.method == "POST" else None
    parties = residence_parties(case)
    form = TaxResidenceForm(request.POST if posted == "residence" else None, party_choices=parties,
                            initial={"party": case.party_id, "country": case.party.jurisdiction})
    tax_forms = tax_forms_for_case(case)
    capture = tax_capture_form(request, case, tax_forms)
    if posted == "residence" and form.is_valid():
        party = case.party if form.cleaned_data["party"] == case.party_id else \
            selectors.get_party_for(request.user, form.cleaned_data["party"])
        try:
            services.party_set_tax_residence(
                party=party, actor=request.user, country=form.cleaned_data["country"],
                tin=form.cleaned_data["tin"].strip(), no_tin_reason=form.cleaned_data["no_tin_reason"],
                no_tin_explanation=form.cleaned_data["no_tin_explanation"],
            )
        except MeridianError as exc:
            add_service_error(form, exc, TaxResidenceForm.ALIASES)
        else:
            messages.success(request, "Tax residence saved." if party.pk == case.party_id
                             else f"Tax residence of {party.display_name} saved.")
            return redirect("portal:wizard_step", case.pk, "tax")
    if posted == "tax_form" and capture is not None and capture.is_valid():
        response = record_tax_form(request, case, capture)
        if response is not None:
            return response
    has_errors = bool(form.errors or (capture is not None and capture.errors))
    return render(request, "portal/wizard_tax.html", wizard_context(
        case, "tax", form=form, residences=TaxResidence.objects.filter(party_id__in=[pk for pk, _ in parties])
        .select_related("party").order_by("party_id", "country"), several_parties=len(parties) > 1,
        tax_forms=tax_forms_for_case(case), capture=capture,
    ), status=422 if has_errors else 200)


def record_tax_form(request: HttpRequest, case: OnboardingCase, capture: TaxFormCaptureForm) -> HttpResponse | None:
    """Hand the signed form to the tax service, which records and validates it. A form found
    invalid is kept as received; its problems go back next to the fields they are about."""
    tax_capture = case_page.provider("tax_capture")
    residences = [
        {"country": r.country, "tin": r.tin, "no_tin_reason": r.no_tin_reason, "explanation": r.no_tin_explanation}
        for r in case.party.tax_residences.order_by("country")
    ]
    try:
        recorded = tax_capture.record(
            party=case.party, form_type=capture.cleaned_data["form_type"], data=capture.form_data(residences),
            signed_on=capture.cleaned_data["signed_on"], actor=request.user,
        )
    except MeridianError as exc:
        add_service_error(capture, exc, TaxFormCaptureForm.ALIASES)
        return None
    label = dict(capture.fields["form_type"].choices).get(recorded.form_type, recorded.form_type)
    if recorded.status == "valid":
        until = f", valid until {recorded.valid_until:%-d %b %Y}" if recorded.valid_until else ""
        messages.success(request, f"{label} recorded and valid{until}.")
        return redirect("portal:wizard_step", case.pk, "tax")
    for issue in recorded.validation_errors or []:
        capture.add_error(capture.field_for(issue.get("field", "")), issue.get("message", ""))
    if not recorded.validation_errors:
        capture.add_error(None, recorded.status_reason or f"the form is {recorded.status}")
    messages.error(request, f"{label} was recorded but is not valid; correct it and record it again.")
    return None
