"""Reading the tax rule files (YAML beside this module). Plain Python, no ORM.

Every rule row must carry `source` and `effective_from`; a file that breaks this is rejected
whole, naming the file and the row."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from onboarding import safeyaml

from .exceptions import TaxRuleFileInvalid

RULES_DIR = Path(__file__).resolve().parent


def _read(path: Path) -> dict[str, Any]:
    try:
        data = safeyaml.load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TaxRuleFileInvalid(f"{path.name}: cannot read: {exc}", detail={"file": path.name}) from exc
    if not isinstance(data, dict):
        raise TaxRuleFileInvalid(f"{path.name}: top level must be a mapping", detail={"file": path.name})
    return data


def _require(path: Path, where: str, row: dict[str, Any], fields: tuple[str, ...]) -> None:
    for name in fields:
        if row.get(name) in (None, ""):
            raise TaxRuleFileInvalid(
                f"{path.name}: {where}: missing field '{name}'",
                detail={"file": path.name, "row": where, "field": name},
            )
    if "effective_from" in fields and not isinstance(row["effective_from"], dt.date):
        raise TaxRuleFileInvalid(
            f"{path.name}: {where}: effective_from must be a date (YYYY-MM-DD)",
            detail={"file": path.name, "row": where, "field": "effective_from"},
        )


def _decimal(path: Path, where: str, value: Any, field: str) -> Decimal:
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise TaxRuleFileInvalid(
            f"{path.name}: {where}: '{field}' is not a number: {value!r}",
            detail={"file": path.name, "row": where, "field": field},
        ) from exc
    if not Decimal(0) <= result <= Decimal(100):
        raise TaxRuleFileInvalid(
            f"{path.name}: {where}: '{field}' must be a percentage 0-100",
            detail={"file": path.name, "row": where, "field": field},
        )
    return result


def _country(path: Path, where: str, value: Any) -> str:
    """A two-letter ISO code. YAML reads an unquoted NO (Norway) as false: quote it."""
    if not isinstance(value, str) or len(value) != 2 or not value.isalpha():
        raise TaxRuleFileInvalid(
            f"{path.name}: {where}: {value!r} is not a two-letter country code (quote NO, ON, ...)",
            detail={"file": path.name, "row": where, "field": "country"},
        )
    return value.upper()


def load_treaties(path: Path | None = None) -> dict[str, Any]:
    path = path or RULES_DIR / "treaties.yaml"
    data = _read(path)
    rows = data.get("rows")
    if not isinstance(rows, list) or not rows:
        raise TaxRuleFileInvalid(f"{path.name}: 'rows' must be a non-empty list", detail={"file": path.name})
    income_types = set((data.get("income_types") or {}).keys())
    seen: set[tuple[str, str, dt.date]] = set()
    for i, row in enumerate(rows, start=1):
        where = f"row {i}"
        _require(path, where, row, ("country", "income_type", "article", "rate", "source", "effective_from"))
        row["rate"] = _decimal(path, where, row["rate"], "rate")
        row["country"] = _country(path, where, row["country"])
        if income_types and row["income_type"] not in income_types:
            raise TaxRuleFileInvalid(
                f"{path.name}: {where}: unknown income_type {row['income_type']!r}",
                detail={"file": path.name, "row": where, "field": "income_type"},
            )
        key = (row["country"], row["income_type"], row["effective_from"])
        if key in seen:
            raise TaxRuleFileInvalid(
                f"{path.name}: {where}: duplicate row for {key[0]} {key[1]} from {key[2]}",
                detail={"file": path.name, "row": where},
            )
        seen.add(key)
    data.setdefault("version", 1)
    return data


def load_withholding(path: Path | None = None) -> dict[str, Any]:
    path = path or RULES_DIR / "withholding.yaml"
    data = _read(path)
    rules = data.get("rules")
    if not isinstance(rules, list) or not rules:
        raise TaxRuleFileInvalid(f"{path.name}: 'rules' must be a non-empty list", detail={"file": path.name})
    for i, rule in enumerate(rules, start=1):
        where = f"rule {i} ({rule.get('code', '?')})"
        _require(path, where, rule, ("code", "priority", "rate", "source", "effective_from"))
        if not isinstance(rule.get("when"), dict):
            raise TaxRuleFileInvalid(
                f"{path.name}: {where}: 'when' must be a mapping", detail={"file": path.name, "row": where}
            )
        if rule["rate"] != "treaty":
            rule["rate"] = _decimal(path, where, rule["rate"], "rate")
    data.setdefault("version", 1)
    return data


def validate_form_rules(data: dict[str, Any], *, name: str = "form_rules.yaml") -> list[dict[str, Any]]:
    """Check a `tax_forms` list (from this app's file or a rule pack) and return it."""
    path = Path(name)
    rules = data.get("tax_forms")
    if not isinstance(rules, list) or not rules:
        raise TaxRuleFileInvalid(f"{name}: 'tax_forms' must be a non-empty list", detail={"file": name})
    from .forms_catalogue import FORM_TYPES

    for i, rule in enumerate(rules, start=1):
        where = f"tax_forms[{i}] ({rule.get('code', '?')})"
        _require(path, where, rule, ("code", "form", "reason", "source", "effective_from"))
        if rule["form"] not in FORM_TYPES:
            raise TaxRuleFileInvalid(
                f"{name}: {where}: unknown form {rule['form']!r}", detail={"file": name, "row": where, "field": "form"}
            )
        if not isinstance(rule.get("when", {}), dict):
            raise TaxRuleFileInvalid(f"{name}: {where}: 'when' must be a mapping", detail={"file": name, "row": where})
        if rule.get("per") not in (None, "controlling_person"):
            raise TaxRuleFileInvalid(f"{name}: {where}: unknown 'per'", detail={"file": name, "row": where})
    return rules


def load_form_rules(path: Path | None = None) -> dict[str, Any]:
    path = path or RULES_DIR / "form_rules.yaml"
    data = _read(path)
    validate_form_rules(data, name=path.name)
    for section in ("entity_classification", "us_person", "indicia"):
        if section not in data:
            raise TaxRuleFileInvalid(f"{path.name}: missing section '{section}'", detail={"file": path.name})
        _require(path, section, data[section], ("source", "effective_from"))
    for key in ("organisation_codes", "residence_codes", "citizenship_codes", "territories"):
        for i, code in enumerate(data["us_person"].get(key) or []):
            _country(path, f"us_person.{key}[{i}]", code)
    for form, row in (data.get("validity") or {}).items():
        if isinstance(row, dict):
            _require(path, f"validity.{form}", row, ("source", "effective_from"))
    _check_status_consistency(path, data)
    return data


def _check_status_consistency(path: Path, data: dict[str, Any]) -> None:
    """`status_consistency` names only chapter 4 statuses and CRS classifications the form knows."""
    table = data.get("status_consistency")
    if table is None:
        return
    _require(path, "status_consistency", table, ("source", "effective_from"))
    statuses = data.get("statuses") or {}
    for ch4, allowed in (table.get("crs_for_chapter4") or {}).items():
        where = f"status_consistency.crs_for_chapter4.{ch4}"
        if ch4 not in statuses.get("chapter4", []):
            raise TaxRuleFileInvalid(f"{path.name}: {where}: unknown chapter 4 status", detail={"file": path.name, "row": where})
        unknown = [c for c in allowed or [] if c not in statuses.get("crs_entity", [])]
        if unknown or not allowed:
            raise TaxRuleFileInvalid(f"{path.name}: {where}: unknown CRS classification {unknown or allowed!r}",
                                     detail={"file": path.name, "row": where})


def load_tins(path: Path | None = None) -> dict[str, Any]:
    """The TIN rows of the one identifier table (onboarding/identifiers.yaml, kind tax_id), in the
    shape the CRS checks read: {countries: {CC: row}, no_tin_reasons: {...}}."""
    from onboarding.validation import identifier_table

    table = identifier_table()
    countries = {cc: row["tax_id"] for cc, row in table["countries"].items() if "tax_id" in row}
    return {"countries": countries, "no_tin_reasons": table.get("no_tin_reasons", {}),
            "source": table.get("source", ""), "effective_from": table.get("effective_from")}


def load_crs_jurisdictions(path: Path | None = None) -> dict[str, Any]:
    """The CRS participating-jurisdiction list, flattened to {country: row} (each row with its
    own source, effective_from and first_exchange)."""
    path = path or RULES_DIR / "crs_jurisdictions.yaml"
    data = _read(path)
    groups = data.get("groups")
    if not isinstance(groups, list) or not groups:
        raise TaxRuleFileInvalid(f"{path.name}: 'groups' must be a non-empty list", detail={"file": path.name})
    table: dict[str, dict[str, Any]] = {}
    for i, group in enumerate(groups, start=1):
        where = f"groups[{i}]"
        _require(path, where, group, ("source", "effective_from", "first_exchange"))
        for code in group.get("countries") or []:
            cc = _country(path, f"{where}.countries", code)
            if cc in table:
                raise TaxRuleFileInvalid(f"{path.name}: {where}: {cc} listed twice",
                                         detail={"file": path.name, "row": where, "field": "countries"})
            table[cc] = {"country": cc, "source": group["source"], "effective_from": group["effective_from"],
                         "effective_to": group.get("effective_to"), "first_exchange": group["first_exchange"],
                         "verified": group.get("verified", True)}
    for cc in data.get("not_participating") or {}:
        if cc in table:
            raise TaxRuleFileInvalid(f"{path.name}: {cc} is both participating and not participating",
                                     detail={"file": path.name, "row": cc})
    return {"source": data.get("source", ""), "jurisdictions": table,
            "not_participating": dict(data.get("not_participating") or {})}


@cache
def crs_jurisdictions() -> dict[str, Any]:
    return load_crs_jurisdictions()


@cache
def treaties() -> dict[str, Any]:
    return load_treaties()


@cache
def withholding() -> dict[str, Any]:
    return load_withholding()


@cache
def form_rules() -> dict[str, Any]:
    return load_form_rules()


@cache
def tins() -> dict[str, Any]:
    return load_tins()


@cache
def reporting_codes() -> dict[str, Any]:
    path = RULES_DIR / "reporting_codes.yaml"
    data = _read(path)
    for section in ("form_1099", "form_1042s", "fatca"):
        if section not in data:
            raise TaxRuleFileInvalid(f"{path.name}: missing section '{section}'", detail={"file": path.name})
        _require(path, section, data[section], ("source", "effective_from"))
    return data
