"""Which tax documents a party needs: plain Python over dataclasses, rules as data
(form_rules.yaml, or a rule pack's `tax_forms`)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from . import rulefiles


@dataclass(frozen=True)
class PersonRef:
    """A controlling person of an entity: `ref` is how callers find them again (e.g. party id)."""

    ref: str
    name: str
    role: str = ""


@dataclass(frozen=True)
class PartyFacts:
    ref: str
    name: str
    kind: str  # individual | entity
    client_type: str
    us_person: bool
    booking_centre: str
    booking_centre_crs: bool
    intermediary: bool = False
    effectively_connected: bool = False
    passive_nfe: bool = False
    chapter3_status: str = ""
    chapter4_status: str = ""
    crs_classification: str = ""
    controlling_persons: tuple[PersonRef, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "client_type": self.client_type,
            "us_person": self.us_person,
            "booking_centre": self.booking_centre,
            "booking_centre_crs": self.booking_centre_crs,
            "intermediary": self.intermediary,
            "effectively_connected": self.effectively_connected,
            "passive_nfe": self.passive_nfe,
        }


@dataclass(frozen=True)
class RequiredForm:
    code: str  # rule code, e.g. "tax.w8ben"
    form: str  # form type, e.g. "W8BEN"
    subject_ref: str  # whose form it is (the party, or a controlling person)
    subject_name: str
    reason: str
    source: str
    for_ref: str = ""  # for controlling-person forms: the entity's ref
    detail: dict[str, Any] = field(default_factory=dict)


def is_us_person(
    *, kind: str, nationalities: list[str], residence_country: str, incorporation_country: str,
    tax_residences: list[str], rules: dict[str, Any] | None = None,
) -> bool:
    codes = set((rules or rulefiles.form_rules())["us_person"]["us_codes"])
    if kind == "individual":
        return bool(codes & {c.upper() for c in nationalities}) or residence_country.upper() in codes or bool(
            codes & {c.upper() for c in tax_residences}
        )
    return incorporation_country.upper() in codes


def classify_entity(
    *, client_type: str, listed: bool = False, regulated_fi: bool = False, rules: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Default chapter 3 / chapter 4 / CRS status and intermediary flag for an entity."""
    table = (rules or rulefiles.form_rules())["entity_classification"]
    result = dict(table["by_client_type"].get(client_type, {"ch3": "corporation", "ch4": "passive_nffe",
                                                             "crs": "passive_nfe", "intermediary": False}))
    if listed:
        result.update(table["overrides"]["listed"])
    if regulated_fi:
        result.update(table["overrides"]["regulated_fi"])
    return result


def is_crs_jurisdiction(country: str, rules: dict[str, Any] | None = None) -> bool:
    return (country or "").upper() in set((rules or rulefiles.form_rules())["crs_jurisdictions"]["countries"])


def _matches(when: dict[str, Any], facts: dict[str, Any]) -> bool:
    for key, expected in when.items():
        actual = facts.get(key)
        if isinstance(expected, list):
            if actual not in expected:
                return False
        elif actual != expected:
            return False
    return True


def _in_force(rule: dict[str, Any], on: dt.date | None) -> bool:
    start = rule.get("effective_from")
    if on is None or not start:
        return True
    if isinstance(start, str):
        start = dt.date.fromisoformat(start)
    return start <= on


def determine_forms(facts: PartyFacts, rules: list[dict[str, Any]] | None = None, *,
                    on: dt.date | None = None) -> list[RequiredForm]:
    """The documents `facts` requires on `on` (rules not yet in force are skipped), one per
    (rule, subject), in rule order."""
    rules = rules if rules is not None else rulefiles.form_rules()["tax_forms"]
    fact_map = facts.as_dict()
    required: list[RequiredForm] = []
    for rule in rules:
        if not _in_force(rule, on) or not _matches(rule.get("when") or {}, fact_map):
            continue
        if rule.get("per") == "controlling_person":
            for person in facts.controlling_persons:
                required.append(
                    RequiredForm(
                        code=rule["code"],
                        form=rule["form"],
                        subject_ref=person.ref,
                        subject_name=person.name,
                        reason=f"{rule['reason']} ({person.name}, {person.role or 'controlling person'} of {facts.name})",
                        source=rule["source"],
                        for_ref=facts.ref,
                        detail={"role": person.role},
                    )
                )
            continue
        detail: dict[str, Any] = {}
        if rule["form"] == "W8BENE":
            detail = {"chapter3_status": facts.chapter3_status, "chapter4_status": facts.chapter4_status}
        if rule["form"] == "CRS_ENT":
            detail = {"crs_classification": facts.crs_classification}
        required.append(
            RequiredForm(
                code=rule["code"],
                form=rule["form"],
                subject_ref=facts.ref,
                subject_name=facts.name,
                reason=rule["reason"],
                source=rule["source"],
                detail=detail,
            )
        )
    return required
