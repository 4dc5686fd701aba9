"""Validation of a captured tax form: required fields, TINs, treaty claim, signature date,
consistency with the party (US indicia), controlling persons of passive entities.
Plain Python: party facts come in as a PartyContext, rules from the rule files."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from . import rulefiles
from .forms_catalogue import CRS_FORMS, W8_FORMS
from .indicia import Indicium, PartyContext, find_indicia, uncured
from .tin import validate_missing_tin, validate_tin
from .treaty import check_treaty_claim
from .validity import valid_until


@dataclass(frozen=True)
class Issue:
    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


@dataclass
class ValidationResult:
    errors: list[Issue] = field(default_factory=list)
    indicia: list[Indicium] = field(default_factory=list)
    uncured_indicia: list[Indicium] = field(default_factory=list)
    valid_until: dt.date | None = None
    tins: list[dict[str, Any]] = field(default_factory=list)
    treaty_rate: str | None = None
    # Defects that remove a part of the form without making it unreliable: a failed treaty claim
    # falls alone (the statutory rate then applies to FDAP income, while the form still
    # establishes foreign status, e.g. for gross proceeds under 1.6045-1(g)).
    warnings: list[Issue] = field(default_factory=list)
    treaty_claim_removed: bool = False
    indefinite_validity: str = ""  # the 1.1441-1(e)(4)(ii)(B) basis when the form does not expire

    def warn(self, field_name: str, code: str, message: str) -> None:
        self.warnings.append(Issue(field_name, code, message))

    @property
    def ok(self) -> bool:
        return not self.errors and not self.uncured_indicia

    def add(self, field_name: str, code: str, message: str) -> None:
        self.errors.append(Issue(field_name, code, message))


REQUIRED: dict[str, tuple[str, ...]] = {
    "W9": ("name", "tax_classification", "address", "tin"),
    "W8BEN": ("name", "citizenship", "permanent_address", "date_of_birth"),
    "W8BENE": ("name", "country_of_incorporation", "chapter3_status", "chapter4_status", "permanent_address"),
    "W8IMY": ("name", "country_of_incorporation", "chapter3_status", "chapter4_status", "permanent_address"),
    "W8ECI": ("name", "permanent_address", "us_business_address", "us_tin", "income_description"),
    "CRS_IND": ("name", "date_of_birth", "residence_address", "tax_residences"),
    "CRS_ENT": ("name", "address", "tax_residences", "crs_classification"),
    "CRS_CP": ("name", "date_of_birth", "residence_address", "tax_residences", "entity_name", "role"),
}
ADDRESS_FIELDS = ("line1", "city", "country")
# A permanent residence address may not be a P.O. box (including "GPO Box", a General Post Office
# box) or an in-care-of address (Instructions for Form W-8BEN line 3 / W-8BEN-E line 6). Lookarounds,
# not \b: "GPO" has no word boundary before its P.
PO_BOX = re.compile(
    r"(?<![A-Z0-9])(?:G\.?\s?)?P\.?\s?O\.?\s?BOX(?![A-Z])|(?<![A-Z])POST\s+OFFICE\s+BOX(?![A-Z])"
    r"|(?<![A-Z])POSTFACH(?![A-Z])|(?<![A-Z])BO[IÎ]TE\s+POSTALE(?![A-Z])|(?<![A-Z])APARTADO(?![A-Z])"
    r"|(?<![A-Z0-9])C\s*/\s*O(?![A-Z0-9])|(?<![A-Z])(?:IN\s+)?CARE\s+OF(?![A-Z])",
    re.IGNORECASE,
)
# A substantial US owner owns more than 10% (IRC 1473(2)(A); Treas. Reg. 1.1473-1(b)(1)).
SUBSTANTIAL_OWNER_PERCENT = 10


def _check_address(result: ValidationResult, name: str, value: Any, *, no_po_box: bool = False) -> None:
    if not isinstance(value, dict):
        result.add(name, "invalid", "address must have line1, city and country")
        return
    for f in ADDRESS_FIELDS:
        if not str(value.get(f, "")).strip():
            result.add(f"{name}.{f}", "required", f"{name.replace('_', ' ')}: {f} is required")
    if no_po_box and any(PO_BOX.search(str(value.get(part, "") or "")) for part in ("line1", "line2")):
        result.add(f"{name}.line1", "po_box", "a permanent residence address cannot be a P.O. box or in-care-of address")


def _check_tax_residences(result: ValidationResult, residences: Any, *, prefix: str, entity: bool,
                          who: str = "") -> None:
    """Each residence has a country and a valid TIN or an accepted reason for none. `who` names
    the person the residences belong to (a controlling person) in every message."""
    if who:
        named = ValidationResult()
        _check_tax_residences(named, residences, prefix=prefix, entity=entity)
        for error in named.errors:
            result.add(error.field, error.code, f"{who}: {error.message}")
        result.tins.extend(named.tins)
        return
    if not isinstance(residences, list) or not residences:
        result.add(prefix, "required", "at least one tax residence is required")
        return
    for i, res in enumerate(residences):
        where = f"{prefix}[{i}]"
        country = str((res or {}).get("country", "")).upper()
        if not country:
            result.add(f"{where}.country", "required", "country of tax residence is required")
            continue
        tin = str(res.get("tin", "") or "").strip()
        if tin:
            check = validate_tin(country, tin, entity=entity)
            result.tins.append({"country": country, "tin": check.value, "valid": check.valid, "method": check.method})
            if not check.valid:
                result.add(f"{where}.tin", "tin_invalid", f"TIN for {country} is not valid: {check.message}")
        else:
            reason = validate_missing_tin(country, res.get("no_tin_reason", ""), res.get("explanation", ""))
            if not reason.valid:
                result.add(f"{where}.no_tin_reason", "tin_missing", reason.message)


def _check_signature(result: ValidationResult, form_type: str, signed_on: dt.date | None, data: dict[str, Any],
                     today: dt.date) -> None:
    if signed_on is None:
        result.add("signed_on", "required", "the form must be signed and dated")
        return
    if signed_on > today:
        result.add("signed_on", "future", f"signature date {signed_on} is in the future")
    if not str(data.get("signer_name", "")).strip():
        result.add("signer_name", "required", "the name of the person signing is required")
    if form_type in W8_FORMS | {"W9"} and not data.get("certified"):
        result.add("certified", "required", "the penalties-of-perjury certification must be given")
    until = valid_until(form_type, signed_on, data=data)
    result.valid_until = until
    if until is not None and until < today:
        result.add("signed_on", "expired", f"a {form_type} signed on {signed_on} expired on {until}")


def _check_statement(result: ValidationResult, lines: list[Any]) -> None:
    """A withholding statement (Treas. Reg. 1.1441-1(e)(3)(iv); 1.1441-5(c)(3)(iv)): each line names
    an underlying owner (`party` id or `name`) and its share of the payment in percent; the shares
    may not exceed 100% (what is left unallocated suffers the presumption rules)."""
    from decimal import Decimal, InvalidOperation

    total = Decimal(0)
    for i, line in enumerate(lines):
        where = f"withholding_statement[{i}]"
        if not isinstance(line, dict) or not (line.get("party") or line.get("name")):
            result.add(where, "required", "each line of the withholding statement names an underlying owner")
            continue
        try:
            share = Decimal(str(line.get("share")))
        except (InvalidOperation, ValueError):
            result.add(f"{where}.share", "invalid", f"share {line.get('share')!r} is not a number")
            continue
        if not Decimal(0) < share <= Decimal(100):
            result.add(f"{where}.share", "invalid", "a share is a percentage above 0 and at most 100")
        total += share
    if total > Decimal(100):
        result.add("withholding_statement", "invalid", f"the statement allocates {total}% of the payment (more than 100%)")


def _check_owners_against_kyc(result: ValidationResult, data: dict[str, Any], party: PartyContext) -> None:
    """A passive NFFE's owner certification must agree with what KYC knows: a US owner of more
    than 10% (IRC 1473(2)(A)) that the form omits, or a "no substantial US owners" certification
    while KYC records one, makes the form unreliable (Treas. Reg. 1.1471-3(e)(1): reason to know)."""
    listed = {str(o.get("name", "")).strip().upper() for o in data.get("substantial_us_owners") or []}
    for name, pct in party.kyc_us_owners:
        if float(pct) <= SUBSTANTIAL_OWNER_PERCENT:
            continue
        if data.get("no_substantial_us_owners") or name.strip().upper() not in listed:
            result.add("substantial_us_owners", "owner_contradicted",
                       f"KYC records {name}, a US person owning {pct}% (more than 10%, IRC 1473(2)(A)), whom the "
                       "form does not list as a substantial US owner: the certification is unreliable "
                       "(Treas. Reg. 1.1471-3(e)(1))")


def validate_form(
    form_type: str,
    data: dict[str, Any],
    *,
    signed_on: dt.date | None,
    party: PartyContext,
    today: dt.date,
    cure_documents: list[str] | None = None,
) -> ValidationResult:
    rules = rulefiles.form_rules()
    statuses = rules["statuses"]
    result = ValidationResult()
    data = data or {}
    for name in REQUIRED[form_type]:
        value = data.get(name)
        if value in (None, "", [], {}):
            result.add(name, "required", f"{name.replace('_', ' ')} is required")
    _check_signature(result, form_type, signed_on, data, today)

    entity = form_type in {"W8BENE", "W8IMY", "CRS_ENT"} or (form_type in {"W9", "W8ECI"} and party.kind == "entity")
    if form_type == "W9":
        if data.get("address"):
            _check_address(result, "address", data["address"])
        if data.get("tin"):
            check = validate_tin("US", data["tin"], entity=party.kind == "entity")
            result.tins.append({"country": "US", "tin": check.value, "valid": check.valid, "method": check.method})
            if not check.valid:
                result.add("tin", "tin_invalid", f"US TIN is not valid: {check.message}")
    if form_type in W8_FORMS:
        if data.get("permanent_address"):
            _check_address(result, "permanent_address", data["permanent_address"], no_po_box=True)
        if data.get("mailing_address"):
            _check_address(result, "mailing_address", data["mailing_address"])
        residence = str((data.get("permanent_address") or {}).get("country", "")).upper()
        if form_type == "W8ECI":
            if data.get("us_business_address"):
                _check_address(result, "us_business_address", data["us_business_address"])
            if data.get("us_tin"):
                check = validate_tin("US", data["us_tin"], entity=party.kind == "entity")
                if not check.valid:
                    result.add("us_tin", "tin_invalid", f"a W-8ECI needs a valid US TIN: {check.message}")
        elif data.get("us_tin"):
            check = validate_tin("US", data["us_tin"], entity=entity)
            if not check.valid:
                result.add("us_tin", "tin_invalid", f"US TIN is not valid: {check.message}")
        if form_type in {"W8BEN", "W8BENE"}:
            foreign_tin = str(data.get("foreign_tin", "") or "").strip()
            if foreign_tin and residence:
                check = validate_tin(residence, foreign_tin, entity=entity)
                result.tins.append({"country": residence, "tin": check.value, "valid": check.valid,
                                    "method": check.method})
                if not check.valid:
                    result.add("foreign_tin", "tin_invalid", f"foreign TIN for {residence} is not valid: {check.message}")
            elif not foreign_tin and not data.get("foreign_tin_not_required"):
                result.add("foreign_tin", "required",
                           "a foreign TIN is required unless the form states it is not legally required")
            claim = data.get("treaty_claim")
            if claim:
                # A defective claim removes the claim, not the form (Treas. Reg. 1.1441-6(b)(1): the
                # reduced rate needs a valid claim; the form still establishes foreign status).
                check = check_treaty_claim(claim, residence_country=residence, on=signed_on or today)
                if not check.valid:
                    result.warn("treaty_claim", "treaty_invalid",
                                f"treaty claim removed: {check.message}; the statutory rate applies to FDAP income")
                    result.treaty_claim_removed = True
                elif form_type == "W8BENE" and not data.get("lob_test"):
                    result.warn("lob_test", "required",
                                "treaty claim removed: an entity claiming treaty benefits must state its "
                                "limitation-on-benefits test (Form W-8BEN-E line 14b)")
                    result.treaty_claim_removed = True
                else:
                    result.treaty_rate = str(check.rate)
        if form_type in {"W8BENE", "W8IMY"}:
            ch3_allowed = statuses["chapter3_beneficial_owner"] if form_type == "W8BENE" else statuses["chapter3_intermediary"]
            if data.get("chapter3_status") and data["chapter3_status"] not in ch3_allowed:
                result.add("chapter3_status", "invalid", f"chapter 3 status {data['chapter3_status']!r} is not allowed on {form_type}")
            ch4 = data.get("chapter4_status")
            if ch4 and ch4 not in statuses["chapter4"]:
                result.add("chapter4_status", "invalid", f"chapter 4 status {ch4!r} is not known")
            if ch4 in statuses["giin_required"]:
                giin = str(data.get("giin", "") or "").upper()
                if not re.fullmatch(statuses["giin_pattern"], giin):
                    result.add("giin", "giin_invalid", f"a {ch4.replace('_', ' ')} needs a valid GIIN")
            if form_type == "W8BENE" and ch4 == "passive_nffe":
                owners = data.get("substantial_us_owners")
                if not data.get("no_substantial_us_owners") and not owners:
                    result.add("substantial_us_owners", "required",
                               "a passive NFFE must list its substantial US owners or certify it has none")
                for i, owner in enumerate(owners or []):
                    if not owner.get("name") or not owner.get("tin"):
                        result.add(f"substantial_us_owners[{i}]", "required", "each substantial US owner needs a name and a US TIN")
                    elif not validate_tin("US", owner["tin"]).valid:
                        result.add(f"substantial_us_owners[{i}].tin", "tin_invalid", "US TIN of substantial owner is not valid")
                _check_owners_against_kyc(result, data, party)
            if form_type == "W8IMY" and not data.get("withholding_statement"):
                result.add("withholding_statement", "required",
                           "a W-8IMY needs a withholding statement allocating payments to the underlying owners")
            elif form_type == "W8IMY" and isinstance(data["withholding_statement"], list):
                _check_statement(result, data["withholding_statement"])
        result.indicia = find_indicia(party, data)
        result.uncured_indicia = uncured(result.indicia, cure_documents or [])
    if form_type in CRS_FORMS:
        address_field = "address" if form_type == "CRS_ENT" else "residence_address"
        if data.get(address_field):
            _check_address(result, address_field, data[address_field])
        if data.get("tax_residences"):
            _check_tax_residences(result, data["tax_residences"], prefix="tax_residences", entity=form_type == "CRS_ENT")
        if form_type == "CRS_ENT":
            cls = data.get("crs_classification")
            if cls and cls not in statuses["crs_entity"]:
                result.add("crs_classification", "invalid", f"CRS classification {cls!r} is not known")
            if cls == "passive_nfe":
                persons = data.get("controlling_persons") or []
                if not persons:
                    result.add("controlling_persons", "required", "a passive NFE must name its controlling persons")
                for i, person in enumerate(persons):
                    where = f"controlling_persons[{i}]"
                    if not person.get("name"):
                        result.add(f"{where}.name", "required", "controlling person name is required")
                    if person.get("role") not in statuses["crs_controlling_person_types"]:
                        result.add(f"{where}.role", "invalid", "controlling person type must be one of CRS801-CRS813")
                    _check_tax_residences(result, person.get("tax_residences"), prefix=f"{where}.tax_residences",
                                          entity=False, who=str(person.get("name") or f"controlling person {i + 1}"))
        if form_type == "CRS_CP" and data.get("role") not in statuses["crs_controlling_person_types"]:
            result.add("role", "invalid", "controlling person type must be one of CRS801-CRS813")
    citizen_codes = set(rules["us_person"]["citizenship_codes"])
    if form_type in W8_FORMS and (
        str(data.get("citizenship", "")).upper() in citizen_codes
        or citizen_codes & {c.upper() for c in party.nationalities}
    ):
        result.add("citizenship", "us_person", "a US citizen is a US person and gives a Form W-9, not a W-8")
    elif form_type in W8_FORMS and party.kind == "individual" and party.lawful_permanent_resident:
        result.add("form_type", "us_person", "a lawful permanent resident (green card holder) is a US person "
                   "(IRC 7701(b)(1)(A)(i)) and gives a Form W-9, not a W-8")
    elif form_type in W8_FORMS and party.kind == "individual" and party.substantial_presence:
        result.add("form_type", "us_person", "an individual meeting the substantial presence test is a US person "
                   "(IRC 7701(b)(1)(A)(ii), (b)(3)) and gives a Form W-9, not a W-8")
    if form_type in W8_FORMS:
        from .validity import indefinite_basis

        result.indefinite_validity = indefinite_basis(form_type, data, rules)
    if form_type == "W8BEN" and party.kind != "individual":
        result.add("form_type", "wrong_form", "a W-8BEN is for individuals; entities give a W-8BEN-E")
    if form_type in {"W8BENE", "W8IMY", "CRS_ENT"} and party.kind != "entity":
        result.add("form_type", "wrong_form", f"a {form_type} is for entities")
    return result
