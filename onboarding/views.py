"""The advisor portal: server-rendered pages over `onboarding.services` (writes) and
`onboarding.selectors` (reads). Views hold no business rules: they turn form input into a
service call and put a service's error back next to the field it names. Every page is scoped
to the signed-in user's firm; another firm's case is a 404.
"""
from __future__ import annotations

import datetime as dt
import importlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

import pycountry
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_POST

from . import selectors, services
from .exceptions import MeridianError, NotFound
from .exceptions import PermissionDenied as MeridianPermissionDenied
from .forms import (
    DocumentForm,
    OwnerForm,
    PartyForm,
    TaxFormCaptureForm,
    TaxResidenceForm,
    WithdrawForm,
    add_service_error,
)
from .models import (
    OPEN_CASE_STATES,
    AuditEvent,
    CaseState,
    Document,
    DocumentType,
    OnboardingCase,
    OwnershipLink,
    Party,
    PartyKind,
)
from .requirements import Outstanding
from .services import MAX_UPLOAD_BYTES
from .validation import validate_country, validate_identifier

EDITABLE_STATES = {CaseState.DRAFT, CaseState.INFORMATION_REQUESTED}
WITHDRAWABLE_STATES = {CaseState.DRAFT, CaseState.SUBMITTED, CaseState.INFORMATION_REQUESTED}
STEPS = [
    ("party", "Client details"),
    ("ownership", "Ownership and control"),
    ("documents", "Documents"),
    ("tax", "Tax"),
    ("review", "Review and submit"),
]
STEP_LABELS = dict(STEPS)
IDENTIFIER_CHECKS = {"lei", "tax_id", "passport", "national_id", "registration"}


def portal_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-in users only; the services' NotFound and PermissionDenied become 404 and 403."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from exc
        except MeridianPermissionDenied as exc:
            raise DjangoPermissionDenied(exc.message) from exc

    return wrapper


def optional_module(name: str) -> Any | None:
    """Another app's module when that app is on this branch, else None (the page degrades)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


# --- Reading the ownership structure ----------------------------------------------------------


@dataclass
class Node:
    party: Party
    link: OwnershipLink | None = None
    summary: dict | None = None
    children: list[Node] = field(default_factory=list)
    repeated: bool = False


@dataclass
class Structure:
    root: Node
    parties: dict[int, Party]
    links: list[OwnershipLink]

    @property
    def entities(self) -> list[Party]:
        return [p for p in self.parties.values() if p.kind == PartyKind.ENTITY]


def ownership_structure(case: OnboardingCase, summary: list[dict] | None = None) -> Structure:
    """The client and everyone who owns or controls it, directly or through nested entities, as a
    tree (a party reached twice is shown again but not expanded; cycles stop)."""
    by_owned: dict[int, list[OwnershipLink]] = defaultdict(list)
    links = list(
        OwnershipLink.objects.filter(firm_id=case.firm_id).select_related("owner").order_by("-percentage", "pk")
    )
    for link in links:
        by_owned[link.owned_id].append(link)
    info = {row["party_id"]: row for row in (summary or [])}
    parties: dict[int, Party] = {case.party_id: case.party}
    used: list[OwnershipLink] = []

    def grow(node: Node, path: set[int]) -> None:
        for link in by_owned.get(node.party.pk, []):
            used.append(link)
            child = Node(party=link.owner, link=link, summary=info.get(link.owner_id))
            node.children.append(child)
            if link.owner_id in path or link.owner_id in parties:
                child.repeated = True
                continue
            parties[link.owner_id] = link.owner
            grow(child, path | {link.owner_id})

    root = Node(party=case.party)
    grow(root, {case.party_id})
    return Structure(root=root, parties=parties, links=used)


# --- Presenting outstanding items ---------------------------------------------------------------

DOCUMENT_LABELS = dict(DocumentType.choices)


@dataclass(frozen=True)
class OutstandingRow:
    """An outstanding item as a page shows it: the reason, the rule it comes from, the documents
    that would satisfy it (by name), and the wizard step where the advisor can act on it."""

    code: str
    reason: str
    category: str
    source: str
    accepted: list[str]
    step: str
    step_url: str


def present(case: OnboardingCase, items: list[Outstanding]) -> list[OutstandingRow]:
    editable = case.state in EDITABLE_STATES
    rows = []
    for item in items:
        step = step_of(item, case)
        rows.append(OutstandingRow(
            code=item.code, reason=item.reason, category=item.category, source=item.source,
            accepted=[DOCUMENT_LABELS.get(code, code) for code in item.detail.get("accepted", [])],
            step=step, step_url=reverse("portal:wizard_step", args=[case.pk, step]) if editable and step != "review" else "",
        ))
    return rows


# --- Wizard steps -------------------------------------------------------------------------------


def step_of(item: Outstanding, case: OnboardingCase) -> str:
    """Which wizard step lets the advisor act on an outstanding item."""
    code = item.code
    if code.startswith(("document.", "edd.document.")):
        return "documents"
    if code in ("field.tax_residence", "field.tax_id") or item.category == "tax":
        return "tax"
    if code.startswith("ownership.") or item.category == "review":
        return "ownership"
    if code.startswith("field."):
        return "party" if item.subject == f"party:{case.party_id}" else "ownership"
    if code.startswith("edd.field."):
        return "party"
    return "review"


def steps_for(case: OnboardingCase) -> list[tuple[str, str]]:
    return [step for step in STEPS if not (step[0] == "ownership" and case.party.kind == PartyKind.PERSON)]


def outstanding_by_step(case: OnboardingCase, outstanding: list[Outstanding]) -> dict[str, list[Outstanding]]:
    grouped: dict[str, list[Outstanding]] = defaultdict(list)
    for item in outstanding:
        grouped[step_of(item, case)].append(item)
    return grouped


def first_incomplete_step(case: OnboardingCase, outstanding: list[Outstanding]) -> str:
    """Where a resumed case reopens: the first step with something outstanding, or one never
    filled in (an entity with no owners, a client with no tax residence); else the review."""
    grouped = outstanding_by_step(case, outstanding)
    for name, _label in steps_for(case):
        if name == "review":
            break
        if grouped.get(name):
            return name
        if name == "ownership" and not case.party.owners.exists():
            return name
        if name == "tax" and not case.party.tax_residences.exists():
            return name
    return "review"


def step_nav(case: OnboardingCase, current: str, outstanding: list[Outstanding]) -> list[dict]:
    grouped = outstanding_by_step(case, outstanding)
    return [
        {"name": name, "label": label, "number": index, "current": name == current,
         "outstanding": len(grouped.get(name, [])) if name != "review" else 0,
         "url": reverse("portal:wizard_step", args=[case.pk, name])}
        for index, (name, label) in enumerate(steps_for(case), start=1)
    ]


def next_step(case: OnboardingCase, current: str) -> str:
    names = [name for name, _ in steps_for(case)]
    return names[min(names.index(current) + 1, len(names) - 1)]


# --- Optional apps --------------------------------------------------------------------------------


def tax_forms_for_case(case: OnboardingCase) -> dict[str, Any]:
    """The tax forms the case needs. With `compliance.tax` on this branch: its determination
    with the reason each form is missing; otherwise the forms the (pinned or current) policy
    lists, with the conditions under which each applies."""
    tax = optional_module("compliance.tax.selectors")
    if tax is not None and hasattr(tax, "missing_forms"):
        try:
            centre = tax.booking_centre_for(case.relationship)
            required = tax.required_forms(case.party, booking_centre=centre, case=case)
            missing = {(req.form, req.subject_ref): why
                       for req, why, _latest in tax.missing_forms(case.party, booking_centre=centre, case=case)}
            on_file = list(tax.forms_for_party(case.party)[:20]) if hasattr(tax, "forms_for_party") else []
        except MeridianError as exc:
            return {"source": "compliance.tax", "error": exc.message, "required": [], "on_file": []}
        return {
            "source": "compliance.tax",
            "required": [
                {"form": tax.form_label(req.form), "code": req.form, "who": req.subject_name, "why": req.reason,
                 "source": req.source, "missing": missing.get((req.form, req.subject_ref), ""),
                 "own": req.subject_ref == tax.party_ref(case.party)}
                for req in required
            ],
            "on_file": [{"form": tax.form_label(f.form_type), "status": f.get_status_display(),
                         "valid_until": f.valid_until, "reason": f.status_reason, "signed_on": f.signed_on}
                        for f in on_file],
        }
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


def tax_forms_expiring(user) -> list[Any]:
    tax = optional_module("compliance.tax.selectors")
    if tax is None or not hasattr(tax, "forms_for_firm") or user.firm_id is None:
        return []
    validity = optional_module("compliance.tax.validity")
    days = validity.expiry_warning_days() if validity is not None and hasattr(validity, "expiry_warning_days") else 90
    today = timezone.localdate()
    return list(
        tax.forms_for_firm(user.firm).filter(status="valid", valid_until__isnull=False,
                                             valid_until__lte=today + dt.timedelta(days=days))
        .order_by("valid_until")[:20]
    )


def accounts_by_status(user) -> dict[str, int] | None:
    accounts = optional_module("accounts.selectors")
    if accounts is None or not hasattr(accounts, "accounts_for_firm") or user.firm_id is None:
        return None
    counts: dict[str, int] = defaultdict(int)
    for status in accounts.accounts_for_firm(firm=user.firm).values_list("status", flat=True):
        counts[status] += 1
    return dict(sorted(counts.items()))


# --- Pages ----------------------------------------------------------------------------------------


DASHBOARD_EXPLAINED_CASES = 10


@portal_view
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    counts = selectors.dashboard_counts(user)
    # Each explained case runs the requirement evaluation (a fixed dozen queries): explain the most
    # recently updated ones here; the rest are one click away.
    open_cases = list(selectors.cases_for(user).filter(state__in=OPEN_CASE_STATES).defer("policy")
                      .order_by("-updated_at")[:DASHBOARD_EXPLAINED_CASES])  # the pinned policy loads only on a cache miss
    generation = selectors.audit_generation(user.firm_id)
    case_rows = [{"case": case, "outstanding": present(case, selectors.case_outstanding_cached(case, generation=generation))}
                 for case in open_cases]
    today = timezone.localdate()
    relationships = selectors.relationships_for(user)
    reviews_due = list(
        relationships.filter(next_review_due__isnull=False, next_review_due__lte=today + dt.timedelta(days=30))
        .exclude(state="closed").order_by("next_review_due")[:30]
    )
    clients = list(relationships.order_by("-created_at")[:50])
    state_labels = dict(CaseState.choices)
    return render(request, "portal/dashboard.html", {
        "counts": counts,
        "cases_by_state": [(state_labels.get(state, state), state, n) for state, n in sorted(counts["cases_by_state"].items())],
        "case_rows": case_rows,
        "reviews_due": reviews_due,
        "today": today,
        "clients": clients,
        "tax_expiring": tax_forms_expiring(user),
        "tax_installed": optional_module("compliance.tax.selectors") is not None,
        "accounts_by_status": accounts_by_status(user),
        "accounts_url": reverse("portal:account_list"),
    })


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


def wizard_context(case: OnboardingCase, step: str, **extra: Any) -> dict[str, Any]:
    outstanding = selectors.case_outstanding_cached(case)
    grouped = outstanding_by_step(case, outstanding)
    return {
        "case": case, "step": step, "step_label": STEP_LABELS[step], "steps": step_nav(case, step, outstanding),
        "outstanding": present(case, outstanding), "step_outstanding": present(case, grouped.get(step, [])),
        "next_step": next_step(case, step), **extra,
    }


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


def tax_capture_form(request: HttpRequest, case: OnboardingCase, tax_forms: dict[str, Any]) -> TaxFormCaptureForm | None:
    """The tax form capture, when compliance.tax is installed: the forms this client must give
    first, fields started from the party's data."""
    services_module = optional_module("compliance.tax.services")
    rulefiles = optional_module("compliance.tax.rulefiles")
    catalogue = optional_module("compliance.tax.forms_catalogue")
    if services_module is None or rulefiles is None or catalogue is None:
        return None
    party = case.party
    own = [(f["code"], f["form"]) for f in tax_forms.get("required", []) if f.get("own") and f.get("code")]
    kind_forms = ["W9", "W8BEN", "CRS_IND"] if party.kind == PartyKind.PERSON else ["W9", "W8BENE", "CRS_ENT"]
    choices = list(dict.fromkeys(own + [(code, catalogue.FORM_TYPES[code]) for code in kind_forms]))
    missing_first = next((f["code"] for f in tax_forms.get("required", []) if f.get("own") and f.get("missing")), None)
    address = party.addresses.filter(kind__in=["residential", "registered"]).first()
    initial = {
        "form_type": missing_first or (choices[0][0] if choices else ""), "name": party.display_name,
        "date_of_birth": party.date_of_birth, "citizenship": (party.nationalities or [""])[0],
        "country_of_incorporation": party.country_of_incorporation, "signed_on": timezone.localdate(),
        "signer_name": party.display_name if party.kind == PartyKind.PERSON else "",
        "tax_classification": "individual" if party.kind == PartyKind.PERSON else "",
    }
    if address:
        initial.update({"address_line1": address.line1, "address_city": address.city,
                        "address_postal_code": address.postal_code, "address_country": address.country})
    data = request.POST if request.method == "POST" and request.POST.get("action") == "tax_form" else None
    return TaxFormCaptureForm(data, form_types=choices, statuses=rulefiles.form_rules().get("statuses", {}),
                              initial=initial, prefix="tf")


def step_tax(request: HttpRequest, case: OnboardingCase) -> HttpResponse:
    posted = request.POST.get("action") if request.method == "POST" else None
    form = TaxResidenceForm(request.POST if posted == "residence" else None,
                            party_choices=[(case.party_id, case.party.display_name)],
                            initial={"party": case.party_id, "country": case.party.jurisdiction})
    tax_forms = tax_forms_for_case(case)
    capture = tax_capture_form(request, case, tax_forms)
    if posted == "residence" and form.is_valid():
        try:
            services.party_set_tax_residence(
                party=case.party, actor=request.user, country=form.cleaned_data["country"],
                tin=form.cleaned_data["tin"].strip(), no_tin_reason=form.cleaned_data["no_tin_reason"],
                no_tin_explanation=form.cleaned_data["no_tin_explanation"],
            )
        except MeridianError as exc:
            add_service_error(form, exc, TaxResidenceForm.ALIASES)
        else:
            messages.success(request, "Tax residence saved.")
            return redirect("portal:wizard_step", case.pk, "tax")
    if posted == "tax_form" and capture is not None and capture.is_valid():
        response = record_tax_form(request, case, capture)
        if response is not None:
            return response
    has_errors = bool(form.errors or (capture is not None and capture.errors))
    return render(request, "portal/wizard_tax.html", wizard_context(
        case, "tax", form=form, residences=case.party.tax_residences.order_by("country"),
        tax_forms=tax_forms_for_case(case), capture=capture,
    ), status=422 if has_errors else 200)


def record_tax_form(request: HttpRequest, case: OnboardingCase, capture: TaxFormCaptureForm) -> HttpResponse | None:
    """Hand the signed form to the tax service, which records and validates it. A form found
    invalid is kept as received; its problems go back next to the fields they are about."""
    tax_services = optional_module("compliance.tax.services")
    residences = [
        {"country": r.country, "tin": r.tin, "no_tin_reason": r.no_tin_reason, "explanation": r.no_tin_explanation}
        for r in case.party.tax_residences.order_by("country")
    ]
    try:
        recorded = tax_services.tax_form_capture(
            party=case.party, form_type=capture.cleaned_data["form_type"], data=capture.form_data(residences),
            signed_on=capture.cleaned_data["signed_on"], actor=request.user,
        )
    except MeridianError as exc:
        add_service_error(capture, exc, TaxFormCaptureForm.ALIASES)
        return None
    label = dict(capture.fields["form_type"].choices).get(recorded.form_type, recorded.form_type)
    if recorded.status == "valid":
        until = f", valid until {recorded.valid_until}" if recorded.valid_until else ""
        messages.success(request, f"{label} recorded and valid{until}.")
        return redirect("portal:wizard_step", case.pk, "tax")
    for issue in recorded.validation_errors or []:
        capture.add_error(capture.field_for(issue.get("field", "")), issue.get("message", ""))
    if not recorded.validation_errors:
        capture.add_error(None, recorded.status_reason or f"the form is {recorded.status}")
    messages.error(request, f"{label} was recorded but is not valid; correct it and record it again.")
    return None


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


@portal_view
def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    case = selectors.get_case_for(request.user, case_id)
    outstanding = selectors.case_outstanding_cached(case)
    summary = selectors.beneficial_owner_summary(case) if case.party.kind == PartyKind.ENTITY else []
    structure = ownership_structure(case, summary)
    documents = Document.objects.filter(firm_id=case.firm_id, party_id__in=list(structure.parties)) \
        .select_related("party").order_by("party_id", "-uploaded_at")
    events = case_audit_trail(case, structure)
    return render(request, "portal/case_detail.html", {
        "case": case, "outstanding": present(case, outstanding), "summary": summary, "structure": structure,
        "documents": documents, "events": events, "withdraw_form": WithdrawForm(),
        "can_withdraw": case.state in WITHDRAWABLE_STATES, "can_edit": case.state in EDITABLE_STATES,
        "policy_packs": case.rule_pack_versions, "information_request": information_request(case, events),
    })


def information_request(case: OnboardingCase, events: list[AuditEvent]) -> AuditEvent | None:
    """What compliance asked for, while the case waits on the advisor."""
    if case.state != CaseState.INFORMATION_REQUESTED:
        return None
    return next((e for e in events if e.event_type == "case.information_requested"), None)


def case_audit_trail(case: OnboardingCase, structure: Structure, limit: int = 200) -> list[AuditEvent]:
    """The case's own events and those of the parties in its structure (data, ownership,
    documents), newest first."""
    query = Q(subject_type=OnboardingCase._meta.label_lower, subject_id=str(case.pk)) | Q(
        subject_type=Party._meta.label_lower, subject_id__in=[str(pk) for pk in structure.parties]
    )
    events = list(AuditEvent.objects.filter(query).select_related("actor").order_by("-created_at", "-id")[:limit])
    for event in events:
        party = structure.parties.get(int(event.subject_id)) if event.subject_type == Party._meta.label_lower else None
        event.about = party.display_name if party else f"case {case.pk}"
    return events


@portal_view
@require_POST
def case_withdraw(request: HttpRequest, case_id: int) -> HttpResponse:
    case = selectors.get_case_for(request.user, case_id)
    form = WithdrawForm(request.POST)
    form.is_valid()
    try:
        services.case_withdraw(case=case, actor=request.user, reason=form.cleaned_data.get("reason", ""))
    except MeridianError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Case withdrawn.")
    return redirect("portal:case_detail", case.pk)


@portal_view
@require_GET
def validate_field(request: HttpRequest) -> HttpResponse:
    """A message fragment for live validation: `check` is country or an identifier kind, `field`
    names the input holding the value, `country_field` the input holding the issuing country
    (`check_field` names an input holding the kind, for a select of identifier kinds)."""
    check = request.GET.get("check") or request.GET.get(request.GET.get("check_field", ""), "")
    value = request.GET.get(request.GET.get("field", "value"), "")
    country = request.GET.get(request.GET.get("country_field", "country"), "")
    if not value.strip():
        return HttpResponse("")
    try:
        if check == "country":
            code = validate_country(value)
            name = pycountry.countries.get(alpha_2=code).name
            return HttpResponse(format_html('<span class="ok">✓ {} ({})</span>', name, code))
        if check == "countries":
            codes = [validate_country(part.strip(), field="nationalities") for part in value.split(",") if part.strip()]
            return HttpResponse(format_html('<span class="ok">✓ {}</span>', ", ".join(codes)))
        if check in IDENTIFIER_CHECKS:
            result = validate_identifier(check, country, value)
            how = "checksum verified" if result.validator.startswith("stdnum") else "format checked"
            return HttpResponse(format_html('<span class="ok">✓ {} ({})</span>', result.value, how))
    except MeridianError as exc:
        head, sep, rest = exc.message.partition(": ")
        message = rest if sep and " " not in head.strip() else exc.message
        return HttpResponse(format_html('<span class="error">{}</span>', message))
    return HttpResponse(format_html('<span class="error">{}</span>', f"cannot check '{check}'"), status=400)
