"""The onboarding wizard: a new client, then one page per step (client details, ownership and
control, documents, tax, review and submit)."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from .. import selectors, services
from ..exceptions import MeridianError
from ..forms import (
    DocumentForm,
    OwnerForm,
    PartyForm,
    add_service_error,
)
from ..models import (
    Document,
    OnboardingCase,
    Party,
    PartyKind,
)
from ..services import MAX_UPLOAD_BYTES
from .common import (
    EDITABLE_STATES,
    STEP_LABELS,
    STEPS,
    OutstandingRow,
    first_incomplete_step,
    next_step,
    ownership_structure,
    portal_view,
    steps_for,
    wizard_context,
)
from .tax_step import step_tax


@portal_view
def client_new(request: HttpRequest, kind: str | None = None) -> HttpResponse:
    """Step 1 for a new client: the party, its address and identifiers, and its onboarding case,
    created together or not at all."""
    if kind is None:
        return render(request, "portal/client_kind.html", {})
    if kind not in PartyKind.values:
        raise Http404("unknown kind of client")
    firm = request.user.firm
    if firm is None:
        raise DjangoPermissionDenied("only a firm's users onboard clients")
    form = PartyForm(request.POST or None, kind=kind, creating=True)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                extra = {"client_type": form.cleaned_data.get("client_type")} if kind == PartyKind.ENTITY else {}
                party = services.party_create(firm=firm, actor=request.user, kind=kind, **extra, **form.party_data())
                save_party_details(party, form, request.user)
                case = services.case_create(firm=firm, party=party, actor=request.user,
                                            jurisdiction=form.cleaned_data.get("jurisdiction") or None)
        except MeridianError as exc:
            add_service_error(form, exc, PartyForm.ALIASES)
        else:
            messages.success(request, f"{party.display_name} saved as a draft case. You can leave and resume at any time.")
            return redirect("portal:wizard_step", case.pk, next_step(case, "party"))
    return render(request, "portal/wizard_party.html", {
        "form": form, "kind": kind, "creating": True, "steps": None, "case": None,
    }, status=422 if form.errors else 200)


def save_party_details(party: Party, form: PartyForm, actor) -> None:
    """Address and identifiers from the party form, each through its service; an error is tagged
    with the form field it came from."""
    address = form.address_data()
    if address:
        services.party_add_address(party=party, actor=actor, **address)
    for field_name, identifier in form.identifiers():
        try:
            services.party_add_identifier(party=party, actor=actor, **identifier)
        except MeridianError as exc:
            _head, sep, rest = exc.message.partition(": ")
            raise type(exc)(f"{field_name}: {rest if sep else exc.message}", detail={field_name: exc.detail}) from exc


def case_for_wizard(request: HttpRequest, case_id: int) -> OnboardingCase:
    return selectors.get_case_for(request.user, case_id)


@portal_view
def wizard_resume(request: HttpRequest, case_id: int) -> HttpResponse:
    case = case_for_wizard(request, case_id)
    if case.state not in EDITABLE_STATES:
        return redirect("portal:case_detail", case.pk)
    step = first_incomplete_step(case, selectors.case_outstanding(case))
    return redirect("portal:wizard_step", case.pk, step)


@portal_view
def wizard_step(request: HttpRequest, case_id: int, step: str) -> HttpResponse:
    case = case_for_wizard(request, case_id)
    names = [name for name, _ in steps_for(case)]
    if step not in names:
        raise Http404("no such step")
    if case.state not in EDITABLE_STATES:
        messages.info(request, f"This case is {case.get_state_display().lower()}; it can no longer be edited.")
        return redirect("portal:case_detail", case.pk)
    handler = {"party": step_party, "ownership": step_ownership, "documents": step_documents,
               "tax": step_tax, "review": step_review}[step]
    return handler(request, case)




def party_initial(party: Party) -> dict[str, Any]:
    initial = {name: getattr(party, name) for name in PartyForm.PERSON_FIELDS + PartyForm.ENTITY_FIELDS + PartyForm.COMMON_FIELDS}
    initial["client_type"] = party.client_type
    initial["nationalities"] = ", ".join(party.nationalities or [])
    address = party.addresses.filter(kind__in=["residential", "registered"]).first()
    if address:
        initial.update({"address_line1": address.line1, "address_line2": address.line2, "address_city": address.city,
                        "address_region": address.region, "address_postal_code": address.postal_code,
                        "address_country": address.country})
    for identifier in party.identifiers.all():
        if identifier.kind in ("passport", "national_id"):
            initial.update({"id_kind": identifier.kind, "id_value": identifier.value, "id_country": identifier.country})
        elif identifier.kind == "registration":
            initial["registration_number"] = identifier.value
        elif identifier.kind == "lei":
            initial["lei"] = identifier.value
        elif identifier.kind == "tax_id":
            initial.update({"tax_id": identifier.value, "tax_id_country": identifier.country})
    return initial


def step_party(request: HttpRequest, case: OnboardingCase) -> HttpResponse:
    party = case.party
    form = PartyForm(request.POST or None, kind=party.kind, creating=False, initial=party_initial(party))
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                data = form.party_data()
                services.party_update(party=party, actor=request.user, **data)
                save_party_details(party, form, request.user)
        except MeridianError as exc:
            add_service_error(form, exc, PartyForm.ALIASES)
        else:
            messages.success(request, "Client details saved.")
            return redirect("portal:wizard_step", case.pk, next_step(case, "party"))
    return render(request, "portal/wizard_party.html",
                  wizard_context(case, "party", form=form, kind=party.kind, creating=False),
                  status=422 if form.errors else 200)


def step_ownership(request: HttpRequest, case: OnboardingCase) -> HttpResponse:
    summary = selectors.beneficial_owner_summary(case)
    structure = ownership_structure(case, summary)
    owned_choices = [(p.pk, p.display_name) for p in structure.entities]
    existing_choices = [
        (p.pk, f"{p.display_name} ({p.get_kind_display().lower()})")
        for p in selectors.parties_for(request.user).filter(firm_id=case.firm_id).exclude(pk=case.party_id)
        .order_by("legal_name", "family_name", "given_names")
    ]
    form = OwnerForm(request.POST or None, owned_choices=owned_choices, existing_choices=existing_choices,
                     initial={"owned": case.party_id})
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                owned = structure.parties[form.cleaned_data["owned"]]
                if form.cleaned_data.get("existing"):
                    owner = selectors.get_party_for(request.user, form.cleaned_data["existing"])
                else:
                    owner = services.party_create(firm=case.firm, actor=request.user, **form.new_party_data())
                    address = form.address_data()
                    if address:
                        services.party_add_address(party=owner, actor=request.user, **address)
                services.ownership_link_add(owner=owner, owned=owned, actor=request.user,
                                            percentage=form.cleaned_data.get("percentage") or 0,
                                            role=form.cleaned_data["role"])
        except MeridianError as exc:
            add_service_error(form, exc, OwnerForm.ALIASES)
        else:
            messages.success(request, f"{owner.display_name} added as {form.cleaned_data['role'].replace('_', ' ')} "
                                      f"of {owned.display_name}.")
            return redirect("portal:wizard_step", case.pk, "ownership")
    return render(request, "portal/wizard_ownership.html", wizard_context(
        case, "ownership", form=form, structure=structure, summary=summary,
    ), status=422 if form.errors else 200)


@portal_view
@require_POST
def ownership_remove(request: HttpRequest, case_id: int, link_id: int) -> HttpResponse:
    case = case_for_wizard(request, case_id)
    if case.state not in EDITABLE_STATES:
        return redirect("portal:case_detail", case.pk)
    structure = ownership_structure(case)
    link = next((link for link in structure.links if link.pk == link_id), None)
    if link is None:
        raise Http404("not part of this client's structure")
    services.ownership_link_remove(link=link, actor=request.user)
    messages.success(request, f"{link.owner.display_name} removed.")
    return redirect("portal:wizard_step", case.pk, "ownership")


def structure_party_choices(case: OnboardingCase) -> list[tuple[int, str]]:
    structure = ownership_structure(case)
    return [(pk, party.display_name + (" (client)" if pk == case.party_id else "")) for pk, party in structure.parties.items()]


def step_documents(request: HttpRequest, case: OnboardingCase) -> HttpResponse:
    choices = structure_party_choices(case)
    form = DocumentForm(request.POST or None, request.FILES or None, party_choices=choices,
                        initial={"party": case.party_id})
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            party = selectors.get_party_for(request.user, form.cleaned_data["party"])
            services.document_add(
                party=party, actor=request.user, doc_type=form.cleaned_data["doc_type"],
                content=upload.read(MAX_UPLOAD_BYTES + 1), original_name=upload.name,
                expires_on=form.cleaned_data.get("expires_on"),
            )
        except MeridianError as exc:
            add_service_error(form, exc, DocumentForm.ALIASES)
        else:
            messages.success(request, f"{upload.name} uploaded for {party.display_name}.")
            return redirect("portal:wizard_step", case.pk, "documents")
    ids = [pk for pk, _ in choices]
    documents = selectors.scope_to_user(Document.objects.filter(party_id__in=ids), request.user).select_related("party").order_by("party_id", "-uploaded_at")
    return render(request, "portal/wizard_documents.html", wizard_context(
        case, "documents", form=form, documents=documents, max_mb=MAX_UPLOAD_BYTES // (1024 * 1024),
    ), status=422 if form.errors else 200)




def step_review(request: HttpRequest, case: OnboardingCase) -> HttpResponse:
    if request.method == "POST":
        try:
            services.case_submit(case=case, actor=request.user)
        except MeridianError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Case submitted to compliance.")
            return redirect("portal:case_detail", case.pk)
    context = wizard_context(case, "review")
    order = [name for name, _ in STEPS]
    grouped: dict[str, list[OutstandingRow]] = defaultdict(list)
    for row in context["outstanding"]:
        grouped[row.step].append(row)
    context["grouped"] = [
        {"label": STEP_LABELS[name], "items": items,
         "url": reverse("portal:wizard_step", args=[case.pk, name]) if name != "review" else ""}
        for name, items in sorted(grouped.items(), key=lambda kv: order.index(kv[0]))
    ]
    context["summary"] = selectors.beneficial_owner_summary(case) if case.party.kind == PartyKind.ENTITY else []
    return render(request, "portal/wizard_review.html", context)
