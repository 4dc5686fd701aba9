"""Validation of countries, subdivisions and identifiers.

Identifiers are checked with python-stdnum where it has a module for the country and kind
(the table is data: `onboarding/identifiers.yaml`), and with a documented format-only pattern
where it has none. Every failure names the field and the reason.
"""
from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pycountry
from stdnum import lei as stdnum_lei
from stdnum.exceptions import ValidationError as StdnumError

from . import safeyaml
from .crypto import mask
from .exceptions import RulePackError, ValidationFailed

IDENTIFIER_TABLE = Path(__file__).with_name("identifiers.yaml")
_STRIP = re.compile(r"[\s.\-/()]")


@dataclass(frozen=True)
class IdentifierCheck:
    value: str  # the compact, canonical form to store
    validator: str  # "stdnum:us.ssn", "check:sg.nric" or "pattern:US.tax_id"
    label: str = ""  # how it was checked, in words ("IdNr, check digit verified")
    verified: bool = True  # check digits verified (False: the shape only)
    valid: bool = True
    reasons: tuple[str, ...] = ()  # why it is not valid, in words


def load_identifier_table(path: Path = IDENTIFIER_TABLE) -> dict:
    """Read and check the identifier table: every country an ISO code (YAML reads an unquoted NO
    as false), every check a module that exists."""
    with path.open(encoding="utf-8") as handle:
        data = safeyaml.load(handle.read())
    for key, row in (data.get("countries") or {}).items():
        if not isinstance(key, str):
            raise RulePackError(f"{path.name}: countries: key {key!r} is not a country code "
                                f"(quote NO, ON, YES: YAML reads them as booleans)", detail={"file": path.name})
        if pycountry.countries.get(alpha_2=key) is None:
            raise RulePackError(f"{path.name}: countries.{key}: not an ISO 3166-1 alpha-2 code", detail={"file": path.name})
        for kind, rule in row.items():
            for name in rule.get("modules", []) + rule.get("entity_modules", []):
                if name not in LOCAL_CHECKS:
                    try:
                        importlib.import_module(f"stdnum.{name}")
                    except ImportError as exc:
                        raise RulePackError(f"{path.name}: countries.{key}.{kind}: no check named {name}",
                                            detail={"file": path.name}) from exc
    return data


@lru_cache(maxsize=1)
def identifier_table() -> dict:
    return load_identifier_table()


def validate_country(code: str, *, field: str = "country") -> str:
    code = (code or "").strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValidationFailed(f"{field}: '{code}' is not an ISO 3166-1 alpha-2 country code", detail={field: code})
    return code


def validate_subdivision(code: str, country: str, *, field: str = "region") -> str:
    """An ISO 3166-2 code such as 'US-NY'; a bare 'NY' is read within `country`."""
    code = (code or "").strip().upper()
    if not code:
        return ""
    full = code if "-" in code else f"{country}-{code}"
    sub = pycountry.subdivisions.get(code=full)
    if sub is None or sub.country_code != country:
        raise ValidationFailed(f"{field}: '{code}' is not a subdivision of {country}", detail={field: code})
    return full


def _sg_nric(value: str) -> str:
    """Singapore NRIC/FIN: a prefix letter (S, T: citizens and permanent residents born before and
    from 2000; F, G, M: foreigners), seven digits and a check letter. The check letter is the
    weighted sum of the digits (weights 2 7 6 5 4 3 2, plus 4 for T and G, 3 for M) modulo 11,
    read from the prefix's table (ICA's published algorithm)."""
    from stdnum.exceptions import InvalidChecksum, InvalidFormat, InvalidLength

    number = _STRIP.sub("", value).upper()
    if len(number) != 9:
        raise InvalidLength()
    prefix, digits, check = number[0], number[1:8], number[8]
    if prefix not in "STFGM" or not digits.isdigit() or not check.isalpha():
        raise InvalidFormat()
    total = sum(int(d) * w for d, w in zip(digits, (2, 7, 6, 5, 4, 3, 2), strict=True))
    total += {"T": 4, "G": 4, "M": 3}.get(prefix, 0)
    table = {"S": "JZIHGFEDCBA", "T": "JZIHGFEDCBA", "F": "XWUTRQPNMLK", "G": "XWUTRQPNMLK",
             "M": "XWUTRQPNJLK"}[prefix]
    if table[total % 11] != check:
        raise InvalidChecksum()
    return number


# Checks that python-stdnum does not have, under the names the identifier table uses.
LOCAL_CHECKS = {"sg.nric": _sg_nric}

# What each kind of stdnum failure means, in words (stdnum's exception classes).
_FAILURE_WORDS = {
    "InvalidChecksum": "the check digit is wrong",
    "InvalidLength": "it has the wrong number of characters",
    "InvalidFormat": "it is not in the right format",
    "InvalidComponent": "a part of it (such as a date or a region) does not exist",
}


def _module_validate(module_name: str, value: str) -> tuple[str | None, str]:
    """(compact value, "") when the check accepts `value`, else (None, the reason in words)."""
    local = LOCAL_CHECKS.get(module_name)
    try:
        if local is not None:
            return local(value), ""
        module = importlib.import_module(f"stdnum.{module_name}")
        return module.validate(value), ""
    except StdnumError as exc:
        return None, _FAILURE_WORDS.get(type(exc).__name__, "it is not valid")


def check_name(module_name: str) -> str:
    """The identifier a check is for, in words ("Steuernummer", "NRIC/FIN")."""
    row = identifier_table().get("checks", {}).get(module_name, {})
    if row.get("name"):
        return row["name"]
    local = LOCAL_CHECKS.get(module_name)
    if local is not None:
        return module_name
    doc = (importlib.import_module(f"stdnum.{module_name}").__doc__ or module_name).strip().splitlines()[0]
    return doc.rstrip(".")


def has_check_digit(module_name: str) -> bool:
    """Whether the check verifies check digits (False: it proves the shape only)."""
    row = identifier_table().get("checks", {}).get(module_name)
    return bool(row.get("check", True)) if row else True


def _how_checked(module_name: str, compact: str) -> str:
    if module_name == "de.stnr":
        from stdnum.de import stnr

        regions = [region for region in stnr.REGIONS if stnr.is_valid(compact, region)]
        where = " or ".join(regions[:3]) + (" or another Land" if len(regions) > 3 else "")
        return f"Steuernummer in the format of {where}; a Steuernummer has no check digit we can verify"
    name = check_name(module_name)
    if has_check_digit(module_name):
        return f"{name}, check digit verified"
    return f"{name}, format checked (no check digit)"


def identifier_rule(kind: str, country: str) -> tuple[dict | None, bool]:
    """The table row for `kind` issued by `country`, and whether it is the country's own row
    (False: the default row for the kind)."""
    table = identifier_table()
    country_rule = table["countries"].get((country or "").upper(), {}).get(kind)
    return (country_rule or table["default"].get(kind)), country_rule is not None


def check_identifier(kind: str, country: str, value: str, *, entity: bool | None = None) -> IdentifierCheck:
    """Check `value` as an identifier of `kind` issued by `country`, for an individual
    (entity=False), an entity (True) or either (None). Never raises for a bad value: an invalid
    value comes back with `valid` False and the reasons in words."""
    raw = (value or "").strip()
    cc = (country or "").strip().upper()
    rule, own = identifier_rule(kind, cc)
    if rule is None:
        return IdentifierCheck(raw, "", valid=False, reasons=(f"no rule for identifiers of kind '{kind}'",))
    if entity is None:
        modules = list(dict.fromkeys(rule.get("modules", []) + rule.get("entity_modules", [])))
        patterns = [p for p in (rule.get("pattern"), rule.get("entity_pattern")) if p]
    elif entity:
        modules = rule.get("entity_modules") or rule.get("modules", [])
        patterns = [rule["entity_pattern"]] if rule.get("entity_pattern") else (
            [] if rule.get("entity_modules") else [p for p in [rule.get("pattern")] if p])
    else:
        modules = rule.get("modules", []) if (rule.get("modules") or not rule.get("entity_modules")) else []
        patterns = [p for p in [rule.get("pattern")] if p]
    reasons: list[str] = []
    for module_name in modules:
        compact, why = _module_validate(module_name, raw)
        if compact is not None:
            label = _how_checked(module_name, compact)
            if reasons and not has_check_digit(module_name):  # e.g. a wrong IdNr that has a Steuernummer's shape
                label = f"{'; '.join(reasons)}; accepted as a {label}"
            return IdentifierCheck(compact, f"{'check' if module_name in LOCAL_CHECKS else 'stdnum'}:{module_name}",
                                   label=label, verified=has_check_digit(module_name))
        reasons.append(f"not a valid {check_name(module_name)} ({why})")
    compact = _STRIP.sub("", raw).upper()
    for pattern in patterns:
        if re.fullmatch(pattern, compact):
            scope = cc if own else "default"
            what = rule.get("description", "the expected format")
            return IdentifierCheck(compact, f"pattern:{scope}.{kind}", label=f"format checked: {what} (no check digit)",
                                   verified=False)
    if patterns:
        reasons.append(f"does not match the format: {rule.get('description', 'see the identifier table')}")
    return IdentifierCheck(raw, "", valid=False, reasons=tuple(reasons))


def mask_identifier(kind: str, value: str | None) -> str:
    """The one masking rule for identifiers: public registers (LEI, company registration numbers)
    are shown in full; every other kind is masked to its last four characters."""
    if kind in identifier_table().get("public_kinds", []):
        return value or ""
    return mask(value)


def validate_identifier(kind: str, country: str, value: str, *, field: str | None = None,
                        entity: bool | None = None) -> IdentifierCheck:
    """Validate an identifier of `kind` (tax_id, national_id, passport, registration, lei) issued
    by `country`. Returns the compact value and how it was checked; raises ValidationFailed with
    the reasons in words."""
    field = field or kind
    raw = (value or "").strip()
    if not raw:
        raise ValidationFailed(f"{field}: a value is required", detail={field: "required"})
    if kind == "lei":
        try:
            return IdentifierCheck(stdnum_lei.validate(raw), "stdnum:lei", label="LEI, check digits verified")
        except StdnumError as exc:
            why = _FAILURE_WORDS.get(type(exc).__name__, "it is not valid")
            raise ValidationFailed(f"{field}: '{raw}' is not a valid LEI ({why})", detail={field: [why]}) from exc
    country = validate_country(country, field=f"{field} country")
    if identifier_rule(kind, country)[0] is None:
        raise ValidationFailed(f"{field}: unknown identifier kind '{kind}'", detail={field: kind})
    check = check_identifier(kind, country, raw, entity=entity)
    if check.valid:
        return check
    name = pycountry.countries.get(alpha_2=country).name
    what = IDENTIFIER_WORDS.get(kind, kind.replace("_", " "))
    raise ValidationFailed(
        f"{field}: '{raw}' is not a valid {what} for {name} ({country}): {'; '.join(check.reasons)}",
        detail={field: list(check.reasons)},
    )


IDENTIFIER_WORDS = {"tax_id": "tax identification number", "national_id": "national identity number",
                    "passport": "passport number", "registration": "company registration number"}


def validator_kind_for(country: str, kind: str) -> str:
    """'stdnum' when python-stdnum validates this country's `kind`, else 'pattern'."""
    rule = identifier_table()["countries"].get(country.upper(), {}).get(kind)
    return "stdnum" if rule and rule.get("modules") else "pattern"
