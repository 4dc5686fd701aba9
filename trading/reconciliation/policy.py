"""Tolerances, price units and SLA rules, read from the versioned YAML files under
`rules/` (and loaded into `RuleSet` rows by `services.rules_load`). Plain Python."""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import yaml

RULES_DIR = Path(__file__).resolve().parent / "rules"


@dataclass(frozen=True)
class Tolerances:
    quantity_absolute: Decimal = Decimal(0)
    cash_absolute: Decimal = Decimal("0.01")
    price_relative: Decimal = Decimal("0.0001")
    price_source_band_relative: Decimal = Decimal("0.02")
    fx_relative: Decimal = Decimal("0.0005")
    market_value_min_base: Decimal = Decimal(1)
    corporate_action_window_days: int = 5
    rule: str = "default"


@dataclass(frozen=True)
class SlaRule:
    code: str
    min_amount_base: Decimal
    min_age_hours: int
    priority: int
    due_hours: int


def read_yaml(name: str) -> dict:
    path = RULES_DIR / name
    return _cached_yaml(str(path), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _cached_yaml(path: str, mtime_ns: int) -> dict:
    """Parsed once per file version (the key carries the modification time). Do not mutate."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(Path(path).read_text(), Loader=loader)


def _effective(rule: dict, on: dt.date) -> bool:
    start = rule.get("effective_from")
    start = dt.date.fromisoformat(str(start)) if start else dt.date.min
    return start <= on


def tolerances_for(custodian: str = "", *, on: dt.date | None = None, spec: dict | None = None) -> Tolerances:
    spec = spec or read_yaml("tolerances.yaml")
    on = on or dt.date.today()
    values: dict = {}
    code = "default"
    for rule in spec["rules"]:
        if not _effective(rule, on):
            continue
        if not rule.get("custodian") or rule.get("custodian") == custodian:
            values.update({k: v for k, v in rule.items() if k in Tolerances.__dataclass_fields__})
            code = rule["code"]
    kwargs = {k: (int(v) if k == "corporate_action_window_days" else Decimal(str(v))) for k, v in values.items()}
    return Tolerances(**kwargs, rule=code)


def price_units(spec: dict | None = None) -> dict[str, tuple[str, Decimal]]:
    spec = spec or read_yaml("tolerances.yaml")
    return {code: (u["currency"], Decimal(str(u["divisor"]))) for code, u in (spec.get("price_units") or {}).items()}


def sla_rules(spec: dict | None = None, *, on: dt.date | None = None) -> list[SlaRule]:
    spec = spec or read_yaml("sla.yaml")
    on = on or dt.date.today()
    rules = [r for r in spec["rules"] if _effective(r, on)] or spec["rules"]  # older statements: first version
    return [SlaRule(code=r["code"], min_amount_base=Decimal(str(r["min_amount_base"])),
                    min_age_hours=int(r["min_age_hours"]), priority=int(r["priority"]),
                    due_hours=int(r["due_hours"])) for r in rules]


def priority_for(amount_base: Decimal, age_hours: float, rules: list[SlaRule]) -> SlaRule:
    for rule in rules:
        if abs(amount_base) >= rule.min_amount_base and age_hours >= rule.min_age_hours:
            return rule
    return rules[-1]
