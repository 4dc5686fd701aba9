"""The advisor's dashboard: open cases with what each still needs, reviews due, recent clients,
and the panels other apps fill (tax forms expiring, accounts by status)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.safestring import mark_safe

from .. import selectors
from ..models import (
    OPEN_CASE_STATES,
    CaseState,
    OnboardingCase,
    Relationship,
)
from ..panels import dashboard as dashboard_panels
from .common import portal_view, present


def tax_forms_expiring(user) -> list[Any]:
    provider = dashboard_panels.provider("tax_expiring")
    return provider(user) if provider is not None else []


def accounts_by_status(user) -> dict[str, int] | None:
    provider = dashboard_panels.provider("accounts_by_status")
    return provider(user) if provider is not None else None


# --- Pages ----------------------------------------------------------------------------------------


DASHBOARD_EXPLAINED_CASES = 10
PARTY_UNSHOWN = ("party__date_of_birth", "party__source_of_wealth", "party__source_of_funds")
RELATIONSHIP_SHOWN = ("id", "firm_id", "party_id", "state", "risk_level", "next_review_due", "created_at",
                      "party__id", "party__kind", "party__client_type", "party__given_names", "party__family_name",
                      "party__legal_name")


def case_row(case: OnboardingCase, generation: int) -> str:
    """One open case's row (its outstanding items in words), rendered once per change: cached per process
    under the same key material as the requirement evaluation (the firm's audit generation, which every
    change of a case, a party or a document moves, and today's date) plus the case's own state and
    update time and the language, so a row never outlives what it shows."""
    key = (f"meridian:dashrow:{case.pk}:{generation}:{timezone.localdate().isoformat()}:{case.state}:"
           f"{case.risk_level}:{case.updated_at.isoformat()}:{translation.get_language()}")
    html = cache.get(key)
    if html is None:
        outstanding = present(case, selectors.case_outstanding_cached(case, generation=generation))
        html = render_to_string("portal/_dashboard_case_row.html", {"row": {"case": case, "outstanding": outstanding}})
        cache.set(key, str(html), 300)
    return mark_safe(html)  # noqa: S308 - our own template's output, escaped when it was rendered


@portal_view
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    counts = selectors.dashboard_counts(user)
    # Each explained case runs the requirement evaluation (a fixed dozen queries): explain the most
    # recently updated ones here; the rest are one click away.
    open_cases = list(selectors.scope_to_user(OnboardingCase.objects.select_related("party"), user)
                      .filter(state__in=OPEN_CASE_STATES).defer("policy", *PARTY_UNSHOWN)
                      .order_by("-updated_at")[:DASHBOARD_EXPLAINED_CASES])  # the pinned policy loads only on a cache miss
    generation = selectors.audit_generation(user.firm_id)
    case_rows = [case_row(case, generation) for case in open_cases]
    today = timezone.localdate()
    # The lists show a name, a type, a state and a date: only those columns are read (issue 18's profile:
    # building 80 full relationship, firm and party rows, with the encrypted date of birth, cost more than
    # the queries).
    relationships = selectors.scope_to_user(Relationship.objects.select_related("party"), user).only(*RELATIONSHIP_SHOWN)
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
        "tax_installed": "tax_expiring" in dashboard_panels,
        "accounts_by_status": accounts_by_status(user),
        "accounts_url": reverse("portal:account_list"),
    })
