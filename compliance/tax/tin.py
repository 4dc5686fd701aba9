"""TIN validation per issuing country: python-stdnum where it has a module, a format-only
pattern where it has none (tins.yaml), and the CRS reasons A/B/C for a missing TIN."""
from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Any

from stdnum.exceptions import ValidationError

from . import rulefiles


@dataclass(frozen=True)
class TinCheck:
    country: str
    value: str  # normalised (compact) form when valid, else as given
    valid: bool
    method: str  # "stdnum:gb.utr", "pattern", "fallback", "none"
    message: str = ""

    @property
    def verified(self) -> bool:
        """True when check digits were verified (stdnum), not just the shape."""
        return self.valid and self.method.startswith("stdnum:")


def _module(name: str):
    return importlib.import_module(f"stdnum.{name}")


def validate_tin(country: str, value: str, *, entity: bool = False, table: dict[str, Any] | None = None) -> TinCheck:
    """Validate `value` as a TIN issued by `country` for an individual (or an entity)."""
    table = table or rulefiles.tins()
    cc = (country or "").upper()
    raw = (value or "").strip()
    if not raw:
        return TinCheck(cc, raw, False, "none", "no TIN given")
    row = table["countries"].get(cc)
    if row is None:
        pattern = table.get("fallback_pattern")
        if pattern and re.fullmatch(pattern, raw):
            return TinCheck(cc, raw, True, "fallback", f"no TIN rule for {cc}: format accepted, not verified")
        return TinCheck(cc, raw, False, "fallback", f"{raw!r} does not look like a TIN")
    modules = (row.get("entity_modules") if entity else None) or row.get("modules") or []
    errors: list[str] = []
    for name in modules:
        mod = _module(name)
        try:
            compact = mod.validate(raw)
        except ValidationError as exc:
            errors.append(f"{name}: {getattr(exc, 'message', str(exc))}")
            continue
        return TinCheck(cc, str(compact), True, f"stdnum:{name}")
    if entity:
        pattern = row.get("entity_pattern") or (None if row.get("entity_modules") else row.get("pattern"))
    else:
        pattern = row.get("pattern")
    if pattern:
        candidate = raw.upper().replace(" ", "")
        if re.fullmatch(pattern, candidate):
            return TinCheck(cc, candidate, True, "pattern", "format accepted, check digits not verified")
        errors.append(f"does not match the {cc} format")
    return TinCheck(cc, raw, False, "stdnum:" + ",".join(modules) if modules else "pattern", "; ".join(errors))


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
