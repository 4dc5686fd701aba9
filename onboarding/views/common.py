"""What the portal's pages share: the signed-in wrapper, the ownership structure as a tree,
outstanding items presented by wizard step, and the wizard's step navigation."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse

from .. import selectors
from ..exceptions import NotFound
from ..exceptions import PermissionDenied as MeridianPermissionDenied
from ..models import (
    CaseState,
    DocumentType,
    OnboardingCase,
    OwnershipLink,
    Party,
    PartyKind,
)
from ..requirements import Outstanding

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



def wizard_context(case: OnboardingCase, step: str, **extra: Any) -> dict[str, Any]:
    outstanding = selectors.case_outstanding_cached(case)
    grouped = outstanding_by_step(case, outstanding)
    return {
        "case": case, "step": step, "step_label": STEP_LABELS[step], "steps": step_nav(case, step, outstanding),
        "outstanding": present(case, outstanding), "step_outstanding": present(case, grouped.get(step, [])),
        "next_step": next_step(case, step), **extra,
    }
