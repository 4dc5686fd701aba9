"""Rule packs: reading, validating and resolving them. Plain Python, no ORM.

A pack is a YAML file (`onboarding/rulepacks/*.yaml`) with a scope (global, region, country),
the jurisdictions it covers and a list of rules. Each rule cites its `source`, carries an
`effective_from` (and optionally `effective_to`), may narrow itself with `when`
(client_types, risk_levels) and changes the policy with `set` (replace a key), `add` (append to a
list key) or `remove` (drop items from a list key). Keys may be dotted (`screening.lists`).

Precedence: the global baseline first, then every region pack covering the jurisdiction, then
the country pack; within a pack, rules apply in file order. Because the baseline sets every
policy key, every jurisdiction x client type x risk level resolves to a complete policy (the
fallback), and `rulepacks check` proves it.
"""
from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pycountry
import yaml

from .. import safeyaml
from ..exceptions import RulePackError

PACK_DIR = Path(__file__).resolve().parent.parent / "rulepacks"
SCOPE_ORDER = {"global": 0, "region": 1, "country": 2}
CLIENT_TYPES = (
    "individual", "corporation", "partnership", "trust", "foundation",
    "family_office_vehicle", "fund", "ria", "broker_dealer",
)
RISK_LEVELS = ("low", "medium", "high")
KNOWN_FIELDS = {
    "given_names", "family_name", "legal_name", "date_of_birth", "date_of_incorporation",
    "residence_country", "country_of_incorporation", "nationalities", "residential_address",
    "registered_address", "business_address", "mailing_address", "identity_number", "passport",
    "tax_id", "tax_residence", "lei", "registration_number", "source_of_wealth", "source_of_funds",
    "email", "phone",
}
KNOWN_DOCUMENT_TYPES = {
    "passport", "national_id_card", "driving_licence", "utility_bill", "bank_statement",
    "tax_statement", "certificate_of_incorporation", "register_of_members", "register_of_directors",
    "articles", "trust_deed", "foundation_charter", "partnership_agreement", "offering_memorandum",
    "regulatory_licence", "source_of_wealth", "source_of_funds", "senior_approval", "other",
}
KNOWN_EDD_TRIGGERS = {
    "pep", "fatf_black_list", "fatf_grey_list", "eu_high_risk_third_country", "complex_ownership",
    "circular_ownership", "high_risk",
}
REQUIRED_POLICY_KEYS = (
    "required_fields", "beneficial_owner_fields", "required_documents", "beneficial_ownership",
    "screening", "edd_triggers", "edd_requirements", "approval", "periodic_review_months", "tax_forms",
)

_DATE = {"type": "string", "format": "date"}
_OPS = {"type": "object", "minProperties": 1}
PACK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["code", "name", "scope", "jurisdictions", "effective_from", "source", "rules"],
    "additionalProperties": False,
    "properties": {
        "code": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]{1,19}$"},
        "name": {"type": "string", "minLength": 1},
        "scope": {"enum": list(SCOPE_ORDER)},
        "jurisdictions": {"type": "array", "minItems": 1, "items": {"type": "string"}},
        "effective_from": _DATE,
        "source": {"type": "string", "minLength": 3},
        "rules": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "source", "effective_from"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "string", "pattern": "^[a-z0-9_.-]+$"},
                    "source": {"type": "string", "minLength": 3},
                    "effective_from": _DATE,
                    "effective_to": _DATE,
                    "verified": {"type": "boolean"},
                    "when": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "client_types": {"type": "array", "items": {"enum": list(CLIENT_TYPES)}},
                            "risk_levels": {"type": "array", "items": {"enum": list(RISK_LEVELS)}},
                        },
                    },
                    "set": _OPS,
                    "add": _OPS,
                    "remove": _OPS,
                },
                "anyOf": [{"required": ["set"]}, {"required": ["add"]}, {"required": ["remove"]}],
            },
        },
    },
}


def _jsonable(value: Any) -> Any:
    """YAML gives dates as date objects; packs are stored and hashed as JSON."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def checksum(content: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


@dataclass
class PackFile:
    path: str
    content: dict[str, Any]

    @property
    def code(self) -> str:
        return self.content["code"]


def read_pack_file(path: Path) -> PackFile:
    try:
        raw = safeyaml.load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise RulePackError(f"{path.name}{where}: not valid YAML ({exc})", detail={"file": path.name}) from exc
    if not isinstance(raw, dict):
        raise RulePackError(f"{path.name}: a rule pack must be a mapping", detail={"file": path.name})
    return PackFile(path=path.name, content=_jsonable(raw))


def read_pack_dir(directory: Path = PACK_DIR) -> list[PackFile]:
    return [read_pack_file(path) for path in sorted(directory.glob("*.yaml"))]


def validate_pack(pack: PackFile) -> None:
    """Schema and meaning checks for one pack; raises RulePackError naming file and rule."""
    content = pack.content
    errors = sorted(jsonschema.Draft202012Validator(PACK_SCHEMA).iter_errors(content), key=lambda e: list(e.path))
    if errors:
        error = errors[0]
        where = _rule_location(content, list(error.absolute_path))
        raise RulePackError(f"{pack.path}{where}: {error.message}", detail={"file": pack.path, "path": list(error.path)})
    for key in ("effective_from",):
        _parse_date(content[key], pack.path, "")
    if content["scope"] == "global" and content["jurisdictions"] != ["*"]:
        raise RulePackError(f"{pack.path}: a global pack covers ['*']", detail={"file": pack.path})
    if content["scope"] != "global":
        for code in content["jurisdictions"]:
            if pycountry.countries.get(alpha_2=code) is None:
                raise RulePackError(f"{pack.path}: '{code}' is not an ISO country code", detail={"file": pack.path})
    if content["scope"] == "country" and len(content["jurisdictions"]) != 1:
        raise RulePackError(f"{pack.path}: a country pack covers exactly one country", detail={"file": pack.path})
    seen: set[str] = set()
    for rule in content["rules"]:
        rid = rule["id"]
        if rid in seen:
            raise RulePackError(f"{pack.path} rule '{rid}': duplicate rule id", detail={"file": pack.path, "rule": rid})
        seen.add(rid)
        _parse_date(rule["effective_from"], pack.path, rid)
        if "effective_to" in rule:
            _parse_date(rule["effective_to"], pack.path, rid)
        for op in ("set", "add", "remove"):
            for key, value in rule.get(op, {}).items():
                _check_value(pack.path, rid, key, value)
    _check_successors(pack)


def _rule_keys(rule: dict[str, Any]) -> set[str]:
    return {key.split(".")[0] for op in ("set", "add", "remove") for key in rule.get(op, {})}


def _check_successors(pack: PackFile) -> None:
    """A rule that ends (a superseded instrument) must hand over to a successor in the same pack
    that starts the next day and governs the same policy key, so nothing lapses between them."""
    rules = pack.content["rules"]
    for rule in rules:
        if "effective_to" not in rule:
            continue
        end = dt.date.fromisoformat(rule["effective_to"])
        if end < dt.date.fromisoformat(rule["effective_from"]):
            raise RulePackError(f"{pack.path} rule '{rule['id']}': effective_to is before effective_from",
                                detail={"file": pack.path, "rule": rule["id"]})
        start = (end + dt.timedelta(days=1)).isoformat()
        successors = [r for r in rules if r["effective_from"] == start and _rule_keys(r) & _rule_keys(rule)]
        if not successors:
            raise RulePackError(
                f"{pack.path} rule '{rule['id']}': ends on {rule['effective_to']} but no rule governing "
                f"{sorted(_rule_keys(rule))} starts on {start} to succeed it",
                detail={"file": pack.path, "rule": rule["id"]})


def _rule_location(content: dict[str, Any], path: list[Any]) -> str:
    if len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
        try:
            return f" rule '{content['rules'][path[1]].get('id', path[1])}'"
        except (IndexError, AttributeError):
            return f" rule #{path[1] + 1}"
    return ""


def _parse_date(value: str, file: str, rule: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        where = f" rule '{rule}'" if rule else ""
        raise RulePackError(f"{file}{where}: '{value}' is not a date (YYYY-MM-DD)", detail={"file": file}) from exc


def _check_value(file: str, rule: str, key: str, value: Any) -> None:
    def fail(message: str) -> None:
        raise RulePackError(f"{file} rule '{rule}': {key}: {message}", detail={"file": file, "rule": rule, "key": key})

    top = key.split(".")[0]
    if top not in REQUIRED_POLICY_KEYS and top not in {"fatf_black_list", "fatf_grey_list", "crs_participating",
                                                        "eu_high_risk_third_countries"}:
        fail("unknown policy key")
    if key in ("required_fields", "beneficial_owner_fields"):
        unknown = set(value) - KNOWN_FIELDS
        if unknown:
            fail(f"unknown field(s) {sorted(unknown)}")
    if key in ("required_documents", "edd_requirements"):
        for item in value:
            if not isinstance(item, dict) or "code" not in item:
                fail("each item needs a code")
            accepted = set(item.get("accepted", []))
            if accepted - KNOWN_DOCUMENT_TYPES:
                fail(f"unknown document type(s) {sorted(accepted - KNOWN_DOCUMENT_TYPES)}")
            if key == "required_documents" and item.get("subject") not in ("client", "beneficial_owners", "controllers"):
                fail(f"subject must be client, beneficial_owners or controllers (got {item.get('subject')!r})")
    if key == "edd_triggers":
        unknown = set(value) - KNOWN_EDD_TRIGGERS
        if unknown:
            fail(f"unknown trigger(s) {sorted(unknown)}")
    if key == "beneficial_ownership":
        threshold = value.get("threshold") if isinstance(value, dict) else None
        if not isinstance(threshold, (int, float)) or not 0 <= threshold <= 100:
            fail("threshold must be a number in [0, 100] (0 with inclusive false: any interest)")
    if key == "approval" and value.get("level") not in ("single", "four_eyes"):
        fail("level must be single or four_eyes")
    if key == "periodic_review_months" and set(value) != set(RISK_LEVELS):
        fail("needs months for low, medium and high")


# --- Resolution -------------------------------------------------------------------------------


@dataclass
class ResolvedPolicy:
    jurisdiction: str
    client_type: str
    risk_level: str
    as_of: str
    policy: dict[str, Any]
    packs: list[str]  # "CODE@version" in precedence order
    applied_rules: list[dict[str, str]] = field(default_factory=list)  # id, pack, source
    key_sources: dict[str, str] = field(default_factory=dict)  # policy key -> "rule id: source"
    # policy key (and "required_documents:<code>:<subject>", "edd_requirements:<kind>:<code>" per
    # item) -> {"rule", "pack", "source", "effective_from"}: the exact rule behind each requirement
    citations: dict[str, dict[str, str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "jurisdiction": self.jurisdiction,
            "client_type": self.client_type,
            "risk_level": self.risk_level,
            "as_of": self.as_of,
            "policy": self.policy,
            "packs": self.packs,
            "applied_rules": self.applied_rules,
            "key_sources": self.key_sources,
            "citations": self.citations,
        }


@dataclass(frozen=True)
class PackVersion:
    code: str
    version: int
    content: dict[str, Any]


def packs_for(jurisdiction: str, packs: Iterable[PackVersion]) -> list[PackVersion]:
    """The packs that apply to a jurisdiction, in precedence order."""
    chosen = [
        pack for pack in packs
        if pack.content["scope"] == "global" or jurisdiction in pack.content["jurisdictions"]
    ]
    return sorted(chosen, key=lambda pack: (SCOPE_ORDER[pack.content["scope"]], pack.code))


def _apply(policy: dict[str, Any], op: str, key: str, value: Any) -> None:
    *parents, leaf = key.split(".")
    target = policy
    for part in parents:
        target = target.setdefault(part, {})
    value = copy.deepcopy(value)
    if op == "set":
        target[leaf] = value
    elif op == "add":
        current = list(target.get(leaf, []))
        for item in value:
            if item not in current:
                current.append(item)
        target[leaf] = current
    elif op == "remove":
        target[leaf] = [item for item in target.get(leaf, []) if item not in value]


def resolve(
    packs: Sequence[PackVersion],
    *,
    jurisdiction: str,
    client_type: str,
    risk_level: str,
    as_of: dt.date,
) -> ResolvedPolicy:
    chosen = packs_for(jurisdiction, packs)
    if not chosen or chosen[0].content["scope"] != "global":
        raise RulePackError("no global baseline rule pack is loaded", detail={"jurisdiction": jurisdiction})
    policy: dict[str, Any] = {}
    applied: list[dict[str, str]] = []
    key_sources: dict[str, str] = {}
    citations: dict[str, dict[str, str]] = {}
    for pack in chosen:
        for rule in pack.content["rules"]:
            if dt.date.fromisoformat(rule["effective_from"]) > as_of:
                continue
            if "effective_to" in rule and dt.date.fromisoformat(rule["effective_to"]) < as_of:
                continue
            when = rule.get("when", {})
            if "client_types" in when and client_type not in when["client_types"]:
                continue
            if "risk_levels" in when and risk_level not in when["risk_levels"]:
                continue
            cite = {"rule": rule["id"], "pack": pack.code, "source": rule["source"],
                    "effective_from": rule["effective_from"]}
            for op in ("set", "add", "remove"):
                for key, value in rule.get(op, {}).items():
                    _apply(policy, op, key, value)
                    top = key.split(".")[0]
                    key_sources[top] = f"{rule['id']}: {rule['source']}"
                    citations[top] = cite
                    if top in ("required_documents", "edd_requirements") and op != "remove":
                        if op == "set":
                            for stale in [k for k in citations if k.startswith(top + ":")]:
                                del citations[stale]
                        for item in value if isinstance(value, list) else []:
                            if isinstance(item, dict):
                                citations[_item_key(top, item)] = cite
            applied.append({"id": rule["id"], "pack": f"{pack.code}@{pack.version}", "source": rule["source"]})
    missing = [key for key in REQUIRED_POLICY_KEYS if key not in policy]
    if missing:
        raise RulePackError(
            f"policy for {jurisdiction}/{client_type}/{risk_level} lacks {missing}",
            detail={"jurisdiction": jurisdiction, "missing": missing},
        )
    return ResolvedPolicy(
        jurisdiction=jurisdiction,
        client_type=client_type,
        risk_level=risk_level,
        as_of=as_of.isoformat(),
        policy=policy,
        packs=[f"{pack.code}@{pack.version}" for pack in chosen],
        applied_rules=applied,
        key_sources=key_sources,
        citations=citations,
    )


def _item_key(key: str, item: dict[str, Any]) -> str:
    if key == "required_documents":
        return f"{key}:{item.get('code')}:{item.get('subject')}"
    return f"{key}:{item.get('kind', 'document')}:{item.get('code')}"


def check_coverage(packs: Sequence[PackVersion], *, as_of: dt.date) -> int:
    """Resolve every ISO country x client type x risk level; raise on the first gap. Returns the
    number of combinations checked."""
    count = 0
    for country in pycountry.countries:
        for client_type in CLIENT_TYPES:
            for risk in RISK_LEVELS:
                resolve(packs, jurisdiction=country.alpha_2, client_type=client_type, risk_level=risk, as_of=as_of)
                count += 1
    return count


# --- Comparing the packs with the regulatory table --------------------------------------------


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def compare_with_table(packs: Sequence[PackVersion], rows: list[dict[str, Any]]) -> list[str]:
    """Resolve every row of the regulatory table (tests/onboarding/jurisdictions.yaml) and list
    each way the packs differ from what the regulation says (empty: the packs agree)."""
    problems: list[str] = []
    for row in rows:
        rid = row.get("id", row.get("jurisdiction"))
        try:
            resolved = resolve(packs, jurisdiction=row["jurisdiction"], client_type=row["client_type"],
                               risk_level=row.get("risk", "medium"), as_of=_as_date(row["as_of"]))
        except RulePackError as exc:
            problems.append(f"{rid}: does not resolve: {exc.message}")
            continue
        policy, expect = resolved.policy, row.get("expect") or {}
        bo = policy["beneficial_ownership"]

        def differ(what: str, want: Any, got: Any) -> None:
            problems.append(f"{rid}: {what}: the regulation says {want!r}, the packs give {got!r}")

        for key in ("threshold", "inclusive", "control_person"):
            if key in expect and bo.get(key) != expect[key]:
                differ(f"beneficial_ownership.{key}", expect[key], bo.get(key))
        if "ownership_prong" in expect and bo.get("ownership_prong", True) != expect["ownership_prong"]:
            differ("beneficial_ownership.ownership_prong", expect["ownership_prong"], bo.get("ownership_prong", True))
        for key, field_name in (("identify_roles_include", "identify_roles"), ("exempt_if_include", "exempt_if")):
            missing = set(expect.get(key, [])) - set(bo.get(field_name, []))
            if missing:
                differ(f"beneficial_ownership.{field_name}", sorted(expect[key]), sorted(bo.get(field_name, [])))
        if "documents_include" in expect:
            codes = {d["code"] for d in policy["required_documents"]}
            if set(expect["documents_include"]) - codes:
                differ("required_documents", sorted(expect["documents_include"]), sorted(codes))
        if "lists" in expect and sorted(policy["screening"]["lists"]) != sorted(expect["lists"]):
            differ("screening.lists", sorted(expect["lists"]), sorted(policy["screening"]["lists"]))
        if set(expect.get("edd_triggers_include", [])) - set(policy.get("edd_triggers", [])):
            differ("edd_triggers", sorted(expect["edd_triggers_include"]), sorted(policy.get("edd_triggers", [])))
        for key, fragments in (expect.get("citations") or {}).items():
            cite = resolved.citations.get(key, {}).get("source", "")
            for fragment in fragments:
                if fragment not in cite:
                    differ(f"citation of {key}", fragment, cite or "(no rule)")
    return problems


def named_lists(packs: Sequence[PackVersion]) -> dict[str, set[str]]:
    """Every screening list code a pack names, with the rules naming it."""
    found: dict[str, set[str]] = {}
    for pack in packs:
        for rule in pack.content["rules"]:
            for op in ("set", "add"):
                for key, value in rule.get(op, {}).items():
                    codes: list[str] = []
                    if key == "screening" and isinstance(value, dict):
                        codes = list(value.get("lists", []))
                    elif key == "screening.lists":
                        codes = list(value)
                    for code in codes:
                        found.setdefault(code, set()).add(f"{pack.code}:{rule['id']}")
    return found


def unimported_lists(packs: Sequence[PackVersion], imported: set[str]) -> dict[str, list[str]]:
    """Lists a pack names that no importer provides: {list code: [pack:rule, ...]}."""
    return {code: sorted(rules) for code, rules in sorted(named_lists(packs).items()) if code not in imported}


def crs_disagreements(packs: Sequence[PackVersion], lookup: Any, *, as_of: dt.date) -> list[str]:
    """Country packs whose `crs_participating` contradicts the CRS participating-jurisdiction list
    (the list is authoritative; packs do not override it)."""
    problems = []
    for pack in packs:
        if pack.content["scope"] != "country":
            continue
        country = pack.content["jurisdictions"][0]
        for rule in pack.content["rules"]:
            if "crs_participating" not in rule.get("set", {}) or dt.date.fromisoformat(rule["effective_from"]) > as_of:
                continue
            says, listed = bool(rule["set"]["crs_participating"]), bool(lookup(country, as_of))
            if says != listed:
                problems.append(f"{pack.code}:{rule['id']} sets crs_participating {says} but the CRS list says "
                                f"{country} {'participates' if listed else 'does not participate'} on {as_of}")
    return problems
