"""Compliance reads."""
from __future__ import annotations

import threading
from decimal import Decimal

from django.db.models import Q, QuerySet

from onboarding.audit import events_for
from onboarding.models import (
    OPEN_CASE_STATES,
    OnboardingCase,
    Party,
    PartyKind,
    Relationship,
    RelationshipState,
    User,
)
from onboarding.selectors import ownership_edges, ownership_of

from .exceptions import RiskModelError
from .models import (
    LIVE_ALERT_STATES,
    AlertState,
    RiskModel,
    ScreeningAlert,
    ScreeningThreshold,
    WatchlistEntry,
    WatchlistSnapshot,
)
from .risk import RiskFacts
from .screening.importers import Identifier, WatchlistRecord
from .screening.matcher import DEFAULT_CONFIG, Query, ScreeningIndex

_index_lock = threading.Lock()
_index_cache: dict = {"key": None, "value": (None, {}, [])}


def active_snapshots() -> list[WatchlistSnapshot]:
    return list(WatchlistSnapshot.objects.filter(is_active=True).order_by("source"))


def active_index() -> tuple[ScreeningIndex | None, dict[tuple[str, str], int], list[WatchlistSnapshot]]:
    """The in-memory index over every active snapshot, rebuilt when a snapshot changes.
    Returns (index or None, {(source, ref): entry id}, snapshots)."""
    snapshots = active_snapshots()
    key = tuple(s.pk for s in snapshots)
    with _index_lock:
        if _index_cache["key"] == key:
            return _index_cache["value"]
        if not snapshots:
            value = (None, {}, snapshots)
        else:
            records: list[WatchlistRecord] = []
            entry_ids: dict[tuple[str, str], int] = {}
            rows = WatchlistEntry.objects.filter(snapshot__in=snapshots).values(
                "pk", "source", "ref", "kind", "name", "aliases", "weak_aliases", "dobs", "countries",
                "places_of_birth", "identifiers", "programmes", "topics").order_by("pk")
            for row in rows.iterator(chunk_size=5000):
                pk = row.pop("pk")
                row["identifiers"] = [Identifier(**i) for i in row["identifiers"]]
                records.append(WatchlistRecord(**row))
                entry_ids[(row["source"], row["ref"])] = pk
            value = (ScreeningIndex(records), entry_ids, snapshots)
        _index_cache["key"] = key
        _index_cache["value"] = value
        return value


def thresholds_for(firm_id: int | None) -> dict[str, float]:
    """Threshold per source for a firm: firm+source, then firm, then source, then platform default."""
    from .models import WatchlistSource

    rows = list(ScreeningThreshold.objects.filter(Q(firm_id=firm_id) | Q(firm__isnull=True)))
    out = {}
    for source in WatchlistSource.values:
        best = None
        for f, s in [(firm_id, source), (firm_id, ""), (None, source), (None, "")]:
            for row in rows:
                if row.firm_id == f and row.source == s:
                    best = row
                    break
            if best is not None:
                break
        out[source] = float(best.threshold) if best else DEFAULT_CONFIG.threshold
    return out


def high_score_for(firm_id: int | None, source: str) -> Decimal:
    for f, s in [(firm_id, source), (firm_id, ""), (None, source), (None, "")]:
        row = ScreeningThreshold.objects.filter(firm_id=f, source=s).first()
        if row is not None:
            return row.high_score
    return Decimal("0.950")


def query_for_party(party: Party) -> Query:
    countries = {c for c in [*(party.nationalities or []), party.residence_country, party.country_of_incorporation,
                             party.place_of_birth_country] if c}
    identifiers = tuple(party.identifiers.values_list("value", flat=True))
    if party.kind == PartyKind.PERSON:
        return Query(name=party.display_name, kind="person",
                     dob=party.date_of_birth.isoformat() if party.date_of_birth else None,
                     countries=tuple(sorted(countries)), identifiers=identifiers)
    return Query(name=party.display_name, kind="entity", countries=tuple(sorted(countries)), identifiers=identifiers)


def alerts_for(user: User) -> QuerySet[ScreeningAlert]:
    """Officers see every alert; firm users see none (list details are not for the firm)."""
    if user.is_platform_officer or user.is_superuser:
        return ScreeningAlert.objects.select_related("party", "firm")
    return ScreeningAlert.objects.none()


def live_alerts_for_parties(party_ids: list[int]) -> QuerySet[ScreeningAlert]:
    return ScreeningAlert.objects.filter(party_id__in=party_ids, state__in=LIVE_ALERT_STATES)


def case_party_ids(case: OnboardingCase) -> list[int]:
    return [case.party_id, *[pk for pk in ownership_of(case.party).shares if pk != case.party_id]]


def parties_controlled_by(party: Party) -> list[int]:
    """Client parties that `party` owns or controls, directly or through a chain (and itself)."""
    edges = ownership_edges(party.firm_id)
    above: dict[int, set[int]] = {}
    for edge in edges:
        above.setdefault(edge.owner, set()).add(edge.owned)
    seen = {party.pk}
    frontier = [party.pk]
    while frontier:
        nxt = []
        for pk in frontier:
            for owned in above.get(pk, ()):
                if owned not in seen:
                    seen.add(owned)
                    nxt.append(owned)
        frontier = nxt
    return sorted(seen)


def open_cases_touching(party: Party) -> list[OnboardingCase]:
    return list(OnboardingCase.objects.filter(party_id__in=parties_controlled_by(party),
                                              state__in=OPEN_CASE_STATES).order_by("pk"))


def relationships_touching(party: Party) -> list[Relationship]:
    return list(Relationship.objects.filter(party_id__in=parties_controlled_by(party)).order_by("pk"))


def last_changed_fields(party: Party) -> set[str]:
    """What the latest change of party data touched: the fields of a `party.updated` event, or
    "residential_address" when a residential address was replaced."""
    event = (events_for(party).filter(event_type__in=["party.updated", "party.address_set"])
             .order_by("-created_at", "-id").first())
    if event is None:
        return set()
    if event.event_type == "party.address_set":
        replaced = event.detail.get("replaced") and event.detail.get("kind") == "residential"
        return {"residential_address"} if replaced else set()
    return set(event.detail.get("fields", []))


def book_party_ids(max_depth: int = 10) -> list[int]:
    """Every client of a relationship not closed, and every owner or controller above them."""
    from onboarding.models import OwnershipLink

    ids = set(Relationship.objects.exclude(state=RelationshipState.CLOSED).values_list("party_id", flat=True))
    frontier = set(ids)
    for _ in range(max_depth):
        owners = set(OwnershipLink.objects.filter(owned_id__in=frontier).values_list("owner_id", flat=True)) - ids
        if not owners:
            break
        ids |= owners
        frontier = owners
    return sorted(ids)


def overdue_already_flagged(relationship: Relationship) -> bool:
    return events_for(relationship).filter(
        event_type="relationship.review_overdue",
        detail__next_review_due=str(relationship.next_review_due)).exists()


def due_relationships(*, on_or_before) -> QuerySet[Relationship]:
    return Relationship.objects.filter(state=RelationshipState.ACTIVE, next_review_due__lte=on_or_before)


# --- Risk ------------------------------------------------------------------------------------


def active_risk_model(code: str = "default") -> RiskModel:
    model = RiskModel.objects.filter(code=code, is_active=True).first()
    if model is None:
        raise RiskModelError(f"no active risk model {code!r}: run risk_models_load")
    return model


def risk_facts_bulk(parties: list[Party]) -> dict[int, RiskFacts]:
    return {p.pk: risk_facts(p) for p in parties}


def risk_facts(party: Party) -> RiskFacts:
    ownership = ownership_of(party)
    related = list(Party.objects.filter(pk__in=list(ownership.shares)))
    countries = {c for c in [*(party.nationalities or []), party.residence_country, party.country_of_incorporation]
                 if c}
    for other in related:
        countries.update(c for c in [*(other.nationalities or []), other.residence_country,
                                     other.country_of_incorporation] if c)
    depth = max((len(path) - 1 for share in ownership.shares.values() for path, _ in share.paths), default=0)
    confirmed = set(ScreeningAlert.objects.filter(
        party_id__in=[party.pk, *[p.pk for p in related]], state=AlertState.CONFIRMED)
        .values_list("is_pep", flat=True).distinct())
    confirmed_pep = True in confirmed
    return RiskFacts(
        client_type=party.client_type,
        countries=tuple(sorted(countries)),
        is_pep=party.is_pep or any(p.is_pep for p in related) or confirmed_pep,
        sanctioned=False in confirmed,
        ownership_layers=depth,
        has_cycles=bool(ownership.cycles),
        source_of_wealth="documented" if party.documents.filter(doc_type="source_of_wealth").exists()
        else ("declared" if party.source_of_wealth.strip() else "missing"),
        product="discretionary_sma",
        channel="intermediated",
    )
