"""Reads. Every selector that serves a firm user takes the user (or the firm) and filters by it:
a firm user sees only their firm; a platform compliance officer sees every firm."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from . import requirements as registry
from .exceptions import NotFound
from .models import (
    OPEN_CASE_STATES,
    Address,
    AddressKind,
    Document,
    IdentifierKind,
    OnboardingCase,
    OwnershipLink,
    Party,
    PartyIdentifier,
    PartyKind,
    Relationship,
    RulePack,
    TaxResidence,
    User,
)
from .ownership import Edge, effective_ownership
from .requirements import Outstanding
from .rules.evaluator import CaseFacts, PartyFacts, RelatedParty, evaluate
from .rules.packs import PackVersion, ResolvedPolicy, resolve


def scope_to_user(queryset: QuerySet, user: User, *, firm_field: str = "firm") -> QuerySet:
    """The one tenant rule: firm users see their firm's rows, platform officers see all, anyone
    else sees nothing."""
    if not getattr(user, "is_authenticated", False):
        return queryset.none()
    if user.is_platform_officer or user.is_superuser:
        return queryset
    if user.firm_id is None:
        return queryset.none()
    return queryset.filter(**{firm_field: user.firm_id})


def parties_for(user: User) -> QuerySet[Party]:
    return scope_to_user(Party.objects.all(), user)


def cases_for(user: User) -> QuerySet[OnboardingCase]:
    return scope_to_user(OnboardingCase.objects.select_related("party", "firm", "relationship"), user)


def relationships_for(user: User) -> QuerySet[Relationship]:
    return scope_to_user(Relationship.objects.select_related("party", "firm"), user)


def get_case_for(user: User, case_id: int) -> OnboardingCase:
    try:
        return cases_for(user).get(pk=case_id)
    except (OnboardingCase.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound(f"case {case_id} not found") from exc


def get_party_for(user: User, party_id: int) -> Party:
    try:
        return parties_for(user).get(pk=party_id)
    except (Party.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound(f"party {party_id} not found") from exc


# --- Rule packs -------------------------------------------------------------------------------


def active_pack_versions() -> list[PackVersion]:
    """The newest active version of each pack code."""
    latest: dict[str, RulePack] = {}
    for pack in RulePack.objects.filter(is_active=True).order_by("code", "-version"):
        latest.setdefault(pack.code, pack)
    return [PackVersion(code=p.code, version=p.version, content=p.content) for p in latest.values()]


def pinned_pack_versions(labels: list[str]) -> list[PackVersion]:
    wanted = [label.split("@") for label in labels]
    query = Q()
    for code, version in wanted:
        query |= Q(code=code, version=int(version))
    rows = RulePack.objects.filter(query) if wanted else RulePack.objects.none()
    return [PackVersion(code=p.code, version=p.version, content=p.content) for p in rows]


def resolve_policy_for(case: OnboardingCase, *, as_of: dt.date | None = None) -> ResolvedPolicy:
    """The policy that applies to the case now (packs in force today)."""
    return resolve(
        active_pack_versions(),
        jurisdiction=case.jurisdiction,
        client_type=case.party.client_type,
        risk_level=case.risk_level,
        as_of=as_of or timezone.localdate(),
    )


def case_policy(case: OnboardingCase) -> dict:
    """The pinned policy of a submitted case, or the current one for a draft."""
    if case.is_pinned and case.policy:
        return case.policy
    return resolve_policy_for(case).as_dict()


# --- Facts and requirements -------------------------------------------------------------------


def _party_facts(parties: list[Party]) -> dict[int, PartyFacts]:
    """Facts for many parties in a fixed number of queries."""
    ids = [p.pk for p in parties]
    addresses: dict[int, set[str]] = defaultdict(set)
    for party_id, kind in Address.objects.filter(party_id__in=ids).values_list(
        "party_id", "kind"
    ):
        addresses[party_id].add(kind)
    identifiers: dict[int, set[str]] = defaultdict(set)
    for party_id, kind in PartyIdentifier.objects.filter(party_id__in=ids).values_list(
        "party_id", "kind"
    ):
        identifiers[party_id].add(kind)
    tax: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    for party_id, country, tin, reason in TaxResidence.objects.filter(
        party_id__in=ids
    ).values_list("party_id", "country", "tin", "no_tin_reason"):
        tax[party_id].append((country, tin, reason))
    documents: dict[int, set[str]] = defaultdict(set)
    today = timezone.localdate()
    for party_id, doc_type, expires in Document.objects.filter(
        party_id__in=ids
    ).values_list("party_id", "doc_type", "expires_on"):
        if expires is None or expires >= today:
            documents[party_id].add(doc_type)

    facts: dict[int, PartyFacts] = {}
    for party in parties:
        present: set[str] = set()
        for name in (
            "given_names", "family_name", "legal_name", "date_of_birth", "date_of_incorporation",
            "residence_country", "country_of_incorporation", "nationalities", "source_of_wealth",
            "source_of_funds", "email", "phone",
        ):
            if getattr(party, name):
                present.add(name)
        kinds = addresses[party.pk]
        for kind, field_name in (
            (AddressKind.RESIDENTIAL, "residential_address"),
            (AddressKind.REGISTERED, "registered_address"),
            (AddressKind.BUSINESS, "business_address"),
            (AddressKind.MAILING, "mailing_address"),
        ):
            if kind in kinds:
                present.add(field_name)
        if AddressKind.REGISTERED in kinds and "business_address" not in present:
            present.add("business_address")  # the registered office stands in for the place of business
        ids_present = identifiers[party.pk]
        if IdentifierKind.PASSPORT in ids_present:
            present.update({"passport", "identity_number"})
        if IdentifierKind.NATIONAL_ID in ids_present:
            present.add("identity_number")
        if IdentifierKind.LEI in ids_present:
            present.add("lei")
        if IdentifierKind.REGISTRATION in ids_present:
            present.add("registration_number")
        if IdentifierKind.TAX_ID in ids_present or any(tin for _, tin, _ in tax[party.pk]):
            present.add("tax_id")
        if tax[party.pk] and all(tin or reason for _, tin, reason in tax[party.pk]):
            present.add("tax_residence")
        countries = {c for c in [party.residence_country, party.country_of_incorporation] if c}
        countries.update(party.nationalities or [])
        facts[party.pk] = PartyFacts(
            id=party.pk,
            name=party.display_name,
            kind=party.kind,
            client_type=party.client_type,
            present_fields=present,
            document_types=documents[party.pk],
            is_pep=party.is_pep,
            countries=countries,
            is_listed=party.is_listed,
            is_regulated_fi=party.is_regulated_fi,
            incorporation_country=party.country_of_incorporation,
        )
    return facts


def ownership_edges(firm_id: int) -> list[Edge]:
    return [
        Edge(owner=o, owned=d, percentage=p, role=r)
        for o, d, p, r in OwnershipLink.objects.filter(firm_id=firm_id).values_list(
            "owner_id", "owned_id", "percentage", "role"
        )
    ]


def ownership_of(party: Party):
    return effective_ownership(party.pk, ownership_edges(party.firm_id))


def case_facts(case: OnboardingCase) -> CaseFacts:
    result = ownership_of(case.party)
    related_ids = list(result.shares)
    parties = {p.pk: p for p in Party.objects.filter(pk__in=related_ids + [case.party_id])}
    facts = _party_facts(list(parties.values()))
    names = {pk: p.display_name for pk, p in parties.items()}
    related: list[RelatedParty] = []
    max_depth = 1
    for party_id, share in result.shares.items():
        best_path = max(share.paths, key=lambda item: item[1])[0] if share.paths else (case.party_id, party_id)
        max_depth = max(max_depth, max((len(p) - 1 for p, _ in share.paths), default=1))
        related.append(RelatedParty(
            facts=facts[party_id],
            effective=share.effective,
            path_names=[names[pk] for pk in best_path[1:-1]],
            roles=set(share.roles),
        ))
    related.sort(key=lambda r: (-r.effective, r.facts.name))
    return CaseFacts(
        client=facts[case.party_id],
        related=related,
        cycles=[[names.get(pk, str(pk)) for pk in cycle] for cycle in result.cycles],
        risk_level=case.risk_level,
        max_depth=max_depth,
        acknowledged=set(case.acknowledged_flags or []),
    )


def case_outstanding(case: OnboardingCase) -> list[Outstanding]:
    """Everything the case still needs: the rule pack's requirements and every registered
    provider's (screening alerts, tax forms, ...)."""
    resolved = case_policy(case)
    items = evaluate(resolved["policy"], case_facts(case), source_of=resolved.get("key_sources", {}),
                     citations=resolved.get("citations", {}))
    for _name, provider in sorted(registry.providers().items()):
        items.extend(provider(case))
    return items


def beneficial_owner_summary(case: OnboardingCase) -> list[dict]:
    """The computed beneficial owners and controllers, for pages and the API."""
    from .rules.evaluator import beneficial_owners, controllers

    policy = case_policy(case)["policy"]
    facts = case_facts(case)
    owners = {r.facts.id for r in beneficial_owners(policy, facts)}
    ctrls = {r.facts.id for r in controllers(policy, facts)}
    return [
        {
            "party_id": r.facts.id,
            "name": r.facts.name,
            "kind": r.facts.kind,
            "effective_percentage": str(r.effective.quantize(Decimal("0.01"))),
            "through": r.path_names,
            "roles": sorted(r.roles),
            "is_beneficial_owner": r.facts.id in owners,
            "is_controller": r.facts.id in ctrls,
        }
        for r in facts.related
    ]


def dashboard_counts(user: User) -> dict:
    """Two grouped queries (cases by state; relationships by state with those due for review)."""
    by_state = dict(scope_to_user(OnboardingCase.objects.all(), user).order_by()
                    .values_list("state").annotate(n=Count("id")).values_list("state", "n"))
    horizon = timezone.localdate() + dt.timedelta(days=30)
    rels = (scope_to_user(Relationship.objects.all(), user).order_by().values_list("state")
            .annotate(n=Count("id"), due=Count("id", filter=Q(next_review_due__lte=horizon))))
    rel_rows = list(rels.values_list("state", "n", "due"))
    return {
        "cases_by_state": by_state,
        "open_cases": sum(n for state, n in by_state.items() if state in OPEN_CASE_STATES),
        "reviews_due": sum(due for state, _, due in rel_rows if state != "closed"),
        "relationships_by_state": {state: n for state, n, _ in rel_rows},
    }


def party_kind_is_entity(party: Party) -> bool:
    return party.kind == PartyKind.ENTITY


def allowed_case_actions(case: OnboardingCase, user: User) -> list[str]:
    """The transitions this user may try on this case now (buttons show only these). The
    services enforce the same rules; this only keeps the page honest."""
    if not getattr(user, "is_authenticated", False):
        return []
    officer = user.is_platform_officer or user.is_superuser
    firm_user = user.firm_id == case.firm_id and user.role in ("advisor", "firm_admin")
    actions: list[str] = []
    state = case.state
    if firm_user and state in ("draft", "information_requested"):
        actions.append("submit")
    if firm_user and state in ("draft", "submitted", "information_requested"):
        actions.append("withdraw")
    if officer:
        if state == "submitted":
            actions.append("start_review")
        if state == "in_review":
            actions.append("request_information")
        if state in ("in_review", "awaiting_second_approval") and case.submitted_by_id != user.pk and not (
            state == "awaiting_second_approval" and case.first_approver_id == user.pk
        ):
            actions.append("approve")
        if state in ("submitted", "in_review", "awaiting_second_approval"):
            actions.append("reject")
    return actions


def case_audit_events(case: OnboardingCase):
    """The case's audit trail for export: the case, its relationship, and every party in its
    ownership structure (data, identifiers, documents, screening), oldest first."""
    from .labels import audit_subjects
    from .models import AuditEvent

    ids = [case.party_id, *ownership_of(case.party).shares]
    party_ids = [str(pk) for pk in ids]
    query = (Q(subject_type=OnboardingCase._meta.label_lower, subject_id=str(case.pk))
             | Q(subject_type=Relationship._meta.label_lower, subject_id=str(case.relationship_id))
             | Q(subject_type=Party._meta.label_lower, subject_id__in=party_ids)
             | audit_subjects(ids))  # tax forms, screening alerts: registered by their apps
    return AuditEvent.objects.filter(query).select_related("actor").order_by("created_at", "id")


def audit_events_for(user: User):
    """The firm-wide audit list's tenant rule: a firm's users see the events of their own firm's records
    only, never another firm's and never the platform's own (rule packs, watchlists and risk models
    loaded: firm empty); platform officers see every event."""
    from .models import AuditEvent

    events = AuditEvent.objects.select_related("actor")
    if not getattr(user, "is_authenticated", False):
        return events.none()
    if user.is_platform_officer or user.is_superuser:
        return events
    if user.firm_id is None:
        return events.none()
    return events.filter(firm_id=user.firm_id)


def audit_rows_for(events, user: User, *, detail_as_text: bool = False, firm_list: bool = True) -> list[dict]:
    """Audit events as the API shows them to `user`: a firm user sees a compliance-internal event
    (a screening alert, a screening run) in words, with its states and time, but never its reason or
    detail (they name list entries, scores and list versions) nor which officer acted (`compliance`);
    `detail_withheld` says so on the firm-wide list. Officers see everything."""
    from .labels import is_confidential

    officer = bool(getattr(user, "is_platform_officer", False) or getattr(user, "is_superuser", False))
    events = list(events)
    rows = audit_rows(events, detail_as_text=detail_as_text)
    for event, row in zip(events, rows, strict=True):
        withheld = not officer and is_confidential(event)
        if withheld:
            row.update(reason="", detail="{}" if detail_as_text else {})
            if event.actor is not None and event.actor.firm_id != getattr(user, "firm_id", None):
                row["actor"] = "compliance"
        if firm_list:
            row.update(firm=event.firm_id, detail_withheld=withheld)
    return rows


AUDIT_EXPORT_FIELDS = ("id", "created_at", "event_type", "subject_type", "subject_id", "from_state",
                       "to_state", "actor", "reason", "detail", "what")


def audit_rows(events, *, detail_as_text: bool = True) -> list[dict]:
    """Audit events as rows; `detail` JSON-encoded text for CSV, or the object itself for the API."""
    import json as _json

    from .labels import describe

    return [{
        "id": e.pk, "created_at": e.created_at.isoformat(), "what": describe(e), "event_type": e.event_type,
        "subject_type": e.subject_type, "subject_id": e.subject_id, "from_state": e.from_state,
        "to_state": e.to_state, "actor": e.actor.username if e.actor else "system", "reason": e.reason,
        "detail": _json.dumps(e.detail, sort_keys=True, default=str) if detail_as_text else (e.detail or {}),
    } for e in events]


def audit_generation(firm_id: int | None) -> int:
    """The newest audit event that could change a firm's requirements: every data or state change
    is audited in the same transaction, so this number moves whenever an evaluation could."""
    from django.db import connection

    from .models import AuditEvent

    # Two index-only look-ups on (firm, id), written out: the ORM's OR of the two cost more to build
    # than to run on every requirements read (issue 18's profile).
    table, qn = AuditEvent._meta.db_table, connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT (SELECT MAX({qn('id')}) FROM {qn(table)} WHERE {qn('firm_id')} = %s), "
                       f"(SELECT MAX({qn('id')}) FROM {qn(table)} WHERE {qn('firm_id')} IS NULL)", [firm_id])
        firm_max, platform_max = cursor.fetchone()
    return max(firm_max or 0, platform_max or 0)


def case_outstanding_cached(case: OnboardingCase, *, generation: int | None = None) -> list[Outstanding]:
    """`case_outstanding` for display (dashboard, API reads), cached per process under the firm's
    audit generation and today's date, so no change can be missed and no worker serves another's
    stale copy. Decisions (approval) always call `case_outstanding` itself."""
    from django.core.cache import cache

    generation = audit_generation(case.firm_id) if generation is None else generation
    key = f"meridian:req:{case.pk}:{generation}:{timezone.localdate().isoformat()}:{case.state}:{case.risk_level}"
    items = cache.get(key)
    if items is None:
        items = case_outstanding(case)
        cache.set(key, items, 300)
    return items
