"""The advisor's dashboard: open cases with what each still needs, reviews due, recent clients,
and the panels other apps fill (tax forms expiring, accounts by status)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from .. import selectors
from ..models import (
    OPEN_CASE_STATES,
    CaseState,
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
        "tax_installed": "tax_expiring" in dashboard_panels,
        "accounts_by_status": accounts_by_status(user),
        "accounts_url": reverse("portal:account_list"),
    })
