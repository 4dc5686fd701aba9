"""Compliance writes: watchlist imports, screening, alert decisions, risk rating, reviews.

Each business action is a keyword-only function inside `transaction.atomic` that writes an
audit event with every state change. The screening engine (compliance.screening) is plain
Python: these functions load data in bulk, call it, and write the results.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from onboarding import services as onboarding_services
from onboarding import webhooks
from onboarding.audit import record_event
from onboarding.models import (
    CaseKind,
    CaseState,
    OnboardingCase,
    Party,
    Relationship,
    RelationshipState,
    User,
)
from onboarding.selectors import ownership_of

from . import selectors
from .exceptions import (
    AlertFourEyesRequired,
    AlertInvalidTransition,
    AlertNoteRequired,
    NotAComplianceOfficer,
)
from .models import (
    AlertState,
    ClearedMatch,
    RiskAssessment,
    RiskModel,
    ScreeningAlert,
    ScreeningRun,
    WatchlistEntry,
    WatchlistSnapshot,
)
from .risk import UNRATED, load_model_file, rate, validate_model
from .screening.importers import WatchlistRecord, parse_source
from .screening.matcher import Hit

CLEARED_MATCH_DAYS = 365
NEUTRAL_FIRM_MESSAGE = "Compliance has decided this client cannot be onboarded or serviced. Contact compliance."


# --------------------------------------------------------------------------------------------
# Watchlist imports


def _file_info(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    out = []
    for path in paths:
        data = Path(path).read_bytes()
        out.append({"name": Path(path).name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)})
    return out


def _diff(previous: dict[str, str], current: dict[str, str]) -> dict[str, Any]:
    added = sorted(set(current) - set(previous))
    removed = sorted(set(previous) - set(current))
    changed = sorted(ref for ref in set(current) & set(previous) if current[ref] != previous[ref])
    return {
        "added": len(added), "changed": len(changed), "removed": len(removed),
        "added_refs": added, "changed_refs": changed, "removed_refs": removed,
    }


def watchlist_import(
    *, source: str, paths: list[str | Path], actor: User | None = None,
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None, batch_size: int = 2000,
) -> WatchlistSnapshot:
    """Parse the files, store them as the source's next snapshot and make it active.

    The files are parsed completely before anything is written; a bad file raises
    WatchlistFormatError (file, line, field) and the active snapshot stays as it was. The write
    itself is one transaction. The snapshot's report lists what was added, changed and removed
    since the previous active snapshot. A delta re-screen of the book follows after commit."""
    records = parse_source(source, list(paths))
    files = _file_info(paths)
    with transaction.atomic():
        previous = (WatchlistSnapshot.objects.select_for_update()
                    .filter(source=source, is_active=True).first())
        previous_hashes = (dict(WatchlistEntry.objects.filter(snapshot=previous).values_list("ref", "content_hash"))
                           if previous else {})
        latest = WatchlistSnapshot.objects.filter(source=source).order_by("-version").first()
        snapshot = WatchlistSnapshot.objects.create(source=source, version=(latest.version + 1) if latest else 1,
                                                    files=files, imported_by=actor)
        unique: dict[str, WatchlistRecord] = {}
        for record in records:
            unique[record.ref] = record  # a list repeating a reference keeps its last row
        batch: list[WatchlistEntry] = []
        iterator = progress(unique.values()) if progress else unique.values()
        for record in iterator:
            batch.append(WatchlistEntry.from_record(snapshot, record))
            if len(batch) >= batch_size:
                WatchlistEntry.objects.bulk_create(batch)
                batch = []
        if batch:
            WatchlistEntry.objects.bulk_create(batch)
        current_hashes = {ref: record.content_hash() for ref, record in unique.items()}
        report = _diff(previous_hashes, current_hashes)
        report["previous_version"] = previous.version if previous else None
        if previous:
            previous.is_active = False
            previous.save(update_fields=["is_active"])
        snapshot.is_active = True
        snapshot.entry_count = len(unique)
        snapshot.report = report
        snapshot.save(update_fields=["is_active", "entry_count", "report"])
        if report["removed_refs"]:
            # A listed subject was delisted: its live alerts stay for an officer to close, flagged.
            for alert in ScreeningAlert.objects.filter(source=source, entry_ref__in=report["removed_refs"],
                                                       state__in=[AlertState.OPEN, AlertState.UNDER_REVIEW,
                                                                  AlertState.ESCALATED]):
                record_event(subject=alert, event_type="screening.entry_delisted", actor=actor, firm=alert.firm,
                             from_state=alert.state, to_state=alert.state,
                             detail={"snapshot": snapshot.pk, "version": snapshot.version})
        record_event(subject=snapshot, event_type="watchlist.imported", actor=actor, firm=None,
                     detail={"source": source, "version": snapshot.version, "entries": len(unique),
                             "added": report["added"], "changed": report["changed"], "removed": report["removed"],
                             "files": files})
        if report["added"] or report["changed"]:
            from .tasks import rescreen_book

            snapshot_id = snapshot.pk
            transaction.on_commit(lambda: rescreen_book.delay(snapshot_id))
    return snapshot


# --------------------------------------------------------------------------------------------
# Screening


def _hit_is_suppressed(party: Party, hit: Hit, entry_hash: str, now: dt.datetime) -> bool:
    """A confirmed pair stays decided; a cleared pair is remembered until it expires or the
    party or the entry changes."""
    if ScreeningAlert.objects.filter(party=party, source=hit.source, entry_ref=hit.ref,
                                     state=AlertState.CONFIRMED).exists():
        return True
    return ClearedMatch.objects.filter(
        party=party, source=hit.source, entry_ref=hit.ref, entry_hash=entry_hash, party_version=party.version,
        expires_at__gt=now,
    ).exists()


# The official sanctions lists a jurisdiction's rule pack chooses among (`screening.lists`); other
# sources (OpenSanctions, the PEP source) are screened whatever the pack names.
OFFICIAL_LISTS = {"ofac", "un", "uk", "uksl", "eu", "seco", "ae_local"}


def case_screening_lists(case: OnboardingCase | None) -> set[str] | None:
    """The lists the case's rule pack names for screening (None: no case or no pack policy)."""
    if case is None:
        return None
    from onboarding.exceptions import MeridianError
    from onboarding.selectors import case_policy

    try:
        lists = ((case_policy(case).get("policy") or {}).get("screening") or {}).get("lists")
    except MeridianError:
        return None
    return set(lists) if lists else None


@transaction.atomic
def screen_party(*, party: Party, trigger: str, case: OnboardingCase | None = None,
                 only_refs: dict[str, set[str]] | None = None) -> list[ScreeningAlert]:
    """Screen one party against the active lists; open an alert for every new hit at or above
    the threshold (per list and firm) that is not a remembered cleared pair. `only_refs`
    ({source: refs}) restricts the hits to entries that changed (delta screening).
    Returns the alerts opened."""
    index, entry_ids, snapshots = selectors.active_index()
    run = ScreeningRun(party=party, party_version=party.version, trigger=trigger,
                       snapshots=[s.pk for s in snapshots])
    if index is None:
        run.save()
        record_event(subject=party, event_type="screening.performed", firm=party.firm,
                     detail={"trigger": trigger, "hits": 0, "alerts_opened": 0, "suppressed": 0, "snapshots": [],
                             "warning": "no active watchlist"})
        return []
    thresholds = selectors.thresholds_for(party.firm_id)
    hits = index.screen(selectors.query_for_party(party), threshold=min(thresholds.values()),
                        thresholds=thresholds, limit=20 if only_refs is None else 1000)
    if only_refs is not None:
        hits = [h for h in hits if h.ref in only_refs.get(h.source, set())]
    # The jurisdiction's lists: an official list its pack does not name is not screened for the
    # case (e.g. the OFSI list after 28 January 2026 for a GB case), and a list it names that has
    # no active snapshot is recorded on the screening event.
    named = case_screening_lists(case)
    missing_lists: list[str] = []
    if named is not None:
        hits = [h for h in hits if h.source not in OFFICIAL_LISTS or h.source in named]
        active = {s.source for s in snapshots}
        missing_lists = sorted(named - active)
    run.hits = len(hits)
    now = timezone.now()
    opened: list[ScreeningAlert] = []
    entries = WatchlistEntry.objects.in_bulk([entry_ids[(h.source, h.ref)] for h in hits])
    for hit in hits:
        entry = entries[entry_ids[(hit.source, hit.ref)]]
        if _hit_is_suppressed(party, hit, entry.content_hash, now):
            run.suppressed += 1
            continue
        live = ScreeningAlert.objects.filter(party=party, source=hit.source, entry_ref=hit.ref,
                                             state__in=[AlertState.OPEN, AlertState.UNDER_REVIEW,
                                                        AlertState.ESCALATED]).first()
        if live is not None:
            continue
        alert = ScreeningAlert.objects.create(
            firm_id=party.firm_id, party=party, case=case, entry=entry, source=hit.source, entry_ref=hit.ref,
            entry_hash=entry.content_hash, entry_name=entry.name, party_version=party.version,
            is_pep=entry.is_pep, score=Decimal(str(round(hit.score, 4))), explanation=hit.explanation,
        )
        record_event(subject=alert, event_type="screening.alert_opened", firm=party.firm, to_state=alert.state,
                     detail={"party": party.pk, "source": hit.source, "ref": hit.ref, "score": str(alert.score),
                             "trigger": trigger, "case": case.pk if case else None})
        # The firm learns that an alert was raised on its client, never the list details.
        webhooks.emit(firm=party.firm_id, event_type="alert.raised",
                      data={"alert": alert.pk, "party": party.pk, "case": case.pk if case else None})
        opened.append(alert)
    run.alerts_opened = len(opened)
    run.save()
    record_event(subject=party, event_type="screening.performed", firm=party.firm,
                 detail={"trigger": trigger, "hits": run.hits, "alerts_opened": run.alerts_opened,
                         "suppressed": run.suppressed, "snapshots": run.snapshots,
                         "lists": sorted(named) if named is not None else None,
                         "missing_lists": missing_lists})
    if opened and trigger != "case_submitted":
        _open_event_reviews(party, reason="new screening hit")
    return opened


def case_parties(case: OnboardingCase) -> list[Party]:
    """The case's client and every owner and controller above it."""
    related = list(ownership_of(case.party).shares)
    parties = {p.pk: p for p in Party.objects.filter(pk__in=related)}
    return [case.party, *(parties[pk] for pk in related if pk in parties and pk != case.party_id)]


def screen_case(*, case: OnboardingCase, trigger: str = "case_submitted") -> list[ScreeningAlert]:
    opened: list[ScreeningAlert] = []
    for party in case_parties(case):
        opened.extend(screen_party(party=party, trigger=trigger, case=case))
    return opened


def screen_parties_delta(*, snapshot: WatchlistSnapshot, party_ids: list[int]) -> int:
    """Re-screen these parties against what the snapshot added or changed. Safe to run twice:
    a live alert or a cleared pair is not opened again."""
    refs = {snapshot.source: set(snapshot.report.get("added_refs", [])) | set(snapshot.report.get("changed_refs", []))}
    trigger = f"list_update:{snapshot.source}:v{snapshot.version}"
    # a redelivered chunk (worker lost mid-chunk) does not screen again the parties already done
    done = set(ScreeningRun.objects.filter(party_id__in=party_ids, trigger=trigger).values_list("party_id", flat=True))
    opened = 0
    for party in Party.objects.filter(pk__in=party_ids).exclude(pk__in=done).order_by("pk"):
        opened += len(screen_party(party=party, trigger=trigger, only_refs=refs))
    return opened


# --------------------------------------------------------------------------------------------
# Alert decisions


def _require_officer(actor: User | None) -> None:
    if actor is None or not (actor.is_platform_officer or actor.is_superuser):
        raise NotAComplianceOfficer()


def _lock_alert(alert: ScreeningAlert) -> ScreeningAlert:
    return ScreeningAlert.objects.select_for_update().select_related("party").get(pk=alert.pk)


def _alert_transition(alert: ScreeningAlert, method: str, *, actor: User | None, note: str = "",
                      event: str, detail: dict[str, Any] | None = None) -> ScreeningAlert:
    before = alert.state
    try:
        getattr(alert, method)()
    except TransitionNotAllowed as exc:
        raise AlertInvalidTransition(
            f"cannot {method.replace('_', ' ')} an alert that is {before.replace('_', ' ')}",
            detail={"state": before, "action": method}) from exc
    alert.save()
    record_event(subject=alert, event_type=event, actor=actor, firm=alert.firm, from_state=before,
                 to_state=alert.state, reason=note, detail=detail or {})
    if alert.state in (AlertState.CLEARED, AlertState.CONFIRMED):
        webhooks.emit(firm=alert.firm_id, event_type="alert.decided",
                      data={"alert": alert.pk, "party": alert.party_id, "case": alert.case_id,
                            "decision": str(alert.state)})
    return alert


@transaction.atomic
def alert_assign(*, alert: ScreeningAlert, actor: User, assignee: User | None) -> ScreeningAlert:
    """Give the alert to an officer (None: back to the queue). A decided alert stays as decided."""
    _require_officer(actor)
    if assignee is not None and not (assignee.is_platform_officer or assignee.is_superuser):
        raise NotAComplianceOfficer("an alert can only be assigned to a compliance officer",
                                    detail={"assignee": assignee.pk})
    alert = _lock_alert(alert)
    if alert.state not in (AlertState.OPEN, AlertState.UNDER_REVIEW, AlertState.ESCALATED):
        raise AlertInvalidTransition(f"cannot assign an alert that is {alert.state.replace('_', ' ')}",
                                     detail={"state": alert.state, "action": "assign"})
    before = alert.assigned_to_id
    alert.assigned_to = assignee
    alert.save(update_fields=["assigned_to", "updated_at"])
    record_event(subject=alert, event_type="screening.alert_assigned", actor=actor, firm=alert.firm,
                 from_state=alert.state, to_state=alert.state,
                 detail={"from": before, "to": assignee.pk if assignee else None})
    return alert


@transaction.atomic
def alert_start_review(*, alert: ScreeningAlert, actor: User) -> ScreeningAlert:
    _require_officer(actor)
    alert = _lock_alert(alert)
    return _alert_transition(alert, "start_review", actor=actor, event="screening.alert_review_started")


@transaction.atomic
def alert_escalate(*, alert: ScreeningAlert, actor: User, note: str) -> ScreeningAlert:
    _require_officer(actor)
    if not note.strip():
        raise AlertNoteRequired("escalating an alert needs a note")
    alert = _lock_alert(alert)
    return _alert_transition(alert, "escalate", actor=actor, note=note, event="screening.alert_escalated")


@transaction.atomic
def alert_clear(*, alert: ScreeningAlert, actor: User, note: str) -> ScreeningAlert:
    """Clear an alert as a false positive, with a note. An alert scoring at or above the high
    score needs two different officers: the first call records the request, the second clears.
    The cleared pair is remembered until it expires or the party or the entry changes."""
    _require_officer(actor)
    if not note.strip():
        raise AlertNoteRequired("clearing an alert needs a note saying why it is not a match")
    alert = _lock_alert(alert)
    if alert.state not in (AlertState.OPEN, AlertState.UNDER_REVIEW, AlertState.ESCALATED):
        raise AlertInvalidTransition(f"cannot clear an alert that is {alert.state.replace('_', ' ')}",
                                     detail={"state": alert.state, "action": "clear"})
    high = selectors.high_score_for(alert.firm_id, alert.source)
    if alert.score >= high:
        if alert.clear_requested_by_id is None:
            alert.clear_requested_by = actor
            alert.clear_request_note = note
            if alert.state == AlertState.OPEN:
                return _alert_transition(alert, "start_review", actor=actor, note=note,
                                         event="screening.alert_clear_requested",
                                         detail={"score": str(alert.score), "high_score": str(high)})
            alert.save(update_fields=["clear_requested_by", "clear_request_note", "updated_at"])
            record_event(subject=alert, event_type="screening.alert_clear_requested", actor=actor, firm=alert.firm,
                         from_state=alert.state, to_state=alert.state, reason=note,
                         detail={"score": str(alert.score), "high_score": str(high)})
            return alert
        if alert.clear_requested_by_id == actor.pk:
            raise AlertFourEyesRequired("a second officer must confirm clearing a high-scoring alert")
    alert.decided_by = actor
    alert.decision_note = note
    alert.decided_at = timezone.now()
    _alert_transition(alert, "clear", actor=actor, note=note, event="screening.alert_cleared",
                      detail={"first_officer": alert.clear_requested_by_id, "score": str(alert.score)})
    ClearedMatch.objects.create(
        party=alert.party, source=alert.source, entry_ref=alert.entry_ref, entry_hash=alert.entry_hash,
        party_version=alert.party_version, alert=alert,
        expires_at=alert.decided_at + dt.timedelta(days=CLEARED_MATCH_DAYS))
    return alert


@transaction.atomic
def alert_confirm(*, alert: ScreeningAlert, actor: User, note: str) -> ScreeningAlert:
    """Confirm a true match. For a sanctions match, open cases of the party (and of the clients
    it owns or controls) are rejected and their relationships suspended; the firm is told that
    compliance declined the client, never which list or entry matched. A PEP match instead marks
    the party PEP and re-rates its open cases."""
    _require_officer(actor)
    if not note.strip():
        raise AlertNoteRequired("confirming a match needs a note")
    alert = _lock_alert(alert)
    alert.decided_by = actor
    alert.decision_note = note
    alert.decided_at = timezone.now()
    _alert_transition(alert, "confirm", actor=actor, note=note, event="screening.alert_confirmed",
                      detail={"source": alert.source, "ref": alert.entry_ref, "pep": alert.is_pep})
    if alert.is_pep:
        _confirm_pep(alert, actor)
        return alert
    # The risk model's own sanctions factor rates the client high at once: the cases and
    # relationships carry the new rating (and the shorter review) before they are declined.
    _rerate_after_decision(alert.party, actor)
    for case in selectors.open_cases_touching(alert.party):
        if case.state in (CaseState.SUBMITTED, CaseState.IN_REVIEW, CaseState.AWAITING_SECOND_APPROVAL):
            onboarding_services.case_reject(case=case, actor=actor, reason=NEUTRAL_FIRM_MESSAGE)
    for relationship in selectors.relationships_touching(alert.party):
        if relationship.state in (RelationshipState.ACTIVE, RelationshipState.UNDER_REVIEW,
                                  RelationshipState.PENDING):
            onboarding_services.relationship_suspend(relationship=relationship, actor=actor,
                                                     reason=NEUTRAL_FIRM_MESSAGE)
    return alert


def _confirm_pep(alert: ScreeningAlert, actor: User) -> None:
    """A confirmed PEP is not a reason to decline: the party is marked PEP (a change of
    circumstances, which re-screens and opens an early review) and open cases are re-rated,
    which brings EDD and senior approval through the rule packs."""
    party = alert.party
    if not party.is_pep:
        onboarding_services.party_update(party=party, actor=actor, is_pep=True)
    _rerate_after_decision(party, actor)


def _rerate_after_decision(party: Party, actor: User | None) -> None:
    """Rate again, with the active model, every open case and every live relationship of the
    party and of the clients it owns or controls: a confirmed match is one of the model's facts."""
    if not RiskModel.objects.filter(is_active=True).exists():
        return
    for case in selectors.open_cases_touching(party):
        if case.state != CaseState.DRAFT:
            rate_case(case=case, actor=actor)
    for relationship in selectors.relationships_touching(party):
        if relationship.state != RelationshipState.CLOSED:
            rate_relationship(relationship=relationship, actor=actor)


# --------------------------------------------------------------------------------------------
# Risk


@transaction.atomic
def risk_models_load(*, directory: str | Path | None = None, actor: User | None = None) -> list[dict[str, Any]]:
    """Load every risk model file; a changed file becomes a new, active version. All files are
    validated first: one bad file loads nothing."""
    from .risk import MODEL_DIR, checksum

    directory = Path(directory or MODEL_DIR)
    models = [(path, load_model_file(path)) for path in sorted(directory.glob("*.yaml"))]
    report = []
    for path, content in models:
        digest = checksum(content)
        latest = RiskModel.objects.select_for_update().filter(code=content["code"]).order_by("-version").first()
        if latest is not None and latest.checksum == digest:
            report.append({"code": content["code"], "version": latest.version, "created": False})
            continue
        RiskModel.objects.filter(code=content["code"], is_active=True).update(is_active=False)
        model = RiskModel.objects.create(
            code=content["code"], version=(latest.version + 1) if latest else 1, name=content["name"],
            effective_from=content["effective_from"], content=content, source_file=str(path), checksum=digest,
            is_active=True)
        record_event(subject=model, event_type="risk_model.loaded", actor=actor, firm=None,
                     detail={"code": model.code, "version": model.version, "file": str(path)})
        report.append({"code": model.code, "version": model.version, "created": True})
    return report


def _relationship_set_risk(*, relationship: Relationship, level: str, next_review_due: dt.date,
                           actor: User | None, detail: dict[str, Any]) -> None:
    onboarding_services.relationship_set_risk(relationship=relationship, risk_level=level,
                                              next_review_due=next_review_due, actor=actor, detail=detail)


@transaction.atomic
def rate_case(*, case: OnboardingCase, actor: User | None = None) -> RiskAssessment:
    """Rate the case's client with the active risk model and set the case's risk level (which
    re-pins its policy: high risk brings the EDD requirements of the rule packs)."""
    model = selectors.active_risk_model()
    facts = selectors.risk_facts(case.party)
    result = rate(model.content, facts)
    assessment = RiskAssessment.objects.create(
        party=case.party, case=case, relationship=case.relationship, model=model, score=result.score,
        level=result.level, next_review_due=result.next_review_due(timezone.localdate()), factors=result.detail)
    onboarding_services.case_set_risk(case=case, risk_level=result.level, actor=actor,
                                      reason=f"risk model {model.code} v{model.version}",
                                      detail={"score": str(result.score), "assessment": assessment.pk})
    return assessment


@transaction.atomic
def rate_relationship(*, relationship: Relationship, actor: User | None = None) -> RiskAssessment:
    model = selectors.active_risk_model()
    result = rate(model.content, selectors.risk_facts(relationship.party))
    due = result.next_review_due(timezone.localdate())
    assessment = RiskAssessment.objects.create(
        party=relationship.party, relationship=relationship, model=model, score=result.score, level=result.level,
        next_review_due=due, factors=result.detail)
    _relationship_set_risk(relationship=relationship, level=result.level, next_review_due=due, actor=actor,
                           detail={"model": f"{model.code}@{model.version}", "score": str(result.score),
                                   "assessment": assessment.pk})
    return assessment


def risk_impact(*, content: dict[str, Any]) -> dict[str, Any]:
    """Re-score the book (every relationship not closed) against a draft model and report the
    upgrades and downgrades before it is published. Writes nothing."""
    validate_model(content, where="draft")
    order = {"low": 0, "medium": 1, "high": 2}
    moves: list[dict[str, Any]] = []
    matrix: dict[str, dict[str, int]] = {a: {b: 0 for b in order} for a in [*order, UNRATED]}
    relationships = (Relationship.objects.exclude(state=RelationshipState.CLOSED)
                     .select_related("party").order_by("pk"))
    facts_by_party = selectors.risk_facts_bulk([r.party for r in relationships])
    for relationship in relationships:
        result = rate(content, facts_by_party[relationship.party_id])
        current = relationship.risk_level if relationship.risk_level in order else UNRATED
        matrix[current][result.level] += 1
        if current != UNRATED and result.level != current:
            moves.append({"relationship": relationship.pk, "party": relationship.party.display_name,
                          "from": current, "to": result.level, "score": str(result.score),
                          "direction": "upgrade" if order[result.level] > order[current] else "downgrade"})
    return {
        "model": {"code": content["code"], "effective_from": str(content["effective_from"])},
        "relationships": sum(sum(row.values()) for row in matrix.values()),
        "upgrades": sum(1 for m in moves if m["direction"] == "upgrade"),
        "downgrades": sum(1 for m in moves if m["direction"] == "downgrade"),
        "unchanged": sum(matrix[level][level] for level in order),
        "first_ratings": sum(matrix[UNRATED].values()),  # not rated yet: no move, a first rating
        "matrix": matrix,
        "moves": moves,
    }


# --------------------------------------------------------------------------------------------
# Periodic and event-driven review


def _open_event_reviews(party: Party, *, reason: str) -> list[OnboardingCase]:
    """Open an event-driven review for every active relationship of the party (idempotent:
    onboarding keeps one open review per relationship)."""
    cases = []
    for relationship in Relationship.objects.filter(party=party, state=RelationshipState.ACTIVE):
        cases.append(onboarding_services.relationship_open_review(
            relationship=relationship, actor=None, reason=reason, kind=CaseKind.EVENT_REVIEW))
    return cases


def party_changed(*, party: Party) -> None:
    """Hook for onboarding's "party_changed": re-screen, and open an early review when the
    change is one of the event triggers (residence, nationality, PEP status)."""
    screen_party(party=party, trigger="party_changed")
    fields = selectors.last_changed_fields(party)
    triggers = sorted(fields & {"residence_country", "nationalities", "is_pep", "country_of_incorporation",
                                "residential_address"})
    if triggers:
        _open_event_reviews(party, reason="change of " + ", ".join(triggers))


def ownership_changed(*, party: Party) -> None:
    """Hook for onboarding's "ownership_changed" on the owned party: screen its (new) owners and
    controllers, and open an early review of its active relationships."""
    related = [pk for pk in ownership_of(party).shares if pk != party.pk]
    for owner in Party.objects.filter(pk__in=related).order_by("pk"):
        screen_party(party=owner, trigger="ownership_changed")
    _open_event_reviews(party, reason="change of ownership")


def open_due_reviews(*, today: dt.date | None = None, lead_days: int = 30) -> dict[str, Any]:
    """Open a periodic review case for every active relationship whose review falls due within
    `lead_days`, and flag (once per due date) those whose review is overdue."""
    today = today or timezone.localdate()
    opened = overdue = 0
    due = Relationship.objects.filter(state=RelationshipState.ACTIVE, next_review_due__isnull=False,
                                      next_review_due__lte=today + dt.timedelta(days=lead_days)).order_by("pk")
    for relationship in due:
        with transaction.atomic():
            onboarding_services.relationship_open_review(
                relationship=relationship, actor=None, kind=CaseKind.PERIODIC_REVIEW,
                reason=f"periodic review due {relationship.next_review_due}")
        opened += 1
    late = Relationship.objects.filter(state__in=[RelationshipState.ACTIVE, RelationshipState.UNDER_REVIEW],
                                       next_review_due__lt=today).order_by("pk")
    for relationship in late:
        with transaction.atomic():
            if selectors.overdue_already_flagged(relationship):
                continue
            record_event(subject=relationship, event_type="relationship.review_overdue",
                         reason=f"periodic review was due on {relationship.next_review_due}",
                         detail={"next_review_due": str(relationship.next_review_due),
                                 "days_overdue": (today - relationship.next_review_due).days})
            overdue += 1
    return {"opened": opened, "overdue_flagged": overdue}
