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
from .exceptions import ValidationFailed

IDENTIFIER_TABLE = Path(__file__).with_name("identifiers.yaml")
_STRIP = re.compile(r"[\s.\-/()]")


@dataclass(frozen=True)
class IdentifierCheck:
    value: str  # the compact, canonical form to store
    validator: str  # "stdnum:us.ssn" or "pattern:US.tax_id"


@lru_cache(maxsize=1)
def identifier_table() -> dict:
    with IDENTIFIER_TABLE.open(encoding="utf-8") as handle:
        return safeyaml.load(handle.read())


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


def _module_validate(module_name: str, value: str) -> str | None:
    module = importlib.import_module(f"stdnum.{module_name}")
    try:
        return module.validate(value)
    except StdnumError:
        return None


def validate_identifier(kind: str, country: str, value: str, *, field: str | None = None) -> IdentifierCheck:
    """Validate an identifier of `kind` (tax_id, national_id, passport, registration, lei) issued
    by `country`. Returns the compact value and how it was checked; raises ValidationFailed."""
    field = field or kind
    raw = (value or "").strip()
    if not raw:
        raise ValidationFailed(f"{field}: a value is required", detail={field: "required"})
    if kind == "lei":
        try:
            return IdentifierCheck(stdnum_lei.validate(raw), "stdnum:lei")
        except StdnumError as exc:
            raise ValidationFailed(f"{field}: '{raw}' is not a valid LEI ({exc})", detail={field: str(exc)}) from exc
    country = validate_country(country, field=f"{field} country")
    table = identifier_table()
    country_rule = table["countries"].get(country, {}).get(kind)
    rule = country_rule or table["default"].get(kind)
    if rule is None:
        raise ValidationFailed(f"{field}: unknown identifier kind '{kind}'", detail={field: kind})
    reasons: list[str] = []
    for module_name in rule.get("modules", []):
        compact = _module_validate(module_name, raw)
        if compact is not None:
            return IdentifierCheck(compact, f"stdnum:{module_name}")
        reasons.append(f"not a valid {module_name}")
    pattern = rule.get("pattern")
    if pattern:
        compact = _STRIP.sub("", raw).upper()
        if re.fullmatch(pattern, compact):
            scope = country if country_rule else "default"
            return IdentifierCheck(compact, f"pattern:{scope}.{kind}")
        reasons.append(f"does not match the format: {rule.get('description', pattern)}")
    raise ValidationFailed(
        f"{field}: '{raw}' is not a valid {kind.replace('_', ' ')} for {country} ({'; '.join(reasons)})",
        detail={field: reasons},
    )


def validator_kind_for(country: str, kind: str) -> str:
    """'stdnum' when python-stdnum validates this country's `kind`, else 'pattern'."""
    rule = identifier_table()["countries"].get(country.upper(), {}).get(kind)
    return "stdnum" if rule and rule.get("modules") else "pattern"
