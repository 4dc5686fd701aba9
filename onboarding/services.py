"""Writes: one function per business action. Keyword-only, atomic, audited.

Case transitions lock the case row (select_for_update) before checking its state, so two
officers approving at once cannot both win; the loser gets InvalidTransition.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from . import documents, webhooks
from . import requirements as registry
from .audit import record_event
from .exceptions import (
    FourEyesViolation,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    RelationshipNotActive,
    RequirementsOutstanding,
    ValidationFailed,
)
from .masking import REVEAL_ROLES, may_reveal
from .models import (
    OPEN_CASE_STATES,
    Address,
    CaseKind,
    CaseState,
    ControlRole,
    Document,
    Firm,
    IdentifierKind,
    OnboardingCase,
    OwnershipLink,
    Party,
    PartyIdentifier,
    PartyKind,
    Relationship,
    RelationshipState,
    Role,
    TaxResidence,
    User,
)
from .rules.packs import RISK_LEVELS
from .selectors import case_outstanding, resolve_policy_for
from .validation import validate_country, validate_identifier, validate_subdivision

ADVISOR_ROLES = {Role.ADVISOR, Role.FIRM_ADMIN}
FIRM_ROLES = {Role.ADVISOR, Role.FIRM_ADMIN, Role.OPERATIONS}
ACTIVE_RELATIONSHIP_STATES = {RelationshipState.ACTIVE, RelationshipState.UNDER_REVIEW}
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
ALLOWED_UPLOADS = {  # magic bytes -> content type
    b"%PDF-": "application/pdf",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
}
PARTY_FIELDS = {
    "given_names", "family_name", "date_of_birth", "place_of_birth_country", "nationalities", "is_pep",
    "legal_name", "date_of_incorporation", "country_of_incorporation", "is_listed", "is_regulated_fi",
    "residence_country", "email", "phone", "source_of_wealth", "source_of_funds",
    "us_lawful_permanent_resident", "us_substantial_presence",
}
# Changes that are a "change in circumstances" for KYC and tax documents.
MATERIAL_FIELDS = {
    "given_names", "family_name", "legal_name", "residence_country", "nationalities",
    "country_of_incorporation", "date_of_birth", "is_pep", "us_lawful_permanent_resident", "us_substantial_presence",
}


# --- Permissions helpers ---------------------------------------------------------------------


def _require_firm_access(actor: User | None, firm_id: int, *, roles: Collection[str] | None = None) -> None:
    if actor is None:
        return  # system actions (tasks, commands)
    if actor.is_platform_officer or actor.is_superuser:
        return
    if actor.firm_id != firm_id:
        raise NotFound("not found")  # never confirm that another firm's object exists
    if roles is not None and actor.role not in roles:
        raise PermissionDenied(f"a {actor.get_role_display().lower()} may not do this")


def _require_officer(actor: User | None) -> None:
    if actor is None:
        return
    if not (actor.is_platform_officer or actor.is_superuser):
        raise PermissionDenied("only a compliance officer may do this")


def _on_commit_hooks(case_or_party: Any, event: str) -> None:
    hooks = registry.case_hooks()
    if not hooks:
        return

    def run() -> None:
        for _name, hook in sorted(hooks.items()):
            hook(case_or_party, event)

    transaction.on_commit(run)


# --- Parties ---------------------------------------------------------------------------------


def _clean_party_data(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    unknown = set(data) - PARTY_FIELDS
    if unknown:
        raise ValidationFailed(f"unknown field(s): {', '.join(sorted(unknown))}", detail={"fields": sorted(unknown)})
    clean = dict(data)
    from .columns import check_columns

    check_columns(Party, {k: v for k, v in clean.items()
                          if k not in ("date_of_birth", "date_of_incorporation", "nationalities", "is_pep",
                                       "is_listed", "is_regulated_fi")})
    for name in ("residence_country", "country_of_incorporation", "place_of_birth_country"):
        if clean.get(name):
            clean[name] = validate_country(clean[name], field=name)
    if "nationalities" in clean:
        clean["nationalities"] = [validate_country(c, field="nationalities") for c in clean["nationalities"] or []]
    for name in ("date_of_birth", "date_of_incorporation"):
        value = clean.get(name)
        if isinstance(value, str) and value:
            try:
                clean[name] = dt.date.fromisoformat(value)
            except ValueError as exc:
                raise ValidationFailed(f"{name}: '{value}' is not a date (YYYY-MM-DD)", detail={name: value}) from exc
        if clean.get(name) and clean[name] > timezone.localdate():
            raise ValidationFailed(f"{name}: cannot be in the future", detail={name: str(clean[name])})
    if kind == PartyKind.PERSON and "legal_name" in clean and clean["legal_name"]:
        raise ValidationFailed("legal_name: a natural person has given and family names", detail={"legal_name": "person"})
    return clean


@transaction.atomic
def party_create(*, firm: Firm, actor: User | None, kind: str, client_type: str | None = None, **data: Any) -> Party:
    _require_firm_access(actor, firm.pk, roles=FIRM_ROLES)
    if kind not in PartyKind.values:
        raise ValidationFailed(f"kind: must be one of {PartyKind.values}", detail={"kind": kind})
    client_type = client_type or ("individual" if kind == PartyKind.PERSON else "corporation")
    if (kind == PartyKind.PERSON) != (client_type == "individual"):
        raise ValidationFailed(
            "client_type: a person is an individual, an entity is not", detail={"client_type": client_type}
        )
    clean = _clean_party_data(kind, data)
    if kind == PartyKind.PERSON and not (clean.get("given_names") or clean.get("family_name")):
        raise ValidationFailed("family_name: a person needs a name", detail={"family_name": "required"})
    if kind == PartyKind.ENTITY and not clean.get("legal_name"):
        raise ValidationFailed("legal_name: an entity needs its legal name", detail={"legal_name": "required"})
    party = Party.objects.create(firm=firm, kind=kind, client_type=client_type, **clean)
    record_event(subject=party, event_type="party.created", actor=actor, detail={"kind": kind, "client_type": client_type})
    return party


@transaction.atomic
def party_update(*, party: Party, actor: User | None, **changes: Any) -> Party:
    """Change party data. A material change (name, residence, nationality, ...) is a change in
    circumstances: hooks re-screen the party and invalidate documents that depended on it."""
    _require_firm_access(actor, party.firm_id, roles=FIRM_ROLES)
    party = Party.objects.select_for_update().get(pk=party.pk)
    clean = _clean_party_data(party.kind, changes)
    before = {name: getattr(party, name) for name in clean}
    changed = {name: value for name, value in clean.items() if before[name] != value}
    if not changed:
        return party
    for name, value in changed.items():
        setattr(party, name, value)
    party.version += 1
    party.save()
    material = sorted(set(changed) & MATERIAL_FIELDS)
    record_event(
        subject=party, event_type="party.updated", actor=actor,
        detail={"fields": sorted(changed), "material": material, "version": party.version},
    )
    if material:
        _on_commit_hooks(party, "party_changed")
    return party




@transaction.atomic
def party_reveal_sensitive(*, party: Party, actor: User) -> dict[str, Any]:
    """Return the sensitive values of a party in full, for a role that needs them; audited."""
    _require_firm_access(actor, party.firm_id, roles=REVEAL_ROLES)
    if actor is not None and not may_reveal(actor):
        raise PermissionDenied("your role may not see sensitive values")
    data = {
        "date_of_birth": party.date_of_birth.isoformat() if party.date_of_birth else None,
        "identifiers": [{"kind": i.kind, "country": i.country, "value": i.value} for i in party.identifiers.all()],
        "tax_residences": [{"country": t.country, "tin": t.tin} for t in party.tax_residences.all()],
    }
    record_event(subject=party, event_type="party.sensitive_revealed", actor=actor,
                 detail={"fields": ["date_of_birth", "identifiers", "tax_residences"]})
    return data


@transaction.atomic
def party_add_identifier(*, party: Party, actor: User | None, kind: str, value: str, country: str = "") -> PartyIdentifier:
    _require_firm_access(actor, party.firm_id, roles=FIRM_ROLES)
    if kind not in IdentifierKind.values:
        raise ValidationFailed(f"kind: must be one of {IdentifierKind.values}", detail={"kind": kind})
    check = validate_identifier(kind, country, value, entity=party.kind == PartyKind.ENTITY)
    from .crypto import blind_index

    identifier, created = PartyIdentifier.objects.get_or_create(
        party=party, kind=kind, country=(country or "").upper(), value_index=blind_index(check.value),
        defaults={"validator": check.validator, "value": check.value},
    )
    if created:
        record_event(subject=party, event_type="party.identifier_added", actor=actor,
                     detail={"kind": kind, "country": identifier.country, "validator": check.validator})
    return identifier


@transaction.atomic
def party_add_address(
    *, party: Party, actor: User | None, kind: str, line1: str, city: str, country: str,
    line2: str = "", region: str = "", postal_code: str = "",
) -> Address:
    _require_firm_access(actor, party.firm_id, roles=FIRM_ROLES)
    country = validate_country(country, field="address country")
    if not line1.strip() or not city.strip():
        raise ValidationFailed("address: line1 and city are required", detail={"address": "incomplete"})
    region = validate_subdivision(region, country) if region else ""
    previous = list(party.addresses.filter(kind=kind).values("line1", "city", "country"))
    party.addresses.filter(kind=kind).delete()
    address = Address.objects.create(
        party=party, kind=kind, line1=line1.strip(), line2=line2, city=city.strip(), region=region,
        postal_code=postal_code, country=country,
    )
    record_event(subject=party, event_type="party.address_set", actor=actor,
                 detail={"kind": kind, "country": country, "replaced": bool(previous)})
    if previous:
        party.version += 1
        Party.objects.filter(pk=party.pk).update(version=party.version)
        _on_commit_hooks(party, "party_changed")
    return address


@transaction.atomic
def party_set_tax_residence(
    *, party: Party, actor: User | None, country: str, tin: str = "", no_tin_reason: str = "",
    no_tin_explanation: str = "",
) -> TaxResidence:
    _require_firm_access(actor, party.firm_id, roles=FIRM_ROLES)
    country = validate_country(country, field="tax residence")
    if tin:
        tin = validate_identifier("tax_id", country, tin, field="tin", entity=party.kind == PartyKind.ENTITY).value
        no_tin_reason = ""
    elif no_tin_reason not in ("A", "B", "C"):
        raise ValidationFailed(
            "tin: give a TIN, or a reason it is missing (A: not issued, B: unable to obtain, C: not required)",
            detail={"tin": "required"},
        )
    elif no_tin_reason == "B" and not no_tin_explanation.strip():
        raise ValidationFailed("no_tin_explanation: reason B needs an explanation", detail={"no_tin_explanation": "required"})
    previous = TaxResidence.objects.filter(party=party, country=country).first()
    residence, _ = TaxResidence.objects.update_or_create(
        party=party, country=country,
        defaults={"tin": tin, "no_tin_reason": no_tin_reason, "no_tin_explanation": no_tin_explanation},
    )
    record_event(subject=party, event_type="party.tax_residence_set", actor=actor,
                 detail={"country": country, "has_tin": bool(tin), "no_tin_reason": no_tin_reason})
    if previous is not None and previous.tin != tin:
        # A TIN change is a change in circumstances (a W-9 must be given again).
        party.version += 1
        Party.objects.filter(pk=party.pk).update(version=party.version)
        _on_commit_hooks(party, "party_changed")
    return residence


@transaction.atomic
def ownership_link_add(
    *, owner: Party, owned: Party, actor: User | None, percentage: Decimal | str | int = 0, role: str = "shareholder",
) -> OwnershipLink:
    _require_firm_access(actor, owned.firm_id, roles=FIRM_ROLES)
    if owner.firm_id != owned.firm_id:
        raise ValidationFailed("owner: must belong to the same firm as the entity it owns", detail={"owner": "firm"})
    if owned.kind != PartyKind.ENTITY:
        raise ValidationFailed("owned: only an entity can be owned or controlled", detail={"owned": "person"})
    if owner.pk == owned.pk:
        raise ValidationFailed("owner: an entity cannot own itself directly", detail={"owner": "self"})
    if role not in ControlRole.values:
        raise ValidationFailed(f"role: must be one of {ControlRole.values}", detail={"role": role})
    try:
        pct = Decimal(str(percentage))
    except InvalidOperation as exc:
        raise ValidationFailed(f"percentage: '{percentage}' is not a number", detail={"percentage": str(percentage)}) from exc
    if not Decimal("0") <= pct <= Decimal("100"):
        raise ValidationFailed("percentage: must be between 0 and 100", detail={"percentage": str(pct)})
    if role == ControlRole.SHAREHOLDER and pct == 0:
        raise ValidationFailed("percentage: a shareholder holds more than 0%", detail={"percentage": "0"})
    held = (
        OwnershipLink.objects.filter(owned=owned, role=ControlRole.SHAREHOLDER)
        .exclude(owner=owner)
        .aggregate(total=Sum("percentage"))["total"]
        or Decimal("0")
    )
    if role == ControlRole.SHAREHOLDER and held + pct > Decimal("100"):
        raise ValidationFailed(
            f"percentage: {owned.display_name} would be {held + pct}% owned (more than 100%)",
            detail={"percentage": str(pct), "already_held": str(held)},
        )
    link, _ = OwnershipLink.objects.update_or_create(
        owner=owner, owned=owned, role=role, defaults={"percentage": pct, "firm_id": owned.firm_id}
    )
    record_event(subject=owned, event_type="ownership.link_set", actor=actor,
                 detail={"owner": owner.pk, "percentage": str(pct), "role": role})
    _on_commit_hooks(owned, "ownership_changed")
    return link


@transaction.atomic
def ownership_link_remove(*, link: OwnershipLink, actor: User | None) -> None:
    _require_firm_access(actor, link.firm_id, roles=FIRM_ROLES)
    owned = link.owned
    record_event(subject=owned, event_type="ownership.link_removed", actor=actor,
                 detail={"owner": link.owner_id, "percentage": str(link.percentage), "role": link.role})
    link.delete()


def sniff_upload(head: bytes) -> str | None:
    """The content type the magic bytes claim (a first filter only: document_add sniffs the whole file)."""
    for magic, content_type in ALLOWED_UPLOADS.items():
        if head.startswith(magic):
            return content_type
    return None


@transaction.atomic
def document_add(
    *, party: Party | None, actor: User | None, doc_type: str, content: bytes, original_name: str = "",
    expires_on: dt.date | None = None, firm: Firm | None = None,
) -> Document:
    """Store an uploaded document. The type is decided by its content (PDF, PNG, JPEG), never by
    its name; the name is kept as data only; the size is capped. Without a party (an upload for a
    nested case creation, which attaches it) it belongs to `firm`."""
    from .models import DocumentType

    firm_id = party.firm_id if party is not None else firm.pk
    _require_firm_access(actor, firm_id, roles=FIRM_ROLES)
    if doc_type not in DocumentType.values:
        raise ValidationFailed(f"doc_type: must be one of {DocumentType.values}", detail={"doc_type": doc_type})
    if not content:
        raise ValidationFailed("file: the upload is empty", detail={"file": "empty"})
    if len(content) > MAX_UPLOAD_BYTES:
        raise ValidationFailed(f"file: larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB", detail={"file": "too_large"})
    try:
        content_type = documents.sniff(content)
    except documents.UnacceptableFile as exc:
        raise ValidationFailed(f"file: {exc}", detail={"file": [str(exc)]}) from exc
    digest = hashlib.sha256(content).hexdigest()
    document = Document(
        firm_id=firm_id, party=party, doc_type=doc_type, original_name=(original_name or "")[:255],
        content_type=content_type, size=len(content), sha256=digest, expires_on=expires_on, uploaded_by=actor,
    )
    stored = documents.store(content)
    document.file.save(stored.name, stored, save=False)
    document.save()
    record_event(subject=party if party is not None else document, event_type="document.added", actor=actor,
                 detail={"document": document.pk, "doc_type": doc_type, "sha256": digest, "size": len(content)})
    return document


@transaction.atomic
def document_open(*, document: Document, actor: User, purpose: str = "view") -> bytes:
    """The plain bytes of a document for a user who may see it (the firm's users, platform
    officers), with an audit event saying who opened it. Anyone else gets not-found."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise NotFound("not found")
    _require_firm_access(actor, document.firm_id, roles=FIRM_ROLES)
    content = documents.read(document)
    record_event(subject=document.party or document, event_type="document.viewed", actor=actor, firm=document.firm,
                 detail={"document": document.pk, "doc_type": document.doc_type, "purpose": purpose})
    return content


# --- Cases -----------------------------------------------------------------------------------


def _lock_case(case: OnboardingCase) -> OnboardingCase:
    return OnboardingCase.objects.select_for_update().select_related("party", "relationship").get(pk=case.pk)


def _lock_relationship(relationship_id: int) -> Relationship:
    return Relationship.objects.select_for_update().get(pk=relationship_id)


def _transition(case: OnboardingCase, method: str, *, actor: User | None, event: str, reason: str = "",
                detail: dict[str, Any] | None = None) -> OnboardingCase:
    before = case.state
    try:
        getattr(case, method)()
    except TransitionNotAllowed as exc:
        raise InvalidTransition(
            f"cannot {method.replace('_', ' ')} a case that is {before.replace('_', ' ')}",
            detail={"state": before, "action": method},
        ) from exc
    case.save()
    record_event(subject=case, event_type=event, actor=actor, from_state=before, to_state=case.state,
                 reason=reason, detail=detail or {})
    webhooks.emit(firm=case.firm_id, event_type="case.state_changed",
                  data={"case": case.pk, "party": case.party_id, "from": before, "to": case.state})
    return case


@transaction.atomic
def case_create(
    *, firm: Firm, party: Party, actor: User | None, jurisdiction: str | None = None, kind: str = CaseKind.ONBOARDING,
) -> OnboardingCase:
    _require_firm_access(actor, firm.pk, roles=ADVISOR_ROLES | {Role.OPERATIONS})
    if party.firm_id != firm.pk:
        raise NotFound("party not found")
    jurisdiction = validate_country(jurisdiction or firm.home_jurisdiction, field="jurisdiction")
    relationship, _ = Relationship.objects.get_or_create(firm=firm, party=party)
    if kind == CaseKind.ONBOARDING and OnboardingCase.objects.filter(
        party=party, kind=CaseKind.ONBOARDING
    ).exclude(state__in=[CaseState.REJECTED, CaseState.WITHDRAWN]).exists():
        raise ValidationFailed("party: already has an onboarding case", detail={"party": party.pk})
    case = OnboardingCase.objects.create(
        firm=firm, party=party, relationship=relationship, kind=kind, jurisdiction=jurisdiction,
        risk_level=relationship.risk_level, created_by=actor,
    )
    record_event(subject=case, event_type="case.created", actor=actor, to_state=case.state,
                 detail={"party": party.pk, "jurisdiction": jurisdiction, "kind": kind})
    return case


@transaction.atomic
def case_submit(*, case: OnboardingCase, actor: User | None) -> OnboardingCase:
    """Pin the rule packs in force now and hand the case to compliance. Screening, risk rating
    and tax determination run from the registered hooks after commit."""
    _require_firm_access(actor, case.firm_id, roles=ADVISOR_ROLES)
    case = _lock_case(case)
    resolved = resolve_policy_for(case)
    case.rule_pack_versions = resolved.packs
    case.policy = resolved.as_dict()
    case.submitted_by = actor
    case.submitted_at = timezone.now()
    _transition(case, "submit", actor=actor, event="case.submitted", detail={"rule_packs": resolved.packs})
    _on_commit_hooks(case, "submitted")
    return case


@transaction.atomic
def case_start_review(*, case: OnboardingCase, actor: User | None, reason: str = "") -> OnboardingCase:
    _require_officer(actor)
    case = _lock_case(case)
    if actor is not None and case.assigned_to_id is None:
        case.assigned_to, case.assigned_at = actor, timezone.now()  # whoever starts the review has it
    return _transition(case, "start_review", actor=actor, event="case.review_started", reason=reason)


@transaction.atomic
def case_assign(*, case: OnboardingCase, actor: User, assignee: User | None, reason: str = "") -> OnboardingCase:
    """Give an open case to an officer (assignee=actor: claim it; None: put it back in the queue).
    Audited with who had it before."""
    _require_officer(actor)
    if assignee is not None and not (assignee.is_platform_officer or assignee.is_superuser):
        raise ValidationFailed("assignee: only a compliance officer can work a case", detail={"assignee": "not an officer"})
    case = _lock_case(case)
    if case.state not in OPEN_CASE_STATES:
        raise InvalidTransition(f"a case that is {case.get_state_display().lower()} cannot be assigned",
                                detail={"state": case.state, "action": "assign"})
    before = case.assigned_to
    if (before.pk if before else None) == (assignee.pk if assignee else None):
        return case
    case.assigned_to, case.assigned_at = assignee, (timezone.now() if assignee else None)
    OnboardingCase.objects.filter(pk=case.pk).update(assigned_to=assignee, assigned_at=case.assigned_at)
    event = "case.claimed" if assignee is not None and assignee.pk == actor.pk else (
        "case.assigned" if assignee is not None else "case.unassigned")
    record_event(subject=case, event_type=event, actor=actor, reason=reason,
                 detail={"from": before.get_username() if before else "", "to": assignee.get_username() if assignee else ""})
    return case


@transaction.atomic
def case_request_information(*, case: OnboardingCase, actor: User | None, reason: str) -> OnboardingCase:
    _require_officer(actor)
    if not reason.strip():
        raise ValidationFailed("reason: say what information is needed", detail={"reason": "required"})
    case = _lock_case(case)
    return _transition(case, "request_information", actor=actor, event="case.information_requested", reason=reason)


@transaction.atomic
def case_set_risk(*, case: OnboardingCase, risk_level: str, actor: User | None, reason: str = "",
                  detail: dict[str, Any] | None = None) -> OnboardingCase:
    """Set the case's risk rating (the compliance risk model calls this). A submitted case is
    re-pinned to the policy for its new risk level, with the same pack versions."""
    if risk_level not in RISK_LEVELS:
        raise ValidationFailed(f"risk_level: must be one of {RISK_LEVELS}", detail={"risk_level": risk_level})
    case = _lock_case(case)
    before = case.risk_level
    if before == risk_level:
        return case
    case.risk_level = risk_level
    if case.is_pinned:
        from .rules.packs import resolve
        from .selectors import pinned_pack_versions

        pinned = pinned_pack_versions(case.rule_pack_versions)
        as_of = dt.date.fromisoformat(case.policy.get("as_of", timezone.localdate().isoformat()))
        case.policy = resolve(pinned, jurisdiction=case.jurisdiction, client_type=case.party.client_type,
                              risk_level=risk_level, as_of=as_of).as_dict()
    case.save(update_fields=["risk_level", "policy", "updated_at"])
    record_event(subject=case, event_type="case.risk_rated", actor=actor, reason=reason,
                 detail={"from": before, "to": risk_level, **(detail or {})})
    return case


@transaction.atomic
def case_acknowledge_flag(*, case: OnboardingCase, actor: User, code: str, note: str) -> OnboardingCase:
    """An officer has reviewed a flag (such as a circular holding) and accepts it."""
    _require_officer(actor)
    if not note.strip():
        raise ValidationFailed("note: say why the flag is acceptable", detail={"note": "required"})
    case = _lock_case(case)
    if code not in case.acknowledged_flags:
        case.acknowledged_flags = [*case.acknowledged_flags, code]
        case.save(update_fields=["acknowledged_flags", "updated_at"])
    record_event(subject=case, event_type="case.flag_acknowledged", actor=actor, reason=note, detail={"code": code})
    return case


def _approval_level(case: OnboardingCase) -> str:
    return case.policy.get("policy", {}).get("approval", {}).get("level", "single")


@transaction.atomic
def case_approve(*, case: OnboardingCase, actor: User, reason: str = "") -> OnboardingCase:
    """Approve a case in review. Nothing may be outstanding. Where the pinned policy asks for
    four eyes, the first approval moves the case to awaiting a second approval by a different
    officer, who is also not the submitter."""
    _require_officer(actor)
    case = _lock_case(case)
    if case.state not in (CaseState.IN_REVIEW, CaseState.AWAITING_SECOND_APPROVAL):
        raise InvalidTransition(f"cannot approve a case that is {case.state.replace('_', ' ')}",
                                detail={"state": case.state, "action": "approve"})
    if actor is not None and case.submitted_by_id == actor.pk:
        raise FourEyesViolation("the approver cannot be the person who submitted the case")
    outstanding = case_outstanding(case)
    if outstanding:
        raise RequirementsOutstanding(
            f"{len(outstanding)} requirement(s) outstanding", detail=[item.as_dict() for item in outstanding]
        )
    if _approval_level(case) == "four_eyes":
        if case.state == CaseState.IN_REVIEW:
            case.first_approver = actor
            return _transition(case, "approve_first", actor=actor, event="case.first_approval", reason=reason)
        if actor is not None and case.first_approver_id == actor.pk:
            raise FourEyesViolation("the second approval must come from a different officer")
    case.approved_by = actor
    case.decided_at = timezone.now()
    _transition(case, "approve", actor=actor, event="case.approved", reason=reason,
                detail={"first_approver": case.first_approver_id})
    _relationship_on_approval(case, actor)
    _on_commit_hooks(case, "approved")
    return case


def _relationship_on_approval(case: OnboardingCase, actor: User | None) -> None:
    relationship = _lock_relationship(case.relationship_id)
    before = relationship.state
    if relationship.state == RelationshipState.PENDING:
        relationship.activate()
    elif relationship.state == RelationshipState.UNDER_REVIEW:
        relationship.complete_review()
    months = case.policy.get("policy", {}).get("periodic_review_months", {}).get(case.risk_level, 36)
    today = timezone.localdate()
    relationship.risk_level = case.risk_level
    relationship.approved_at = timezone.now()
    relationship.next_review_due = _add_months(today, int(months))
    relationship.save()
    record_event(subject=relationship, event_type="relationship.approved", actor=actor, from_state=before,
                 to_state=relationship.state, detail={"case": case.pk, "next_review_due": str(relationship.next_review_due)})
    webhooks.emit(firm=case.firm_id, event_type="relationship.activated",
                  data={"relationship": relationship.pk, "party": relationship.party_id, "case": case.pk,
                        "state": relationship.state, "next_review_due": relationship.next_review_due})


def _add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")


@transaction.atomic
def case_reject(*, case: OnboardingCase, actor: User | None, reason: str) -> OnboardingCase:
    _require_officer(actor)
    if not reason.strip():
        raise ValidationFailed("reason: a rejection needs a reason", detail={"reason": "required"})
    case = _lock_case(case)
    case.decided_at = timezone.now()
    _transition(case, "reject", actor=actor, event="case.rejected", reason=reason)
    if case.kind != CaseKind.ONBOARDING:
        relationship_suspend(relationship=case.relationship, actor=actor, reason=f"review case {case.pk} rejected")
    _on_commit_hooks(case, "rejected")
    return case


@transaction.atomic
def case_withdraw(*, case: OnboardingCase, actor: User | None, reason: str = "") -> OnboardingCase:
    _require_firm_access(actor, case.firm_id, roles=ADVISOR_ROLES)
    case = _lock_case(case)
    return _transition(case, "withdraw", actor=actor, event="case.withdrawn", reason=reason)


# --- Relationships ---------------------------------------------------------------------------


def _relationship_transition(relationship: Relationship, method: str, *, actor: User | None, reason: str = "",
                             detail: dict[str, Any] | None = None) -> Relationship:
    relationship = _lock_relationship(relationship.pk)
    before = relationship.state
    try:
        getattr(relationship, method)()
    except TransitionNotAllowed as exc:
        raise InvalidTransition(f"cannot {method.replace('_', ' ')} a relationship that is {before}",
                                detail={"state": before, "action": method}) from exc
    relationship.save()
    record_event(subject=relationship, event_type=f"relationship.{method}", actor=actor, from_state=before,
                 to_state=relationship.state, reason=reason, detail=detail or {})
    return relationship


@transaction.atomic
def relationship_open_review(*, relationship: Relationship, actor: User | None, reason: str,
                             kind: str = CaseKind.PERIODIC_REVIEW) -> OnboardingCase:
    """Open a review case through the same workflow; the relationship stays usable while it runs."""
    relationship = _lock_relationship(relationship.pk)
    existing = relationship.cases.filter(kind__in=[CaseKind.PERIODIC_REVIEW, CaseKind.EVENT_REVIEW]).exclude(
        state__in=[CaseState.APPROVED, CaseState.REJECTED, CaseState.WITHDRAWN]
    ).first()
    if existing is not None:
        return existing  # idempotent: one open review at a time
    if relationship.state == RelationshipState.ACTIVE:
        _relationship_transition(relationship, "start_review", actor=actor, reason=reason)
    case = OnboardingCase.objects.create(
        firm_id=relationship.firm_id, party_id=relationship.party_id, relationship=relationship, kind=kind,
        jurisdiction=relationship.cases.order_by("pk").values_list("jurisdiction", flat=True).first()
        or relationship.firm.home_jurisdiction,
        risk_level=relationship.risk_level, created_by=actor,
    )
    record_event(subject=case, event_type="case.created", actor=actor, to_state=case.state, reason=reason,
                 detail={"kind": kind, "relationship": relationship.pk})
    return case


@transaction.atomic
def relationship_set_risk(*, relationship: Relationship, risk_level: str, next_review_due: dt.date | None,
                          actor: User | None, detail: dict[str, Any] | None = None) -> Relationship:
    """Record a new risk rating of the relationship and the review date it implies (the
    compliance risk model calls this)."""
    if risk_level not in RISK_LEVELS:
        raise ValidationFailed(f"risk_level: must be one of {RISK_LEVELS}", detail={"risk_level": risk_level})
    relationship = _lock_relationship(relationship.pk)
    before = (relationship.risk_level, relationship.next_review_due)
    relationship.risk_level = risk_level
    relationship.next_review_due = next_review_due
    relationship.save(update_fields=["risk_level", "next_review_due"])
    record_event(subject=relationship, event_type="relationship.risk_rated", actor=actor,
                 detail={"from": before[0], "to": risk_level, "previous_review_due": str(before[1]),
                         "next_review_due": str(next_review_due), **(detail or {})})
    return relationship


@transaction.atomic
def relationship_suspend(*, relationship: Relationship, actor: User | None, reason: str) -> Relationship:
    _require_officer(actor)
    return _relationship_transition(relationship, "suspend", actor=actor, reason=reason)


@transaction.atomic
def relationship_reinstate(*, relationship: Relationship, actor: User | None, reason: str) -> Relationship:
    _require_officer(actor)
    return _relationship_transition(relationship, "reinstate", actor=actor, reason=reason)


@transaction.atomic
def relationship_close(*, relationship: Relationship, actor: User | None, reason: str) -> Relationship:
    _require_firm_access(actor, relationship.firm_id, roles={Role.FIRM_ADMIN, Role.COMPLIANCE_OFFICER})
    return _relationship_transition(relationship, "close", actor=actor, reason=reason)


def relationship_problems(relationship: Relationship | None) -> list[str]:
    """Why a relationship does not let account-level actions through (empty when it does)."""
    if relationship is None:
        return ["the client has no relationship with this firm"]
    problems: list[str] = []
    if relationship.state not in ACTIVE_RELATIONSHIP_STATES:
        problems.append(f"the relationship is {relationship.get_state_display().lower()}, not active")
    if relationship.next_review_due and relationship.next_review_due < timezone.localdate() - dt.timedelta(days=90):
        problems.append(f"the periodic review was due on {relationship.next_review_due} and is more than 90 days overdue")
    for _name, check in sorted(registry.activation_checks().items()):
        problems.extend(check(relationship))
    return problems


def assert_relationship_active(*, party: Party, firm: Firm | int) -> Relationship:
    """The one gate for every account-level action (activate, fund, subscribe, trade): the
    owner's relationship must be approved, active and currently documented."""
    firm_id = firm if isinstance(firm, int) else firm.pk
    relationship = Relationship.objects.filter(firm_id=firm_id, party_id=party.pk).first()
    problems = relationship_problems(relationship)
    if problems:
        raise RelationshipNotActive(
            f"{party.display_name}: " + "; ".join(problems), detail={"party": party.pk, "reasons": problems}
        )
    return relationship


# --- Rule packs ------------------------------------------------------------------------------


@transaction.atomic
def rulepacks_load(*, directory: str | Path | None = None, actor: User | None = None) -> list[dict[str, Any]]:
    """Load every pack file; a file whose content changed becomes a new version. All files are
    validated first: one bad file loads nothing."""
    from .models import RulePack
    from .rules.packs import PACK_DIR, checksum, read_pack_dir, validate_pack

    files = read_pack_dir(Path(directory) if directory is not None else PACK_DIR)
    for pack in files:
        validate_pack(pack)
    report = []
    for pack in files:
        digest = checksum(pack.content)
        latest = RulePack.objects.filter(code=pack.code).order_by("-version").first()
        if latest is not None and latest.checksum == digest:
            report.append({"code": pack.code, "version": latest.version, "created": False})
            continue
        created = RulePack.objects.create(
            code=pack.code, version=(latest.version + 1) if latest else 1, scope=pack.content["scope"],
            name=pack.content["name"], jurisdictions=pack.content["jurisdictions"],
            effective_from=pack.content["effective_from"], content=pack.content, source_file=pack.path,
            checksum=digest, created_by=actor,
        )
        record_event(subject=created, event_type="rulepack.loaded", actor=actor, firm=None,
                     detail={"code": created.code, "version": created.version, "file": pack.path})
        report.append({"code": pack.code, "version": created.version, "created": True})
    return report


@transaction.atomic
def rulepack_new_version(*, code: str, content: dict[str, Any], actor: User | None, reason: str) -> Any:
    """An officer's edit: validated like a file, stored as the next version; earlier versions
    stay for the cases pinned to them."""
    from .models import RulePack
    from .rules.packs import PackFile, checksum, validate_pack

    _require_officer(actor)
    if not reason.strip():
        raise ValidationFailed("reason: say why the rule pack changes", detail={"reason": "required"})
    validate_pack(PackFile(path=f"{code} (edited)", content=content))
    if content["code"] != code:
        raise ValidationFailed("code: the pack code cannot change", detail={"code": content["code"]})
    latest = RulePack.objects.select_for_update().filter(code=code).order_by("-version").first()
    if latest is None:
        raise NotFound(f"rule pack {code} not found")
    pack = RulePack.objects.create(
        code=code, version=latest.version + 1, scope=content["scope"], name=content["name"],
        jurisdictions=content["jurisdictions"], effective_from=content["effective_from"], content=content,
        source_file=latest.source_file, checksum=checksum(content), created_by=actor,
    )
    record_event(subject=pack, event_type="rulepack.edited", actor=actor, firm=None, reason=reason,
                 detail={"code": code, "version": pack.version, "previous": latest.version})
    return pack
