"""The withholding rate on a payment, from the payee's documentation: plain Python over the
rules in withholding.yaml (or WithholdingRule rows, passed in as dicts)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from . import rulefiles
from .treaty import treaty_row


@dataclass(frozen=True)
class PayeeStatus:
    us_person: bool
    documented: bool  # a current, valid form of the right kind is on file
    certified_tin: bool = False
    exempt: bool = False
    treaty_country: str = ""  # residence country of a valid treaty claim
    treaty_income_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class WithholdingDecision:
    rate: Decimal  # percent
    rule: str
    description: str
    source: str
    treaty_article: str = ""

    @property
    def is_default(self) -> bool:
        return self.rule == "statutory_undocumented" or self.rule == "backup_withholding"


def _matches(when: dict[str, Any], facts: dict[str, Any]) -> bool:
    for key, expected in when.items():
        actual = facts.get(key)
        if isinstance(expected, list):
            if actual not in expected:
                return False
        elif actual != expected:
            return False
    return True


def withholding_rate(
    payee: PayeeStatus,
    *,
    income_type: str,
    on: dt.date,
    rules: list[dict[str, Any]] | None = None,
    treaty_rows: list[dict[str, Any]] | None = None,
) -> WithholdingDecision:
    rules = rules if rules is not None else rulefiles.withholding()["rules"]
    row = None
    if payee.treaty_country and income_type in payee.treaty_income_types:
        row = treaty_row(payee.treaty_country, income_type, on, treaty_rows)
    facts = {
        "us_person": payee.us_person,
        "documented": payee.documented,
        "certified_tin": payee.certified_tin,
        "exempt": payee.exempt,
        "treaty_claim": row is not None,
        "income_type": income_type,
    }
    for rule in sorted(rules, key=lambda r: r["priority"]):
        if rule["effective_from"] > on or not _matches(rule.get("when") or {}, facts):
            continue
        if rule["rate"] == "treaty":
            assert row is not None
            return WithholdingDecision(Decimal(row["rate"]), rule["code"], rule.get("description", ""),
                                       f"{rule['source']}; {row['source']}", str(row["article"]))
        return WithholdingDecision(Decimal(rule["rate"]), rule["code"], rule.get("description", ""), rule["source"])
    raise LookupError(f"no withholding rule applies to {facts}")
