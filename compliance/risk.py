"""The risk-rating engine: a risk model (compliance/risk_models/*.yaml) applied to a party's
facts. Plain Python, no ORM.

Factor scores (0-100) come from lookups or bands; a group's score is the maximum of its
factors; the overall score is the weighted sum of group scores (weights sum to 1); the first
threshold the score reaches gives the level and the review period; floors raise the level
whatever the score (a PEP is high risk)."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import yaml

from onboarding import safeyaml

from .exceptions import RiskModelError

MODEL_DIR = Path(__file__).resolve().parent / "risk_models"
LEVELS = ("low", "medium", "high")
UNRATED = "unrated"  # no model has rated the client yet


@dataclass(frozen=True)
class RiskFacts:
    client_type: str
    countries: tuple[str, ...] = ()
    is_pep: bool = False
    sanctioned: bool = False  # a confirmed sanctions match on the party or anyone above it
    ownership_layers: int = 0
    has_cycles: bool = False
    source_of_wealth: str = "missing"  # documented | declared | missing
    product: str = "discretionary_sma"
    channel: str = "intermediated"

    def value(self, factor: str):
        return {
            "country": self.countries,
            "client_type": self.client_type,
            "pep": self.is_pep,
            "sanctions": self.sanctioned,
            "ownership_layers": self.ownership_layers,
            "ownership_cycles": self.has_cycles,
            "source_of_wealth": self.source_of_wealth,
            "product": self.product,
            "channel": self.channel,
        }[factor]


@dataclass
class RiskResult:
    score: Decimal
    level: str
    review_months: int
    detail: dict = field(default_factory=dict)

    def next_review_due(self, today: dt.date) -> dt.date:
        month_index = today.month - 1 + self.review_months
        year, month = today.year + month_index // 12, month_index % 12 + 1
        for day in (today.day, 30, 29, 28):
            try:
                return dt.date(year, month, min(today.day, day))
            except ValueError:
                continue
        raise AssertionError("unreachable")


KNOWN_FACTORS = {"country", "client_type", "pep", "sanctions", "ownership_layers", "ownership_cycles", "source_of_wealth",
                 "product", "channel"}


def _fail(where: str, path: str, problem: str) -> None:
    raise RiskModelError(f"{where}: {path}: {problem}", detail={"file": where, "field": path})


def validate_model(content: dict, *, where: str = "risk model") -> dict:
    """Check a model's structure; raise RiskModelError naming the field."""
    if not isinstance(content, dict):
        _fail(where, "(root)", "not a mapping")
    for key in ("code", "name", "effective_from", "groups", "thresholds"):
        if key not in content:
            _fail(where, key, "missing")
    try:
        dt.date.fromisoformat(str(content["effective_from"]))
    except ValueError:
        _fail(where, "effective_from", f"not a date: {content['effective_from']!r}")
    total = Decimal("0")
    for gname, group in content["groups"].items():
        if "weight" not in group or "factors" not in group:
            _fail(where, f"groups.{gname}", "needs weight and factors")
        total += Decimal(str(group["weight"]))
        for fname, factor in group["factors"].items():
            path = f"groups.{gname}.factors.{fname}"
            if fname not in KNOWN_FACTORS:
                _fail(where, path, f"unknown factor (known: {sorted(KNOWN_FACTORS)})")
            for key in ("kind", "source", "effective_from"):
                if key not in factor:
                    _fail(where, f"{path}.{key}", "missing")
            if factor["kind"] in ("lookup", "lookup_max"):
                if not isinstance(factor.get("scores"), dict):
                    _fail(where, f"{path}.scores", "missing")
                for k, v in factor["scores"].items():
                    if not 0 <= float(v) <= 100:
                        _fail(where, f"{path}.scores.{k}", "score must be 0-100")
            elif factor["kind"] == "bands":
                if not factor.get("bands"):
                    _fail(where, f"{path}.bands", "missing")
            else:
                _fail(where, f"{path}.kind", f"unknown kind {factor['kind']!r}")
    if total != Decimal("1"):
        _fail(where, "groups.*.weight", f"weights must sum to 1, not {total}")
    levels = [t.get("level") for t in content["thresholds"]]
    if sorted(levels) != sorted(LEVELS):
        _fail(where, "thresholds", f"need exactly one threshold for each of {LEVELS}")
    for i, t in enumerate(content["thresholds"]):
        for key in ("min_score", "review_months", "source", "effective_from"):
            if key not in t:
                _fail(where, f"thresholds[{i}].{key}", "missing")
    for i, floor in enumerate(content.get("floors", [])):
        for key in ("factor", "min_factor_score", "level", "source", "effective_from"):
            if key not in floor:
                _fail(where, f"floors[{i}].{key}", "missing")
    return content


def _jsonable(content):
    return json.loads(json.dumps(content, default=str))


def load_model_file(path: str | Path) -> dict:
    path = Path(path)
    try:
        content = safeyaml.load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RiskModelError(f"{path}: {exc}", detail={"file": str(path)}) from exc
    return _jsonable(validate_model(content, where=str(path)))


def checksum(content: dict) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def _factor_score(factor: dict, value) -> Decimal:
    kind = factor["kind"]
    if kind == "bands":
        for band in factor["bands"]:
            if value <= band["max"]:
                return Decimal(str(band["score"]))
        return Decimal(str(factor["bands"][-1]["score"]))
    scores = {str(k).lower(): v for k, v in factor["scores"].items()}
    default = Decimal(str(factor.get("default", 0)))
    if kind == "lookup_max":
        values = list(value) or []
        if not values:
            return default
        return max(Decimal(str(scores.get(str(v).lower(), factor.get("default", 0)))) for v in values)
    key = str(value).lower()
    return Decimal(str(scores[key])) if key in scores else default


def rate(content: dict, facts: RiskFacts) -> RiskResult:
    detail: dict = {"groups": {}, "floors": []}
    factor_scores: dict[str, Decimal] = {}
    total = Decimal("0")
    for gname, group in content["groups"].items():
        scores = {}
        for fname, factor in group["factors"].items():
            scores[fname] = _factor_score(factor, facts.value(fname))
            factor_scores[fname] = scores[fname]
        group_score = max(scores.values()) if scores else Decimal("0")
        weight = Decimal(str(group["weight"]))
        total += weight * group_score
        detail["groups"][gname] = {"score": str(group_score), "weight": str(weight),
                                   "factors": {k: str(v) for k, v in scores.items()}}
    total = total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    thresholds = sorted(content["thresholds"], key=lambda t: -float(t["min_score"]))
    chosen = next(t for t in thresholds if total >= Decimal(str(t["min_score"])))
    level = chosen["level"]
    for floor in content.get("floors", []):
        fs = factor_scores.get(floor["factor"])
        if fs is not None and fs >= Decimal(str(floor["min_factor_score"])) and \
                LEVELS.index(floor["level"]) > LEVELS.index(level):
            level = floor["level"]
            detail["floors"].append({"factor": floor["factor"], "level": floor["level"], "source": floor["source"]})
    months = next(int(t["review_months"]) for t in content["thresholds"] if t["level"] == level)
    detail["score"] = str(total)
    detail["level"] = level
    return RiskResult(score=total, level=level, review_months=months, detail=detail)
