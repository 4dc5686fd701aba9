"""Words for codes: audit event types, states and the subjects an audit trail gathers.

Every page, export and PDF that shows an audit event or a state reads its words here, never the
code. Onboarding holds its own labels; the apps above it (compliance, tax, accounts, trading)
register theirs when they load, as they register requirement providers, so onboarding imports
none of them. The same registry lets those apps name the audit subjects (a tax form, a screening
alert) that belong to a case's parties, so the case's audit trail includes them.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db.models import Q

EVENT_LABELS: dict[str, str] = {
    "case.created": "Case opened",
    "case.submitted": "Submitted to compliance",
    "case.review_started": "Review started",
    "case.information_requested": "Information requested from the advisor",
    "case.first_approval": "First approval given (a second officer must approve)",
    "case.approved": "Approved",
    "case.rejected": "Rejected",
    "case.withdrawn": "Withdrawn",
    "case.risk_rated": "Risk rated",
    "case.risk_unrated": "Shown as not yet rated (the old default was no rating)",
    "case.flag_acknowledged": "Review flag acknowledged",
    "case.claimed": "Claimed by an officer",
    "case.assigned": "Assigned to an officer",
    "case.unassigned": "Returned to the queue",
    "case.state_changed": "Case state changed",
    "case.corrected": "Data corrected by an officer",
    "party.created": "Client or related party recorded",
    "party.updated": "Client details changed",
    "party.address_set": "Address recorded",
    "party.identifier_added": "Identifier recorded",
    "party.tax_residence_set": "Tax residence recorded",
    "party.sensitive_revealed": "Sensitive data revealed (audited reveal)",
    "party.changed_in_admin": "Client details corrected in the admin",
    "party.created_in_admin": "Client recorded in the admin",
    "party.related_changed_in_admin": "Related records corrected in the admin",
    "party.corrected": "Data corrected by an officer",
    "ownership.link_set": "Owner or controller recorded",
    "ownership.link_removed": "Owner or controller removed",
    "document.added": "Document uploaded",
    "document.viewed": "Document viewed",
    "document.downloaded": "Document downloaded",
    "relationship.approved": "Relationship activated",
    "relationship.risk_rated": "Relationship risk rated",
    "relationship.risk_unrated": "Relationship shown as not yet rated (the old default was no rating)",
    "relationship.review_overdue": "Periodic review overdue",
    "rulepack.loaded": "Rule pack loaded",
    "rulepack.edited": "Rule pack edited",
    "sensitive.revealed": "Sensitive data revealed (audited reveal)",
    "user.locked_out": "Sign-in locked after repeated failures",
    "user.otp_failed": "Wrong authentication code",
    "user.otp_locked_out": "Authentication codes refused after repeated wrong codes",
    "user.otp_refused_locked": "Authentication code refused (locked)",
    "user.otp_verified": "Second factor passed",
    "user.totp_enrolled": "Authenticator app enrolled",
    "api_token.created": "API token created",
    "api_token.revoked": "API token revoked",
    "webhook.registered": "Webhook registered",
    "webhook.secret_rotated": "Webhook secret rotated",
}

# Words for states that appear in the audit trail's from/to columns, by subject type.
STATE_LABELS: dict[str, dict[str, str]] = {}

_subject_providers: dict[str, Callable[[list[int]], Q]] = {}
# subject type -> (ids) -> {id: what the record is, in words}, for the "About" of an audit trail
_subject_namers: dict[str, Callable[[list[str]], dict[str, str]]] = {}
# Audit subjects whose reasons are for compliance only (a screening alert's note names list
# entries): a firm's users see the event in words, never its reason.
CONFIDENTIAL_SUBJECTS: set[str] = set()
# Event types (by prefix) whose reason and detail are for compliance only, whatever their subject: a
# screening run on a party records the list versions it used and the hits it found.
CONFIDENTIAL_EVENT_PREFIXES: set[str] = set()


def register_event_labels(labels: dict[str, str]) -> None:
    EVENT_LABELS.update(labels)


def register_state_labels(subject_type: str, choices: Iterable[tuple[str, str]]) -> None:
    STATE_LABELS.setdefault(subject_type, {}).update(dict(choices))


# Other codes shown on pages (a reconciliation break's kind ...), by table: table -> code -> words.
CODE_LABELS: dict[str, dict[str, str]] = {}


def register_code_labels(table: str, labels: dict[str, str]) -> None:
    CODE_LABELS.setdefault(table, {}).update(labels)


def code_label(table: str, code: str) -> str:
    """The words for `code` in `table` (registered by the app that owns the codes), else the code humanized."""
    return (CODE_LABELS.get(table) or {}).get(code) or humanize(code)


def register_audit_subjects(name: str, provider: Callable[[list[int]], Q]) -> None:
    """`provider(party_ids)` returns a filter on AuditEvent selecting the events about records of
    these parties that live in another app (their tax forms, their screening alerts)."""
    _subject_providers[name] = provider


def register_subject_names(subject_type: str, namer: Callable[[list[str]], dict[str, str]]) -> None:
    """`namer(ids)` says what each record of `subject_type` is ("Form W-8BEN-E of Acme Ltd")."""
    _subject_namers[subject_type] = namer


def subject_names(events: Iterable) -> dict[tuple[str, str], str]:
    """What the records of these events are, in words, one query per registered subject type."""
    wanted: dict[str, set[str]] = {}
    for event in events:
        if event.subject_type in _subject_namers:
            wanted.setdefault(event.subject_type, set()).add(event.subject_id)
    names: dict[tuple[str, str], str] = {}
    for subject_type, ids in wanted.items():
        for pk, name in _subject_namers[subject_type](sorted(ids)).items():
            names[(subject_type, str(pk))] = name
    return names


def register_confidential_subject(subject_type: str) -> None:
    CONFIDENTIAL_SUBJECTS.add(subject_type)


def register_confidential_events(prefix: str) -> None:
    CONFIDENTIAL_EVENT_PREFIXES.add(prefix)


def is_confidential(event) -> bool:
    """Whether an audit event's reason and detail are for compliance only (see the two registries)."""
    return event.subject_type in CONFIDENTIAL_SUBJECTS or event.event_type.startswith(tuple(CONFIDENTIAL_EVENT_PREFIXES))


def audit_subjects(party_ids: list[int]) -> Q:
    query = Q(pk__in=[])
    for provider in _subject_providers.values():
        query |= provider(party_ids)
    return query


DOCUMENT_KINDS = {"application/pdf": "PDF document", "image/png": "PNG image", "image/jpeg": "JPEG image"}


def document_kind(content_type: str) -> str:
    """A stored file's type in words: "PDF document", "JPEG image"; "File" when unknown."""
    if not content_type:
        return "File"
    return DOCUMENT_KINDS.get(content_type.split(";")[0].strip().lower(), "File")


def humanize(code: str) -> str:
    """'party.tax_residence_set' -> 'Tax residence set' for a code nobody has labelled yet."""
    tail = code.rsplit(".", 1)[-1] if code else ""
    text = tail.replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else ""


def event_label(event_type: str) -> str:
    return EVENT_LABELS.get(event_type) or humanize(event_type)


def state_label(subject_type: str, state: str) -> str:
    if not state:
        return ""
    labels = STATE_LABELS.get(subject_type) or {}
    if state in labels:
        return str(labels[state])
    for table in STATE_LABELS.values():  # the same code means the same in every table
        if state in table:
            return str(table[state])
    return humanize(state)


def describe(event) -> str:
    """One audit event in words: 'Approved (In review → Approved): reason'."""
    text = event_label(event.event_type)
    before = state_label(event.subject_type, event.from_state)
    after = state_label(event.subject_type, event.to_state)
    if before and after and before != after:
        text += f" ({before} → {after})"
    elif after and not before and after.lower() not in text.lower():
        text += f" ({after})"
    detail = getattr(event, "detail", None) or {}
    if event.event_type in ("document.viewed", "document.added") and isinstance(detail, dict) \
            and detail.get("doc_type"):
        from .models import DocumentType

        kinds = dict(DocumentType.choices)
        text += f": {kinds.get(str(detail['doc_type'])) or humanize(str(detail['doc_type']))}"
    return text


def register_onboarding_states() -> None:
    from .models import CaseState, RelationshipState

    register_state_labels("onboarding.onboardingcase", CaseState.choices)
    register_state_labels("onboarding.relationship", RelationshipState.choices)


CASE_ACTION_LABELS = {
    "submit": "Submit to compliance",
    "withdraw": "Withdraw the case",
    "start_review": "Start the review",
    "request_information": "Request information from the advisor",
    "approve": "Approve",
    "reject": "Reject",
}


def case_action_label(action: str, case=None) -> str:
    """A transition's button text; approval says which approval it is where four eyes apply."""
    if action == "approve" and case is not None:
        if case.state == "awaiting_second_approval":
            return "Give the second approval"
        if (case.policy or {}).get("policy", {}).get("approval", {}).get("level") == "four_eyes":
            return "Give the first approval (a second officer approves after you)"
    return CASE_ACTION_LABELS.get(action) or humanize(action)


def _words(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None or value == "":
        return "—"
    if isinstance(value, (list, tuple)):
        return ", ".join(_words(v) for v in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{humanize(str(k))}: {_words(v)}" for k, v in value.items())
    return humanize(str(value)) if isinstance(value, str) and "_" in value and " " not in value else str(value)


def policy_summary(pinned: dict) -> list[dict]:
    """The pinned policy as rows a reviewer reads: topic, what it requires in words, and the rule
    and source it comes from."""
    policy = (pinned or {}).get("policy", {})
    sources = (pinned or {}).get("key_sources", {})
    return [{"topic": humanize(key), "value": _words(value), "source": sources.get(key, "")}
            for key, value in sorted(policy.items())]
