"""The compliance officer's review desk: the queues an officer runs a day from, a "my work" view,
and one page per case with everything a review needs. Pages that show other apps' records
(screening hits, risk factors, tax forms) show them through panels those apps register
(`onboarding.panels`), so onboarding imports none of them.

Decisions are buttons labelled in words, each with a mandatory rationale, one case at a time;
they call the same services as the API, which enforce the rules (four eyes, nothing outstanding).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from . import selectors, services
from .exceptions import MeridianError, NotFound
from .labels import case_action_label, policy_summary
from .models import ClientType, Document, OnboardingCase, PartyKind, RiskLevel, User

# The states a case is in while compliance works it (or waits on the advisor).
DESK_STATES = ["submitted", "in_review", "awaiting_second_approval", "information_requested"]
# Review service level, in calendar days from submission, by risk level (Meridian practice: high
# risk first). A case waiting on the advisor is not on the officer's clock.
REVIEW_SLA_DAYS = {"high": 2, "medium": 5, "low": 5}
DEFAULT_SLA_DAYS = 5
PAGE_SIZE = 50


def officer_view(view):
    """Platform compliance officers only; anyone else gets the site's 403 page."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not (user.is_platform_officer or user.is_superuser):
            raise PermissionDenied("The review desk is for compliance officers.")
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from exc

    return wrapper


def officers() -> list[User]:
    return list(User.objects.filter(role="compliance_officer", is_active=True).order_by("first_name", "username"))


@dataclass
class QueueRow:
    case: OnboardingCase
    age_days: int
    sla_due: dt.date | None
    overdue: bool
    outstanding: int
    with_advisor: bool


def sla_due(case: OnboardingCase) -> dt.date | None:
    start = case.submitted_at or case.created_at
    if start is None:
        return None
    days = REVIEW_SLA_DAYS.get(case.risk_level, DEFAULT_SLA_DAYS)
    return timezone.localtime(start).date() + dt.timedelta(days=days)


def queue_rows(cases: list[OnboardingCase]) -> list[QueueRow]:
    today = timezone.localdate()
    now = timezone.now()
    generations: dict[int, int] = {}
    rows = []
    for case in cases:
        if case.firm_id not in generations:
            generations[case.firm_id] = selectors.audit_generation(case.firm_id)
        outstanding = len(selectors.case_outstanding_cached(case, generation=generations[case.firm_id]))
        due = sla_due(case)
        with_advisor = case.state == "information_requested"
        rows.append(QueueRow(
            case=case, age_days=(now - (case.submitted_at or case.created_at)).days, sla_due=due,
            overdue=bool(due and due < today and not with_advisor), outstanding=outstanding, with_advisor=with_advisor,
        ))
    return rows


def _filtered(request: HttpRequest, queryset):
    chosen = {key: request.GET.get(key, "") for key in ("jurisdiction", "client_type", "state", "risk", "assignee")}
    if chosen["jurisdiction"]:
        queryset = queryset.filter(jurisdiction=chosen["jurisdiction"].upper())
    if chosen["client_type"]:
        queryset = queryset.filter(party__client_type=chosen["client_type"])
    if chosen["state"] in DESK_STATES:
        queryset = queryset.filter(state=chosen["state"])
    if chosen["risk"]:
        queryset = queryset.filter(risk_level=chosen["risk"])
    if chosen["assignee"] == "nobody":
        queryset = queryset.filter(assigned_to__isnull=True)
    elif chosen["assignee"].isdigit():
        queryset = queryset.filter(assigned_to_id=int(chosen["assignee"]))
    return queryset, chosen


def _queue_page(request: HttpRequest, *, mine: bool) -> HttpResponse:
    import pycountry

    base = selectors.cases_for(request.user).filter(state__in=DESK_STATES).select_related("assigned_to")
    if mine:
        base = base.filter(assigned_to=request.user)
    queryset, chosen = _filtered(request, base)
    queryset = queryset.order_by("submitted_at", "pk").defer("policy")
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = queue_rows(list(page.object_list))
    rows.sort(key=lambda r: (r.with_advisor, not r.overdue, r.sla_due or dt.date.max))
    jurisdictions = sorted(set(base.values_list("jurisdiction", flat=True)))
    state_labels = dict(OnboardingCase._meta.get_field("state").choices)
    return render(request, "desk/queue.html", {
        "mine": mine, "rows": rows, "page": page, "chosen": chosen,
        "total": queryset.count(), "mine_count": selectors.cases_for(request.user).filter(
            state__in=DESK_STATES, assigned_to=request.user).count(),
        "jurisdictions": [(code, getattr(pycountry.countries.get(alpha_2=code), "name", code)) for code in jurisdictions],
        "client_types": ClientType.choices, "states": [(s, state_labels[s]) for s in DESK_STATES],
        "risks": RiskLevel.choices, "officers": officers(),
    })


@officer_view
def queue(request: HttpRequest) -> HttpResponse:
    return _queue_page(request, mine=False)


@officer_view
def my_work(request: HttpRequest) -> HttpResponse:
    return _queue_page(request, mine=True)


def case_documents(case: OnboardingCase, party_ids: list[int]) -> list[dict]:
    documents = Document.objects.filter(firm_id=case.firm_id, party_id__in=party_ids).select_related("party") \
        .order_by("party_id", "-uploaded_at")
    return [{"document": doc, "url": document_url(doc)} for doc in documents]


def document_url(document: Document) -> str:
    """The audited, permission-checked download of a document, opened inline; '' while that view
    is not installed."""
    from django.urls import NoReverseMatch

    try:
        return reverse("onboarding:document-download", args=[document.pk])
    except NoReverseMatch:
        return ""


@officer_view
def case_page(request: HttpRequest, case_id: int) -> HttpResponse:
    from . import panels
    from .views.cases import case_audit_trail
    from .views.common import ownership_structure

    case = selectors.get_case_for(request.user, case_id)
    outstanding = selectors.case_outstanding(case)
    summary = selectors.beneficial_owner_summary(case) if case.party.kind == PartyKind.ENTITY else []
    structure = ownership_structure(case, summary)
    party_ids = list(structure.parties)
    events = case_audit_trail(case, structure, limit=300, officer=True)
    actions = [{"code": code, "label": case_action_label(code, case)}
               for code in selectors.allowed_case_actions(case, request.user)
               if code not in ("submit", "withdraw")]
    return render(request, "desk/case.html", {
        "case": case, "outstanding": outstanding, "summary": summary, "structure": structure,
        "documents": case_documents(case, party_ids), "events": events, "actions": actions,
        "policy": policy_summary(case.policy),
        "sla_due": sla_due(case) if case.state in DESK_STATES else None,  # off the clock once decided "today": timezone.localdate(),
        "officers": officers(), "panels": panels.render_desk_panels(request, case, party_ids),
        "next_url": reverse("desk:case", args=[case.pk]), **panels.next_steps_context(case, request.user),
    })


@officer_view
@require_POST
def decide(request: HttpRequest, case_id: int, action: str) -> HttpResponse:
    case = selectors.get_case_for(request.user, case_id)
    label = case_action_label(action, case)
    reason = request.POST.get("reason", "").strip()
    calls = {
        "start_review": lambda: services.case_start_review(case=case, actor=request.user, reason=reason),
        "approve": lambda: services.case_approve(case=case, actor=request.user, reason=reason),
        "reject": lambda: services.case_reject(case=case, actor=request.user, reason=reason),
        "request_information": lambda: services.case_request_information(case=case, actor=request.user, reason=reason),
    }
    if action not in calls:
        raise Http404("no such decision")
    if not reason:
        messages.error(request, f"{label}: write the rationale for this decision first.")
        return redirect("desk:case", case.pk)
    try:
        calls[action]()
    except MeridianError as exc:
        detail = exc.detail if isinstance(exc.detail, list) else []
        messages.error(request, f"{label}: not done. {exc.message}"
                       + "".join(f" • {d.get('reason')}" for d in detail if isinstance(d, dict)))
    else:
        case.refresh_from_db()
        messages.success(request, f"{label}: done. The case is now {case.get_state_display().lower()}.")
    return redirect("desk:case", case.pk)


@officer_view
@require_POST
def assign(request: HttpRequest, case_id: int) -> HttpResponse:
    case = selectors.get_case_for(request.user, case_id)
    who = request.POST.get("assignee", "")
    assignee = None
    if who == "me":
        assignee = request.user
    elif who.isdigit():
        assignee = User.objects.filter(pk=int(who)).first()
        if assignee is None:
            raise Http404("no such officer")
    try:
        services.case_assign(case=case, actor=request.user, assignee=assignee, reason=request.POST.get("reason", ""))
    except MeridianError as exc:
        messages.error(request, exc.message)
    else:
        if assignee is None:
            messages.success(request, f"Case {case.pk} is back in the queue.")
        elif assignee.pk == request.user.pk:
            messages.success(request, f"You have case {case.pk} ({case.party.display_name}).")
        else:
            messages.success(request, f"Case {case.pk} assigned to {assignee.get_full_name() or assignee.username}.")
    target = request.POST.get("next", "")
    return redirect(target if target.startswith("/desk/") else reverse("desk:case", args=[case.pk]))
