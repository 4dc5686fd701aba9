"""The requirement evaluator: given a resolved policy and the facts of a case, list everything
still outstanding, each with a reason a person can act on. Plain Python, no ORM; the service
layer builds the facts in a few queries (`onboarding.selectors.case_facts`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..requirements import Outstanding

FIELD_LABELS = {
    "given_names": "given names",
    "family_name": "family name",
    "legal_name": "legal name",
    "date_of_birth": "date of birth",
    "date_of_incorporation": "date of incorporation",
    "residence_country": "country of residence",
    "country_of_incorporation": "country of incorporation",
    "nationalities": "nationality",
    "residential_address": "residential address",
    "registered_address": "registered office address",
    "business_address": "principal place of business",
    "mailing_address": "mailing address",
    "identity_number": "passport or national identity number",
    "passport": "passport number",
    "tax_id": "tax identification number",
    "tax_residence": "tax residence",
    "lei": "LEI",
    "registration_number": "registration number",
    "source_of_wealth": "source of wealth",
    "source_of_funds": "source of funds",
    "email": "e-mail address",
    "phone": "phone number",
}
CONTROL_ROLES = {"director", "senior_manager", "general_partner", "trustee", "settlor", "protector"}


@dataclass
class PartyFacts:
    id: int
    name: str
    kind: str  # person | entity
    client_type: str
    present_fields: set[str] = field(default_factory=set)
    document_types: set[str] = field(default_factory=set)
    is_pep: bool = False
    countries: set[str] = field(default_factory=set)  # residence, nationality, incorporation
    is_listed: bool = False
    is_regulated_fi: bool = False
    incorporation_country: str = ""


@dataclass
class RelatedParty:
    facts: PartyFacts
    effective: Decimal  # percent of the client
    path_names: list[str]  # intermediate entities, nearest the client first
    roles: set[str]


@dataclass
class CaseFacts:
    client: PartyFacts
    related: list[RelatedParty]
    cycles: list[list[str]]  # names around each circular holding
    risk_level: str
    max_depth: int = 1
    acknowledged: set[str] = field(default_factory=set)  # review flags an officer has acknowledged


def _fmt_pct(value: Decimal) -> str:
    text = f"{value.quantize(Decimal('0.01')):f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _describe(related: RelatedParty, label: str) -> str:
    parts = [f"{label} {related.facts.name}"]
    detail = []
    if related.effective > 0:
        share = _fmt_pct(related.effective)
        detail.append(f"{share} through {' and '.join(related.path_names)}" if related.path_names else share)
    if related.roles:
        detail.append(", ".join(sorted(related.roles)))
    if detail:
        parts.append(f"({'; '.join(detail)})")
    return " ".join(parts)


# 31 CFR 1010.230(e)(2), through 1020.315(b)(5): an entity organised in the United States at least
# 51% of whose common stock is owned by a listed company is not a legal entity customer.
LISTED_SUBSIDIARY_PERCENT = Decimal(51)
LISTED_SUBSIDIARY_COUNTRIES = {"US"}


def exemption(policy: dict[str, Any], facts: CaseFacts) -> str:
    """The exemption from identifying beneficial owners that applies to the client, or ""."""
    exempt = set(policy["beneficial_ownership"].get("exempt_if", []))
    client = facts.client
    if "listed" in exempt and client.is_listed:
        return "listed"
    if "regulated_fi" in exempt and client.is_regulated_fi:
        return "regulated_fi"
    if "listed_subsidiary_51" in exempt and client.incorporation_country.upper() in LISTED_SUBSIDIARY_COUNTRIES and any(
        r.facts.kind == "entity" and r.facts.is_listed and r.effective >= LISTED_SUBSIDIARY_PERCENT
        for r in facts.related
    ):
        return "listed_subsidiary_51"
    return ""


def beneficial_owners(policy: dict[str, Any], facts: CaseFacts) -> list[RelatedParty]:
    rule = policy["beneficial_ownership"]
    if exemption(policy, facts) or facts.client.kind != "entity" or rule.get("ownership_prong") is False:
        return []
    threshold = Decimal(str(rule["threshold"]))
    inclusive = rule.get("inclusive", True)
    return [
        r for r in facts.related
        if r.facts.kind == "person"
        and (r.effective >= threshold if inclusive else r.effective > threshold)
    ]


def controllers(policy: dict[str, Any], facts: CaseFacts) -> list[RelatedParty]:
    if facts.client.kind != "entity":
        return []
    roles = set(policy["beneficial_ownership"].get("identify_roles", []))
    return [r for r in facts.related if r.facts.kind == "person" and r.roles & roles]


def edd_triggered(policy: dict[str, Any], facts: CaseFacts) -> list[str]:
    triggers = set(policy.get("edd_triggers", []))
    black = set(policy.get("fatf_black_list", []))
    grey = set(policy.get("fatf_grey_list", []))
    people = [facts.client] + [r.facts for r in facts.related]
    found: list[str] = []
    if "pep" in triggers and any(p.is_pep for p in people):
        found.append("pep")
    all_countries = set().union(*(p.countries for p in people))
    if "fatf_black_list" in triggers and all_countries & black:
        found.append("fatf_black_list")
    if "fatf_grey_list" in triggers and all_countries & grey:
        found.append("fatf_grey_list")
    eu_list = set(policy.get("eu_high_risk_third_countries", []))
    if "eu_high_risk_third_country" in triggers and all_countries & eu_list:
        found.append("eu_high_risk_third_country")
    if "complex_ownership" in triggers and facts.max_depth >= 3:
        found.append("complex_ownership")
    if "circular_ownership" in triggers and facts.cycles:
        found.append("circular_ownership")
    if "high_risk" in triggers and facts.risk_level == "high":
        found.append("high_risk")
    return found


def evaluate(policy: dict[str, Any], facts: CaseFacts, *, source_of: dict[str, str] | None = None,
             citations: dict[str, dict[str, str]] | None = None) -> list[Outstanding]:
    """Everything outstanding for the case under `policy`, in a stable order. Each item carries
    the citation of the rule that produced it (`citations` from the resolved policy)."""
    source_of = source_of or {}
    citations = citations or {}
    out = _evaluate(policy, facts, source_of)
    cited = []
    for item in out:
        key = _citation_key(item)
        cite = citations.get(key) or citations.get(key.split(":", 1)[0]) or {}
        cited.append(Outstanding(code=item.code, subject=item.subject, reason=item.reason, category=item.category,
                                 source=cite.get("source") or item.source, detail=item.detail, citation=dict(cite)))
    return cited


def _citation_key(item: Outstanding) -> str:
    if item.code.startswith("field."):
        return "beneficial_ownership" if item.reason.startswith("beneficial owner") else "required_fields"
    if item.code.startswith("document."):
        return f"required_documents:{item.code.split('.', 1)[1]}:{item.detail.get('subject', '')}"
    if item.code.startswith("edd."):
        _, kind, code = item.code.split(".", 2)
        return f"edd_requirements:{kind}:{code}"
    if item.code.startswith("ownership.control_person"):
        return "beneficial_ownership"
    return "edd_triggers"


def _evaluate(policy: dict[str, Any], facts: CaseFacts, source_of: dict[str, str]) -> list[Outstanding]:
    out: list[Outstanding] = []
    client = facts.client
    client_label = "client"

    for name in policy["required_fields"]:
        if name not in client.present_fields:
            out.append(Outstanding(
                code=f"field.{name}", subject=f"party:{client.id}", category="kyc",
                reason=f"{client_label} {client.name} has no {FIELD_LABELS.get(name, name)}",
                source=source_of.get("required_fields", ""),
            ))

    owners = beneficial_owners(policy, facts)
    ctrls = controllers(policy, facts)
    bo_rule = policy["beneficial_ownership"]
    for owner in owners:
        for name in policy.get("beneficial_owner_fields", []):
            if name not in owner.facts.present_fields:
                out.append(Outstanding(
                    code=f"field.{name}", subject=f"party:{owner.facts.id}", category="kyc",
                    reason=f"{_describe(owner, 'beneficial owner')} has no {FIELD_LABELS.get(name, name)}",
                    source=source_of.get("beneficial_ownership", ""),
                ))
    if client.kind == "entity" and bo_rule.get("control_person") and not exemption(policy, facts):
        if not any(r.roles & CONTROL_ROLES for r in facts.related if r.facts.kind == "person"):
            out.append(Outstanding(
                code="ownership.control_person", subject=f"party:{client.id}", category="kyc",
                reason=f"{client_label} {client.name} has no identified control person (director, senior manager, general partner or trustee)",
                source=source_of.get("beneficial_ownership", ""),
            ))

    subjects = {"client": [None], "beneficial_owners": owners, "controllers": ctrls}
    for doc in policy["required_documents"]:
        accepted = set(doc.get("accepted", []))
        label = doc.get("label", doc["code"].replace("_", " "))
        for related in subjects[doc["subject"]]:
            party = client if related is None else related.facts
            if party.document_types & accepted:
                continue
            who = f"{client_label} {client.name}" if related is None else _describe(
                related, "beneficial owner" if doc["subject"] == "beneficial_owners" else "controller"
            )
            out.append(Outstanding(
                code=f"document.{doc['code']}", subject=f"party:{party.id}", category="document",
                reason=f"{who} has no {label}",
                source=source_of.get("required_documents", ""),
                detail={"accepted": sorted(accepted), "subject": doc["subject"]},
            ))

    for cycle in facts.cycles:
        code = "ownership.circular:" + ">".join(cycle)
        if code in facts.acknowledged:
            continue
        out.append(Outstanding(
            code=code, subject=f"party:{client.id}", category="review",
            reason=f"circular holding {' -> '.join(cycle)} must be reviewed by an officer",
            source=source_of.get("edd_triggers", ""),
        ))

    triggers = edd_triggered(policy, facts)
    if triggers:
        why = ", ".join(t.replace("_", " ") for t in triggers)
        for item in policy.get("edd_requirements", []):
            label = item.get("label", item["code"])
            if item.get("kind") == "field":
                if item["code"] in client.present_fields:
                    continue
            elif client.document_types & set(item.get("accepted", [])):
                continue
            out.append(Outstanding(
                code=f"edd.{item.get('kind', 'document')}.{item['code']}", subject=f"party:{client.id}",
                category="edd", reason=f"enhanced due diligence ({why}): {client_label} {client.name} has no {label}",
                source=source_of.get("edd_requirements", ""), detail={"triggers": triggers},
            ))
    return out
