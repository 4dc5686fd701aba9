"""How long a tax form stays valid, and which changes of circumstance void it."""
from __future__ import annotations

import datetime as dt
from typing import Any

from . import rulefiles


def valid_until(form_type: str, signed_on: dt.date, rules: dict[str, Any] | None = None) -> dt.date | None:
    """W-8 forms: to 31 December of the third year after the year of signing. None: no fixed
    expiry (valid until a change in circumstances)."""
    row = (rules or rulefiles.form_rules())["validity"].get(form_type) or {}
    years = row.get("years")
    if not years:
        return None
    return dt.date(signed_on.year + int(years), 12, 31)


def voiding_changes(form_type: str, rules: dict[str, Any] | None = None) -> set[str]:
    row = (rules or rulefiles.form_rules())["validity"].get(form_type) or {}
    return set(row.get("void_on") or [])


def expiry_warning_days(rules: dict[str, Any] | None = None) -> int:
    return int((rules or rulefiles.form_rules())["validity"].get("expiry_warning_days", 90))


def snapshot_changes(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    """Which circumstances differ between two party snapshots (see selectors.party_snapshot):
    'name', 'residence', 'address', 'tin'."""
    changed: set[str] = set()
    for key in ("name", "residence", "address", "tin"):
        if before.get(key) != after.get(key):
            changed.add(key)
    return changed


def void_reasons(form_type: str, before: dict[str, Any], after: dict[str, Any],
                 rules: dict[str, Any] | None = None) -> set[str]:
    """The changes that void a form of `form_type` captured with `before`, now that the party is `after`."""
    return snapshot_changes(before, after) & voiding_changes(form_type, rules)
