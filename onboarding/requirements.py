"""Registries through which other apps extend onboarding without onboarding importing them.

- Requirement providers add outstanding items to a case (a tax form, a cleared screening alert).
- Activation checks add conditions to `assert_relationship_active` (a current tax form).
- Case hooks run on case events (screening on submission).

Each app registers in its AppConfig.ready().
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Outstanding:
    """One thing a case still needs, with the reason a person can act on."""

    code: str  # stable, e.g. "document.proof_of_address"
    subject: str  # who or what it is about, e.g. "party:12"
    reason: str  # "beneficial owner Jane Doe (32% through Acme Holdings) has no proof of address"
    category: str = "kyc"  # kyc | document | screening | tax | edd | approval
    source: str = ""  # the rule's citation
    detail: dict[str, Any] = field(default_factory=dict)
    # The rule behind the requirement, for the officer's desk to show beside it:
    # {"rule": "gb.trust", "pack": "GB", "source": "MLR 2017 reg. 6(1)(a)-(e): ...", "effective_from": "2017-06-26"}
    citation: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "subject": self.subject,
            "reason": self.reason,
            "category": self.category,
            "source": self.source,
            "detail": self.detail,
            "citation": self.citation,
        }


RequirementProvider = Callable[[Any], list[Outstanding]]  # (case) -> outstanding items
ActivationCheck = Callable[[Any], list[str]]  # (relationship) -> reasons it is not current
CaseHook = Callable[[Any, str], None]  # (case, event) ; event in {"submitted", "approved", ...}

_providers: dict[str, RequirementProvider] = {}
_screening_lists: set[str] = set()
_activation_checks: dict[str, ActivationCheck] = {}
_case_hooks: dict[str, CaseHook] = {}


def register_provider(name: str, provider: RequirementProvider) -> None:
    _providers[name] = provider


def register_activation_check(name: str, check: ActivationCheck) -> None:
    _activation_checks[name] = check


def register_case_hook(name: str, hook: CaseHook) -> None:
    _case_hooks[name] = hook


def register_screening_lists(codes: list[str] | tuple[str, ...]) -> None:
    """The watchlist codes an app can import (compliance registers its importers' sources), so
    that `rulepacks check` can report a list a pack names that nothing imports."""
    _screening_lists.update(codes)


def screening_lists() -> set[str]:
    return set(_screening_lists)


_crs_lookup: list[Callable[[str, Any], bool]] = []


def register_crs_lookup(lookup: Callable[[str, Any], bool]) -> None:
    """The authoritative CRS participating-jurisdiction test (country, date) -> bool; compliance
    registers its list so `rulepacks check` can report a pack that contradicts it."""
    _crs_lookup[:] = [lookup]


def crs_lookup() -> Callable[[str, Any], bool] | None:
    return _crs_lookup[0] if _crs_lookup else None


def providers() -> dict[str, RequirementProvider]:
    return dict(_providers)


def activation_checks() -> dict[str, ActivationCheck]:
    return dict(_activation_checks)


def case_hooks() -> dict[str, CaseHook]:
    return dict(_case_hooks)


@dataclass
class WorkQueue:
    """One of the compliance officer's work queues: what is waiting, how much, and where."""

    title: str
    count: int
    url: str
    rows: list[dict[str, Any]] = field(default_factory=list)  # a few of the oldest: label, url, age_days, detail
    severity: str = "normal"  # normal | warning | danger


WorkQueueProvider = Callable[[Any], WorkQueue]  # (user) -> queue
_work_queues: dict[str, WorkQueueProvider] = {}


def register_work_queue(name: str, provider: WorkQueueProvider) -> None:
    _work_queues[name] = provider


def work_queues() -> dict[str, WorkQueueProvider]:
    return dict(_work_queues)
