"""TIN validation per issuing country through the one identifier table (onboarding/identifiers.yaml:
python-stdnum where it has a module, a format-only pattern where it has none), and the CRS reasons
A/B/C for a missing TIN."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from onboarding.validation import check_identifier, identifier_table

from . import rulefiles


@dataclass(frozen=True)
class TinCheck:
    country: str
    value: str  # normalised (compact) form when valid, else as given
    valid: bool
    method: str  # "stdnum:gb.utr", "check:sg.nric", "pattern", "fallback", "none"
    message: str = ""
    verified: bool = False  # True when check digits were verified, not just the shape


def validate_tin(country: str, value: str, *, entity: bool = False, table: dict[str, Any] | None = None) -> TinCheck:
    """Validate `value` as a TIN issued by `country` for an individual (or an entity), with the
    one identifier table the party pages use (onboarding/identifiers.yaml, kind tax_id)."""
    cc = (country or "").upper()
    raw = (value or "").strip()
    if not raw:
        return TinCheck(cc, raw, False, "none", "no TIN given")
    check = check_identifier("tax_id", cc, raw, entity=entity)
    if check.valid:
        if check.validator.startswith("pattern:default"):
            return TinCheck(cc, check.value, True, "fallback", f"no TIN rule for {cc}: format accepted, not verified")
        method = "pattern" if check.validator.startswith("pattern:") else check.validator
        return TinCheck(cc, check.value, True, method, check.label, verified=check.verified)
    if cc not in identifier_table()["countries"]:
        return TinCheck(cc, raw, False, "fallback", f"{raw!r} does not look like a TIN")
    return TinCheck(cc, raw, False, "pattern", "; ".join(check.reasons))


@dataclass(frozen=True)
class NoTinCheck:
    country: str
    reason: str
    valid: bool
    message: str = ""


def validate_missing_tin(
    country: str, reason: str, explanation: str = "", *, table: dict[str, Any] | None = None
) -> NoTinCheck:
    """Check a CRS reason for not giving a TIN: A (country issues none), B (unable to obtain,
    must be explained), C (not required)."""
    table = table or rulefiles.tins()
    cc = (country or "").upper()
    reason = (reason or "").strip().upper()
    reasons = table.get("no_tin_reasons") or {}
    row = table["countries"].get(cc, {})
    if not reason:
        return NoTinCheck(cc, reason, False, f"no TIN for {cc} and no reason (A, B or C) given")
    if reason not in reasons:
        return NoTinCheck(cc, reason, False, f"unknown reason {reason!r}: use one of {', '.join(reasons)}")
    if reason == "A" and row.get("issues_tins", True):
        return NoTinCheck(cc, reason, False, f"reason A: {cc} issues TINs to its residents")
    if reason == "B" and not (explanation or "").strip():
        return NoTinCheck(cc, reason, False, "reason B needs an explanation of why no TIN could be obtained")
    if reason == "C" and row.get("tin_required", True):
        return NoTinCheck(cc, reason, False, f"reason C: {cc} requires the TIN to be collected")
    return NoTinCheck(cc, reason, True, reasons[reason])


def guess_us_tin_type(value: str) -> str:
    """'ssn', 'itin', 'ein', 'atin' or '' for a US TIN."""
    from stdnum.us import tin as us_tin

    kinds = us_tin.guess_type(value or "")
    return kinds[0] if kinds else ""
