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
    kind: str = "individual"  # individual | entity (the presumption rules differ)
    # Undocumented payee the presumption rules treat as foreign: an offshore obligation with
    # documentary evidence of foreign status (Treas. Reg. 1.6049-5(d)(2)), or an entity with foreign
    # indicia (organised outside the United States).
    presumed_foreign: bool = False


@dataclass(frozen=True)
class WithholdingDecision:
    rate: Decimal  # percent
    rule: str
    description: str
    source: str
    treaty_article: str = ""

    @property
    def is_default(self) -> bool:
        return self.rule in DEFAULT_RULES


DEFAULT_RULES = {"statutory_undocumented", "backup_withholding", "presumed_us_individual", "presumed_foreign"}


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
        "kind": payee.kind,
        "presumed_foreign": payee.presumed_foreign,
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


@dataclass(frozen=True)
class Allocation:
    """One line of a W-8IMY withholding statement: the share of the payment allocated to one
    underlying owner (partner, beneficiary, customer), with that owner's documentation."""

    name: str
    share: Decimal  # percent of the payment
    payee: PayeeStatus


@dataclass(frozen=True)
class BlendedDecision:
    rate: Decimal  # percent of the whole payment, to 3 decimals
    parts: tuple[tuple[str, Decimal, WithholdingDecision], ...]  # (name, share, decision)
    unallocated: Decimal  # percent of the payment no allocation covers (presumption rules)
    source: str = ("Treas. Reg. 1.1441-1(e)(3)(iv) (withholding statement), 1.1441-5(c)(3)(iv) and (d) "
                   "(look-through for a nonwithholding foreign partnership); Instructions for Form W-8IMY")


def blended_rate(
    allocations: list[Allocation], *, income_type: str, on: dt.date,
    rules: list[dict[str, Any]] | None = None, treaty_rows: list[dict[str, Any]] | None = None,
) -> BlendedDecision:
    """Look through an intermediary or flow-through entity: each allocated share suffers the rate
    of its own owner's documentation; any share left unallocated is treated as paid to an
    undocumented foreign payee (the presumption rules, 1.1441-5(d)(2)). Raises ValueError if the
    allocations exceed 100%."""
    total = sum((a.share for a in allocations), Decimal(0))
    if total > Decimal(100):
        raise ValueError(f"withholding statement allocates {total}% of the payment (more than 100%)")
    parts = []
    weighted = Decimal(0)
    for allocation in allocations:
        decision = withholding_rate(allocation.payee, income_type=income_type, on=on, rules=rules,
                                    treaty_rows=treaty_rows)
        parts.append((allocation.name, allocation.share, decision))
        weighted += allocation.share * decision.rate
    unallocated = Decimal(100) - total
    if unallocated:
        default = withholding_rate(PayeeStatus(us_person=False, documented=False, kind="entity"),
                                   income_type=income_type, on=on, rules=rules, treaty_rows=treaty_rows)
        parts.append(("(unallocated)", unallocated, default))
        weighted += unallocated * default.rate
    rate = (weighted / Decimal(100)).quantize(Decimal("0.001"))
    return BlendedDecision(rate=rate, parts=tuple(parts), unallocated=unallocated)
