"""How long a tax form stays valid, and which changes of circumstance void it."""
from __future__ import annotations

import datetime as dt
from typing import Any

from . import rulefiles


def _matches(when: dict[str, Any], facts: dict[str, Any]) -> bool:
    for key, expected in when.items():
        actual = facts.get(key)
        if isinstance(expected, list) and actual not in expected:
            return False
        if not isinstance(expected, list) and actual != expected:
            return False
    return True


def indefinite_basis(form_type: str, data: dict[str, Any] | None, rules: dict[str, Any] | None = None) -> str:
    """The citation under which this form stays valid until a change in circumstances
    (Treas. Reg. 1.1441-1(e)(4)(ii)(B)), or "" when the ordinary period applies."""
    row = (rules or rulefiles.form_rules())["validity"].get(form_type) or {}
    data = data or {}
    facts = {"chapter3_status": data.get("chapter3_status", ""), "chapter4_status": data.get("chapter4_status", ""),
             "treaty_claim": bool(data.get("treaty_claim"))}
    for exception in row.get("indefinite") or []:
        if _matches(exception.get("when") or {}, facts):
            return str(exception["source"])
    return ""


def valid_until(form_type: str, signed_on: dt.date, rules: dict[str, Any] | None = None,
                data: dict[str, Any] | None = None) -> dt.date | None:
    """W-8 forms: to 31 December of the third year after the year of signing (1.1441-1(e)(4)(ii)(A)).
    None: no fixed expiry (valid until a change in circumstances), including the exceptions of
    1.1441-1(e)(4)(ii)(B) when `data` shows one applies."""
    row = (rules or rulefiles.form_rules())["validity"].get(form_type) or {}
    years = row.get("years")
    if not years or (data is not None and indefinite_basis(form_type, data, rules)):
        return None
    return dt.date(signed_on.year + int(years), 12, 31)


def voiding_changes(form_type: str, rules: dict[str, Any] | None = None) -> set[str]:
    row = (rules or rulefiles.form_rules())["validity"].get(form_type) or {}
    return set(row.get("void_on") or [])


def expiry_warning_days(rules: dict[str, Any] | None = None) -> int:
    return int((rules or rulefiles.form_rules())["validity"].get("expiry_warning_days", 90))


def _address_country(entry: str) -> str:
    return entry.rsplit("|", 1)[-1].upper() if "|" in entry else ""


def snapshot_changes(before: dict[str, Any], after: dict[str, Any],
                     rules: dict[str, Any] | None = None) -> set[str]:
    """Which circumstances differ between two party snapshots (see selectors.party_snapshot):
    'name', 'residence', 'tin', 'address' (any address line changed), 'address_us' (a US
    address that was not there before), 'address_country' (an address now in another non-US
    country, none of the earlier addresses was in)."""
    changed: set[str] = set()
    for key in ("name", "residence", "address", "tin"):
        if before.get(key) != after.get(key):
            changed.add(key)
    if "address" in changed:
        us = set((rules or rulefiles.form_rules())["indicia"]["address_codes"])
        old = set(before.get("address") or [])
        new_entries = [e for e in (after.get("address") or []) if e not in old]
        old_countries = {_address_country(e) for e in old}
        if any(_address_country(e) in us for e in new_entries):
            changed.add("address_us")
        if any(_address_country(e) not in old_countries | us for e in new_entries):
            changed.add("address_country")
    return changed


def void_reasons(form_type: str, before: dict[str, Any], after: dict[str, Any],
                 rules: dict[str, Any] | None = None) -> set[str]:
    """The changes that void a form of `form_type` captured with `before`, now that the party is `after`."""
    return snapshot_changes(before, after, rules) & voiding_changes(form_type, rules)
