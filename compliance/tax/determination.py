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


@dataclass(frozen=True)
class UsStatus:
    """Whether a party is a US person, and on what basis (for the officer and the audit)."""

    us_person: bool
    basis: str  # citizenship | lawful_permanent_resident | substantial_presence | residence | tax_residence | organisation | ""
    source: str


def us_person_status(
    *, kind: str, nationalities: list[str], residence_country: str, incorporation_country: str,
    tax_residences: list[str], lawful_permanent_resident: bool = False, substantial_presence: bool = False,
    rules: dict[str, Any] | None = None,
) -> UsStatus:
    """US-person status under IRC 7701(a)(30): an individual by citizenship, a green card
    (7701(b)(1)(A)(i)), substantial presence (7701(b)(1)(A)(ii), (b)(3)), living in the United
    States or declaring US tax residence; an entity by place of organisation (7701(a)(4)).
    "United States" means the States and DC (7701(a)(9)): a territory corporation is foreign,
    and a non-citizen resident of a territory is not a US person."""
    table = (rules or rulefiles.form_rules())["us_person"]
    if kind != "individual":
        if (incorporation_country or "").upper() in set(table["organisation_codes"]):
            return UsStatus(True, "organisation", "IRC 7701(a)(4), (a)(30)(C)")
        return UsStatus(False, "", "IRC 7701(a)(4), (a)(5), (a)(9)")
    if {c.upper() for c in nationalities} & set(table["citizenship_codes"]):
        return UsStatus(True, "citizenship", "IRC 7701(a)(30)(A) (citizen)")
    if lawful_permanent_resident:
        return UsStatus(True, "lawful_permanent_resident", "IRC 7701(a)(30)(A), 7701(b)(1)(A)(i) (green card)")
    if substantial_presence:
        return UsStatus(True, "substantial_presence", "IRC 7701(a)(30)(A), 7701(b)(1)(A)(ii), 7701(b)(3)")
    if (residence_country or "").upper() in set(table["residence_codes"]):
        return UsStatus(True, "residence", "IRC 7701(b)(1)(A) (resident of the United States)")
    if {c.upper() for c in tax_residences} & set(table["residence_codes"]):
        return UsStatus(True, "tax_residence", "IRC 7701(b)(1)(A) (declared US tax residence)")
    return UsStatus(False, "", "IRC 7701(a)(30), 7701(b)(1)(B)")


def is_us_person(
    *, kind: str, nationalities: list[str], residence_country: str, incorporation_country: str,
    tax_residences: list[str], lawful_permanent_resident: bool = False, substantial_presence: bool = False,
    rules: dict[str, Any] | None = None,
) -> bool:
    return us_person_status(
        kind=kind, nationalities=nationalities, residence_country=residence_country,
        incorporation_country=incorporation_country, tax_residences=tax_residences,
        lawful_permanent_resident=lawful_permanent_resident, substantial_presence=substantial_presence, rules=rules,
    ).us_person


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


def crs_jurisdiction(country: str, on: dt.date | None = None) -> dict[str, Any] | None:
    """The row of the CRS participating-jurisdiction list (crs_jurisdictions.yaml) for `country`
    when it is participating on `on` (today when None), else None."""
    row = rulefiles.crs_jurisdictions()["jurisdictions"].get((country or "").upper())
    if row is None:
        return None
    on = on or dt.date.today()
    if row["effective_from"] > on or (row.get("effective_to") and row["effective_to"] < on):
        return None
    return row


def is_crs_jurisdiction(country: str, rules: dict[str, Any] | None = None, *, on: dt.date | None = None) -> bool:
    """A booking centre in a CRS participating jurisdiction on `on` (the authoritative list in
    crs_jurisdictions.yaml; rule packs read it and do not override it)."""
    return crs_jurisdiction(country, on) is not None


def build_facts(
    *, ref: str, name: str, kind: str, client_type: str, booking_centre: str, on: dt.date | None = None,
    nationalities: list[str] | tuple[str, ...] = (), residence_country: str = "", incorporation_country: str = "",
    tax_residences: list[str] | tuple[str, ...] = (), lawful_permanent_resident: bool = False,
    substantial_presence: bool = False, listed: bool = False, regulated_fi: bool = False,
    effectively_connected: bool = False, classification: dict[str, Any] | None = None,
    controlling_persons: tuple[PersonRef, ...] = (), rules: dict[str, Any] | None = None,
) -> PartyFacts:
    """The facts the form rules test, from what is known of a party: US status (7701), entity
    classification (defaults by client type, or `classification` from a valid self-certification),
    and whether the booking centre participates in CRS on `on` (crs_jurisdictions.yaml)."""
    rules = rules or rulefiles.form_rules()
    us = us_person_status(kind=kind, nationalities=list(nationalities), residence_country=residence_country,
                          incorporation_country=incorporation_country, tax_residences=list(tax_residences),
                          lawful_permanent_resident=lawful_permanent_resident,
                          substantial_presence=substantial_presence, rules=rules)
    cls: dict[str, Any] = {}
    if kind == "entity":
        cls = classify_entity(client_type=client_type, listed=listed, regulated_fi=regulated_fi, rules=rules)
        cls.update(classification or {})
    return PartyFacts(
        ref=ref, name=name, kind=kind, client_type=client_type, us_person=us.us_person,
        booking_centre=(booking_centre or "").upper(),
        booking_centre_crs=is_crs_jurisdiction(booking_centre, on=on),
        intermediary=bool(cls.get("intermediary")),
        effectively_connected=effectively_connected,
        passive_nfe=cls.get("crs") == "passive_nfe",
        chapter3_status=cls.get("ch3", ""), chapter4_status=cls.get("ch4", ""),
        crs_classification=cls.get("crs", ""), controlling_persons=controlling_persons if kind == "entity" else (),
    )


def _matches(when: dict[str, Any], facts: dict[str, Any]) -> bool:
    for key, expected in when.items():
        actual = facts.get(key)
        if isinstance(expected, list):
            if actual not in expected:
                return False
        elif actual != expected:
            return False
    return True


def _role_words(code: str) -> str:
    """CtrlgPersonType in words ('CRS801' -> 'controlling person of a legal person: control by ownership')."""
    labels: dict[str, str] = rulefiles.form_rules().get("controlling_persons", {}).get("type_labels", {})
    return labels.get(code, code) if code else "controlling person"


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
                        reason=f"{rule['reason']} ({person.name}, {_role_words(person.role)} of {facts.name})",
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
