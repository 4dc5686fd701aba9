"""Model delivery files: an asset manager's CSV of model portfolios, checked line by line.

One row per target line:

    model_code,model_name,provider,base_currency,effective_from,line_type,identifier,weight
    GLOBAL-EQ,Global equity,Acme AM,USD,2026-12-01,instrument,US0378331005,0.25
    GLOBAL-EQ,Global equity,Acme AM,USD,2026-12-01,cash,USD,0.05

`line_type` is `instrument` (identifier: ISIN), `cash` (identifier: ISO currency) or `sleeve`
(identifier: code of another model, earlier in the file or already loaded). A model's weights
sum to 1. Any bad line rejects the whole file, naming the file, line and field.
"""
from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from onboarding.money import is_currency
from trading.reference.identifiers import is_valid

from .exceptions import ModelFileError

COLUMNS = ["model_code", "model_name", "provider", "base_currency", "effective_from", "line_type", "identifier", "weight"]
HEADER_FIELDS = ("model_name", "provider", "base_currency", "effective_from")
TOLERANCE = Decimal("0.000001")


@dataclass
class ParsedModel:
    code: str
    name: str
    provider: str
    base_currency: str
    effective_from: date
    first_line: int
    lines: list[tuple[str, str, Decimal]] = field(default_factory=list)  # (line_type, identifier, weight)

    @property
    def checksum(self) -> str:
        body = "|".join([self.code, self.name, self.provider, self.base_currency, self.effective_from.isoformat()] + [
            f"{t}:{i}:{w.normalize()}" for t, i, w in sorted(self.lines)])
        return hashlib.sha256(body.encode()).hexdigest()


def _error(path: str, line: int | None, fieldname: str, message: str) -> ModelFileError:
    where = f"{Path(path).name}:{line}" if line else Path(path).name
    return ModelFileError(f"{where}: {fieldname}: {message}",
                          detail={"file": Path(path).name, "line": line, "field": fieldname})


def _checked(reader, fail):
    """Rows of a csv reader; a csv.Error (a field over the size limit...) becomes fail(line, problem)."""
    rows = iter(reader)
    while True:
        try:
            yield next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            raise fail(reader.reader.line_num, str(exc)) from None  # the line being read


def parse(
    text: str, *, path: str, isin_known: Callable[[set[str]], set[str]], model_known: Callable[[set[str]], set[str]]
) -> list[ParsedModel]:
    """Parse and check a delivery. `isin_known(isins)` / `model_known(codes)` return the subset
    already on file."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = reader.fieldnames
    except csv.Error as exc:  # e.g. a field over the csv module's size limit
        raise _error(path, 1, "header", str(exc)) from None
    if header is None or [c.strip() for c in header] != COLUMNS:
        raise _error(path, 1, "header", f"expected columns {','.join(COLUMNS)}")
    models: dict[str, ParsedModel] = {}
    rows = []
    for row in _checked(reader, lambda line, problem: _error(path, line, "row", problem)):
        line = reader.line_num
        values = {k: (v or "").strip() for k, v in row.items() if k is not None}
        if None in row:
            raise _error(path, line, "row", "too many columns")
        for name in COLUMNS:
            if not values.get(name):
                raise _error(path, line, name, "is required")
        try:
            weight = Decimal(values["weight"])
        except InvalidOperation as exc:
            raise _error(path, line, "weight", f"{values['weight']!r} is not a number") from exc
        if not weight.is_finite() or weight < 0 or weight > 1:
            raise _error(path, line, "weight", f"{values['weight']} is not between 0 and 1")
        try:
            effective = date.fromisoformat(values["effective_from"])
        except ValueError as exc:
            raise _error(path, line, "effective_from", f"{values['effective_from']!r} is not a date (YYYY-MM-DD)") from exc
        if not is_currency(values["base_currency"]):
            raise _error(path, line, "base_currency", f"{values['base_currency']!r} is not an ISO 4217 currency")
        kind, ident = values["line_type"], values["identifier"]
        if kind == "instrument":
            if not is_valid("ISIN", ident):
                raise _error(path, line, "identifier", f"{ident!r} is not a valid ISIN")
        elif kind == "cash":
            if not is_currency(ident):
                raise _error(path, line, "identifier", f"{ident!r} is not an ISO 4217 currency")
        elif kind != "sleeve":
            raise _error(path, line, "line_type", f"{kind!r} is not instrument, cash or sleeve")
        code = values["model_code"]
        model = models.get(code)
        if model is None:
            model = models[code] = ParsedModel(code, values["model_name"], values["provider"], values["base_currency"],
                                               effective, line)
        else:
            for name, current in (("model_name", model.name), ("provider", model.provider),
                                  ("base_currency", model.base_currency), ("effective_from", model.effective_from)):
                given = effective if name == "effective_from" else values[name]
                if given != current:
                    raise _error(path, line, name, f"differs from line {model.first_line} of model {code} ({current})")
        if any(t == kind and i == ident for t, i, _w in model.lines):
            raise _error(path, line, "identifier", f"{ident} appears twice in model {code}")
        model.lines.append((kind, ident, weight))
        rows.append((line, kind, ident, code))
    if not models:
        raise _error(path, None, "file", "no model lines")
    isins = {ident for _l, kind, ident, _c in rows if kind == "instrument"}
    known_isins = isin_known(isins)
    sleeves = {ident for _l, kind, ident, _c in rows if kind == "sleeve"}
    known_sleeves = model_known(sleeves - set(models)) | (sleeves & set(models))
    for line, kind, ident, code in rows:
        if kind == "instrument" and ident not in known_isins:
            raise _error(path, line, "identifier", f"ISIN {ident} is not in the instrument master")
        if kind == "sleeve" and (ident not in known_sleeves or ident == code):
            raise _error(path, line, "identifier", f"sleeve model {ident} is not known")
    for model in models.values():
        total = sum((w for _t, _i, w in model.lines), Decimal(0))
        if abs(total - 1) > TOLERANCE:
            raise _error(path, model.first_line, "weight", f"weights of model {model.code} sum to {total}, not 1")
    return list(models.values())
