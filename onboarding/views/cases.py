"""The case page (what it needs, its structure, documents and audit trail) and withdrawal."""
from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from .. import panels, selectors, services
from ..exceptions import MeridianError
from ..forms import (
    WithdrawForm,
)
from ..labels import CONFIDENTIAL_SUBJECTS, describe, subject_names
from ..models import (
    AuditEvent,
    CaseState,
    Document,
    OnboardingCase,
    Party,
    PartyKind,
)
from .common import EDITABLE_STATES, WITHDRAWABLE_STATES, Structure, ownership_structure, portal_view, present
from .tax_step import tax_forms_for_case


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
        **panels.next_steps_context(case, request.user),
        "tax_forms": tax_forms_for_case(case) if case.party.kind == PartyKind.ENTITY else {},
    })


def information_request(case: OnboardingCase, events: list[AuditEvent]) -> AuditEvent | None:
    """What compliance asked for, while the case waits on the advisor."""
    if case.state != CaseState.INFORMATION_REQUESTED:
        return None
    return next((e for e in events if e.event_type == "case.information_requested"), None)


def case_audit_trail(case: OnboardingCase, structure: Structure, *, limit: int = 200,
                     officer: bool = False) -> list[AuditEvent]:
    """The case's events and those of the records around it (its parties' data, ownership and
    documents, their tax forms and screening alerts), newest first, each in words (`words`) and
    about whom (`about`). A confidential subject's reason (a screening note) is not shown here."""
    from django.apps import apps

    events = list(selectors.case_audit_events(case).order_by("-created_at", "-id")[:limit])
    named = subject_names(events)
    party_label = Party._meta.label_lower
    for event in events:
        event.words = describe(event)
        party = structure.parties.get(int(event.subject_id)) \
            if event.subject_type == party_label and event.subject_id.isdigit() else None
        if party is not None:
            event.about = party.display_name
        elif event.subject_type == OnboardingCase._meta.label_lower:
            event.about = f"case {case.pk}"
        elif (event.subject_type, event.subject_id) in named:
            event.about = named[(event.subject_type, event.subject_id)]
        else:
            try:
                event.about = str(apps.get_model(event.subject_type)._meta.verbose_name)
            except (LookupError, ValueError):
                event.about = ""
        if not officer and event.subject_type in CONFIDENTIAL_SUBJECTS:
            event.reason = ""
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
