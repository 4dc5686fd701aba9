"""Eligibility engine: may this investor hold this instrument? Plain Python, no ORM.

Rules are `EligibilityRule` rows (loaded from eligibility.yaml) turned into `Rule` values by
`trading.reference.selectors.eligibility_rules`. An instrument carries tags; every rule whose
tag it carries and whose scope covers the investor must be satisfied.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Investor:
    """What eligibility needs to know about an account."""

    investor_type: str
    booking_jurisdiction: str
    booking_centre_kind: str
    is_us_person: bool


@dataclass(frozen=True)
class Rule:
    code: str
    tag: str
    description: str
    source: str
    effective_from: dt.date
    effective_to: dt.date | None = None
    applies_to_booking_jurisdictions: frozenset[str] = field(default_factory=frozenset)
    allowed_investor_types: frozenset[str] = field(default_factory=frozenset)
    allowed_booking_jurisdictions: frozenset[str] = field(default_factory=frozenset)
    allowed_booking_centre_kinds: frozenset[str] = field(default_factory=frozenset)
    us_persons_allowed: bool = True

    def in_force(self, on: dt.date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on < self.effective_to)

    def violations(self, investor: Investor) -> list[str]:
        """Why `investor` fails this rule (empty if it passes or the rule does not apply)."""
        if self.applies_to_booking_jurisdictions and investor.booking_jurisdiction not in self.applies_to_booking_jurisdictions:
            return []
        reasons = []
        if self.allowed_investor_types and investor.investor_type not in self.allowed_investor_types:
            reasons.append(f"investor type {investor.investor_type} not in {sorted(self.allowed_investor_types)}")
        if self.allowed_booking_jurisdictions and investor.booking_jurisdiction not in self.allowed_booking_jurisdictions:
            reasons.append(
                f"booked in {investor.booking_jurisdiction}, must be in {sorted(self.allowed_booking_jurisdictions)}"
            )
        if self.allowed_booking_centre_kinds and investor.booking_centre_kind not in self.allowed_booking_centre_kinds:
            reasons.append(f"booking centre {investor.booking_centre_kind} not allowed")
        if not self.us_persons_allowed and investor.is_us_person:
            reasons.append("US persons may not hold it")
        return reasons


@dataclass(frozen=True)
class Ineligibility:
    rule: str
    tag: str
    reason: str
    source: str


def check(investor: Investor, tags: Iterable[str], rules: Sequence[Rule], *, on: dt.date) -> list[Ineligibility]:
    """Every reason `investor` may not hold an instrument carrying `tags` on date `on`."""
    tagset = set(tags)
    out = []
    for rule in rules:
        if rule.tag in tagset and rule.in_force(on):
            for reason in rule.violations(investor):
                out.append(Ineligibility(rule=rule.code, tag=rule.tag, reason=f"{rule.description}: {reason}", source=rule.source))
    return out


def matrix(
    investors: Sequence[Investor], instrument_tags: Sequence[Iterable[str]], rules: Sequence[Rule], *, on: dt.date
) -> np.ndarray:
    """Boolean array [investor, instrument]: True where the investor may hold the instrument.

    Work is per (investor profile, tag) rather than per cell: thousands of accounts share a
    handful of profiles and instruments a handful of tags."""
    in_force = [r for r in rules if r.in_force(on)]
    tag_sets = [frozenset(t) for t in instrument_tags]
    all_tags = sorted({t for s in tag_sets for t in s} & {r.tag for r in in_force})
    result = np.ones((len(investors), len(tag_sets)), dtype=bool)
    if not all_tags:
        return result
    tag_index = {t: i for i, t in enumerate(all_tags)}
    # instrument x tag incidence
    incidence = np.zeros((len(tag_sets), len(all_tags)), dtype=bool)
    for j, tags in enumerate(tag_sets):
        for t in tags:
            if t in tag_index:
                incidence[j, tag_index[t]] = True
    profiles: dict[Investor, np.ndarray] = {}
    for i, investor in enumerate(investors):
        blocked = profiles.get(investor)
        if blocked is None:
            blocked = np.array(
                [any(r.violations(investor) for r in in_force if r.tag == t) for t in all_tags], dtype=bool
            )
            profiles[investor] = blocked
        if blocked.any():
            result[i] = ~(incidence[:, blocked].any(axis=1))
    return result
