"""Declarative custodian file layouts (CSV or fixed width), kept as YAML files in
`trading/reconciliation/layouts/`. A new custodian is a new layout file, not new code.

A layout names the format (`delimited` or `fixed`), the separators, number and date formats,
the sign convention, the record types (header, detail, cash, trailer, ignore) and, per record
type, where each field is. `parse_layout` interprets a layout in Python (any layout, SQLite or
PostgreSQL); `sql_pushdown` compiles a single-record delimited layout into PostgreSQL
expressions so that a large file can be COPY'd raw and converted set-wise in the database.
"""
from __future__ import annotations

import copy
import csv
import datetime as dt
import functools
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from .base import Holding, ParseError

LAYOUT_DIR = Path(__file__).resolve().parent.parent / "layouts"
HOLDING_FIELDS = {"account", "isin", "cusip", "sedol", "ticker", "mic", "custodian_code", "description",
                  "quantity", "quantity_type", "price", "price_currency", "price_source", "fx_source", "market_value",
                  "market_value_currency", "fx_rate", "base_currency", "base_value"}
DECIMAL_FIELDS = {"quantity", "trade_quantity", "settled_quantity", "price", "market_value", "fx_rate", "base_value",
                  "amount"}
REQUIRED_KEYS = {"code", "version", "source", "effective_from", "format", "record_types"}


@dataclass(frozen=True)
class CashPosition:
    account: str
    currency: str
    amount: Decimal
    line: int | None = None


@dataclass
class LayoutResult:
    layout: str
    as_of: dt.date | None = None
    basis: str = "SETT"
    holdings: list[Holding] = field(default_factory=list)
    cash: list[CashPosition] = field(default_factory=list)
    header: dict[str, Any] = field(default_factory=dict)


class LayoutError(ValueError):
    """The layout file itself is wrong."""


def load_layout(code_or_path: str | Path) -> dict:
    path = Path(code_or_path)
    if not path.suffix:
        path = LAYOUT_DIR / f"{code_or_path}.yaml"
    if not path.exists():
        raise LayoutError(f"layout {code_or_path!r} not found in {LAYOUT_DIR}")
    return copy.deepcopy(_load_layout_file(str(path), path.stat().st_mtime_ns))


@functools.lru_cache(maxsize=64)
def _load_layout_file(path: str, mtime_ns: int) -> dict:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    spec = yaml.load(Path(path).read_text(), Loader=loader)
    validate_layout(spec, name=Path(path).name)
    return spec


def available_layouts() -> list[str]:
    return sorted(p.stem for p in LAYOUT_DIR.glob("*.yaml"))


def validate_layout(spec: dict, *, name: str = "layout") -> None:
    missing = REQUIRED_KEYS - set(spec or {})
    if missing:
        raise LayoutError(f"{name}: missing keys {sorted(missing)}")
    if spec["format"] not in {"delimited", "fixed"}:
        raise LayoutError(f"{name}: format must be delimited or fixed")
    if spec.get("kind", "holdings") not in {"holdings", "transactions"}:
        raise LayoutError(f"{name}: kind must be holdings or transactions")
    roles = {rt["role"] for rt in spec["record_types"].values()}
    if not roles <= {"header", "position", "cash", "trailer", "ignore"}:
        raise LayoutError(f"{name}: unknown record roles {sorted(roles)}")
    for code, rt in spec["record_types"].items():
        for fname, fspec in (rt.get("fields") or {}).items():
            if "value" in fspec:  # a constant the layout's owner sets (an export that names no account)
                continue
            if spec["format"] == "fixed" and not {"start", "length"} <= set(fspec):
                raise LayoutError(f"{name}: record {code} field {fname} needs start and length")
            if spec["format"] == "delimited" and "column" not in fspec:
                raise LayoutError(f"{name}: record {code} field {fname} needs a column")


# ------------------------------------------------------------------ values

class _Converter:
    def __init__(self, spec: dict):
        self.decimal_sep = spec.get("decimal", ".")
        self.thousands = spec.get("thousands", "")
        self.date_format = spec.get("date_format", "%Y-%m-%d")
        self.negative = spec.get("negative", ["leading_minus"])

    def decimal(self, raw: str, fspec: dict) -> Decimal | None:
        text = raw.strip()
        if not text:
            return None
        negative = False
        if "parentheses" in self.negative and text.startswith("(") and text.endswith(")"):
            negative, text = True, text[1:-1].strip()
        if "trailing_minus" in self.negative and text.endswith("-"):
            negative, text = True, text[:-1].strip()
        if text.startswith("-"):
            negative, text = True, text[1:]
        elif text.startswith("+"):
            text = text[1:]
        if self.thousands and self.thousands in text:
            whole = text.split(self.decimal_sep)[0] if self.decimal_sep != self.thousands else text
            if not re.fullmatch(r"\d{1,3}(%s\d{3})+" % re.escape(self.thousands), whole):
                raise ValueError(f"{raw!r} has misplaced thousands separators {self.thousands!r}")
            text = text.replace(self.thousands, "")
        if self.decimal_sep != ".":
            if "." in text:
                raise ValueError(f"{raw!r} has '.' but the decimal separator is {self.decimal_sep!r}")
            text = text.replace(self.decimal_sep, ".")
        if not re.fullmatch(r"\d+(\.\d*)?|\.\d+", text):
            raise ValueError(f"{raw!r} is not a number in this layout")
        value = Decimal(text)
        implied = fspec.get("implied_decimals")
        if implied:
            value = value.scaleb(-int(implied))
        if "scale" in fspec:  # a price in pence or per 100 units, a quantity in thousands: x scale, exactly
            value = value * Decimal(str(fspec["scale"]))
        return -value if negative else value

    def date(self, raw: str, fspec: dict) -> dt.date | None:
        text = raw.strip()
        if not text:
            return None
        fmt = fspec.get("format", self.date_format)
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            raise ValueError(f"{raw!r} is not a date in format {fmt}") from None


def _value(conv: _Converter, raw: str, fname: str, fspec: dict):
    kind = fspec.get("type") or ("decimal" if fname in DECIMAL_FIELDS else "date" if fname == "as_of" else "str")
    if kind == "decimal":
        return conv.decimal(raw, fspec)
    if kind == "date":
        return conv.date(raw, fspec)
    if kind == "int":
        text = raw.strip()
        if not re.fullmatch(r"\d+", text):
            raise ValueError(f"{raw!r} is not a whole number")
        return int(text)
    text = raw.strip()
    if "map" in fspec:
        if text not in fspec["map"]:
            raise ValueError(f"{raw!r} is not one of {sorted(fspec['map'])}")
        return fspec["map"][text]
    return text.upper() if fspec.get("upper") else text


# ------------------------------------------------------------------ records

def _records(data: str, spec: dict, file: str) -> Iterator[tuple[int, Any]]:
    skip = int(spec.get("skip_lines", 0))
    if spec["format"] == "fixed":
        for number, line in enumerate(data.splitlines(), start=1):
            if number <= skip or not line.strip():
                continue
            yield number, line
        return
    reader = csv.reader(io.StringIO(data), delimiter=spec.get("delimiter", ","),
                        quotechar=spec.get("quotechar", '"'), strict=True)
    header_row = bool(spec.get("header", False))
    try:
        for row in reader:
            number = reader.line_num
            if number <= skip or not any(c.strip() for c in row):
                continue
            if header_row:
                header_row = False
                expected = spec.get("columns")
                got = [c.strip().lstrip("\ufeff") for c in row]
                if expected and got != expected:
                    raise ParseError(f"header {row} is not the layout's columns {expected}", file=file,
                                     line=number)
                if spec.get("kind") == "transactions":
                    raise ParseError(f"not a holdings or balance statement: the header is that of a "
                                     f"{spec.get('description', 'transactions export')}, which lists transactions",
                                     file=file, line=number)
                continue
            yield number, row
    except csv.Error as exc:
        raise ParseError(f"not valid CSV: {exc}", file=file, line=reader.line_num) from None


def _cell(record, fspec: dict, spec: dict, columns: list[str] | None, *, file: str, line: int, fname: str) -> str:
    if "value" in fspec:
        return str(fspec["value"])
    if spec["format"] == "fixed":
        start, length = int(fspec["start"]) - 1, int(fspec["length"])
        if len(record.rstrip("\r\n")) < start + (1 if fspec.get("required", True) else 0):
            if fspec.get("required", True):
                raise ParseError(f"line is {len(record)} characters, field needs position {start + 1}", file=file,
                                 line=line, field=fname)
        return record[start:start + length]
    col = fspec["column"]
    index = columns.index(col) if isinstance(col, str) else int(col)
    if index >= len(record):
        if fspec.get("required", True):
            raise ParseError(f"row has {len(record)} columns, field is column {index + 1}", file=file, line=line,
                             field=fname)
        return ""
    return record[index]


def _record_code(record, selector: dict, spec: dict, columns, *, file: str, line: int) -> str:
    """The record type of a line: the text at the selector's position, or, for exports that mark
    no record type, the first of the selector's `patterns` (regular expressions over that text,
    or over the number of columns with `columns_count`) that matches, else its `default`."""
    if spec["format"] == "delimited" and not isinstance(record, str):
        count = len([c for c in record if c.strip()])
    else:
        count = 1
    text = _cell(record, selector, spec, columns, file=file, line=line, fname="record_type") \
        if ("column" in selector or "start" in selector) and (spec["format"] == "fixed"
                                                             or int(selector.get("column", 0)) < len(record)) else ""
    for rule in selector.get("patterns", []):
        if "columns_count" in rule and count != int(rule["columns_count"]):
            continue
        if "regex" in rule and not re.search(rule["regex"], text):
            continue
        return rule["code"]
    if "default" in selector:
        return selector["default"]
    return text.strip()


def parse_layout(data: bytes | str, layout: str | dict, *, file: str = "") -> LayoutResult:
    spec = load_layout(layout) if isinstance(layout, str) else layout
    if isinstance(data, bytes):
        try:
            data = data.decode(spec.get("encoding", "utf-8"))
        except UnicodeDecodeError as exc:
            raise ParseError(f"not {spec.get('encoding', 'utf-8')} text: {exc.reason}", file=file) from None
    conv = _Converter(spec)
    columns = spec.get("columns")
    rtypes = spec["record_types"]
    selector = spec.get("record_type")  # where the record type code is; absent = every record is the single type
    result = LayoutResult(layout=spec["code"])
    counts = {"position": 0, "cash": 0}
    totals: dict[str, Decimal] = {}
    trailer_seen = False
    for line, record in _records(data, spec, file):
        if selector is None:
            code = next(iter(rtypes))
        else:
            code = _record_code(record, selector, spec, columns, file=file, line=line)
        if code not in rtypes:
            raise ParseError(f"record type {code!r} is not one of {sorted(rtypes)}", file=file, line=line,
                             field="record_type")
        rt = rtypes[code]
        role = rt["role"]
        if role == "ignore":
            continue
        if trailer_seen:
            raise ParseError("record after the trailer", file=file, line=line, field="record_type")
        values: dict[str, Any] = {}
        for fname, fspec in (rt.get("fields") or {}).items():
            raw = _cell(record, fspec, spec, columns, file=file, line=line, fname=fname)
            try:
                value = _value(conv, raw, fname, fspec)
            except ValueError as exc:
                raise ParseError(str(exc), file=file, line=line, field=fname) from None
            if value in (None, "") and fspec.get("required", False):
                raise ParseError("required field is empty", file=file, line=line, field=fname)
            if value in (None, "") and "default" in fspec:
                value = fspec["default"]
            values[fname] = value
        for sign in rt.get("signs", []):  # a separate debit/credit (or S/H) column flips a field's sign
            raw = _cell(record, sign, spec, columns, file=file, line=line, fname=sign["applies_to"]).strip()
            if raw not in sign["negative"] + sign["positive"]:
                raise ParseError(f"sign {raw!r} is not one of {sign['negative'] + sign['positive']}", file=file,
                                 line=line, field=sign["applies_to"])
            if raw in sign["negative"] and values.get(sign["applies_to"]) is not None:
                values[sign["applies_to"]] = -values[sign["applies_to"]]
        if role == "header":
            result.header.update(values)
            result.as_of = values.get("as_of", result.as_of)
            result.basis = values.get("basis", result.basis)
        elif role == "trailer":
            trailer_seen = True
            for check, target in (rt.get("checks") or {}).items():
                if check == "count":
                    expected = values[target["field"]]
                    actual = sum(counts[r] for r in target.get("roles", ["position", "cash"]))
                    if expected != actual:
                        raise ParseError(f"trailer says {expected} records, the file has {actual}", file=file,
                                         line=line, field=target["field"])
                elif check == "sum":
                    expected = values[target["field"]]
                    actual = totals.get(target["of"], Decimal(0))
                    if expected != actual:
                        raise ParseError(f"trailer total {expected} differs from the sum of {target['of']} {actual}",
                                         file=file, line=line, field=target["field"])
        elif role == "position":
            counts["position"] += 1
            if "trade_quantity" in values or "settled_quantity" in values:
                # a row carrying both bases: our books are on trade date, so the trade-date quantity
                # is compared (nothing pending to explain) and the settled one kept as available
                trade, settled = values.pop("trade_quantity", None), values.pop("settled_quantity", None)
                if trade is None:
                    raise ParseError("required field is empty", file=file, line=line, field="trade_quantity")
                values["quantity"] = trade
                values["available"] = settled
                result.basis = "TRAD"
            if values.get("quantity") is None:
                raise ParseError("required field is empty", file=file, line=line, field="quantity")
            account = values.get("account") or result.header.get("account", "")
            if not account:
                raise ParseError("no account on the record or in the header", file=file, line=line, field="account")
            if not any(values.get(k) for k in ("isin", "cusip", "sedol", "ticker", "custodian_code")):
                raise ParseError("no instrument identifier (isin, cusip, sedol, ticker or custodian code)",
                                 file=file, line=line, field="isin")
            totals["quantity"] = totals.get("quantity", Decimal(0)) + values["quantity"]
            kwargs = {k: v for k, v in values.items() if k in HOLDING_FIELDS | {"available"} and v not in (None, "")}
            kwargs["account"] = account
            result.holdings.append(Holding(line=line, **kwargs))
        elif role == "cash":
            counts["cash"] += 1
            account = values.get("account") or result.header.get("account", "")
            if values.get("amount") is None or not values.get("currency"):
                raise ParseError("cash record needs amount and currency", file=file, line=line, field="amount")
            totals["amount"] = totals.get("amount", Decimal(0)) + values["amount"]
            result.cash.append(CashPosition(account=account, currency=values["currency"], amount=values["amount"],
                                            line=line))
        if "as_of" in values and role != "header" and values["as_of"]:
            if result.as_of and values["as_of"] != result.as_of:
                raise ParseError(f"date {values['as_of']} differs from the file's {result.as_of}", file=file,
                                 line=line, field="as_of")
            result.as_of = values["as_of"]
    if any(rt["role"] == "trailer" for rt in rtypes.values()) and not trailer_seen and spec.get("trailer_required",
                                                                                                  True):
        raise ParseError("file ends without its trailer record (truncated?)", file=file)
    if not result.holdings and not result.cash:
        raise ParseError("file holds no position or cash record", file=file)
    return result


# ------------------------------------------------------------------ PostgreSQL pushdown

_PG_DATE = {"%Y": "YYYY", "%m": "MM", "%d": "DD", "%y": "YY"}


def pushdown_supported(spec: dict) -> bool:
    rtypes = spec["record_types"]
    return (spec["format"] == "delimited" and spec.get("record_type") is None and len(rtypes) == 1
            and bool(spec.get("columns")) and next(iter(rtypes.values()))["role"] == "position"
            and not next(iter(rtypes.values())).get("signs"))


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def sql_pushdown(spec: dict) -> dict:
    """Column list for COPY, and per field a SQL expression over the raw text columns plus a
    regular expression the raw text must match (used to name the first bad line)."""
    if not pushdown_supported(spec):
        raise LayoutError(f"layout {spec['code']} cannot be pushed down to SQL")
    columns = spec["columns"]
    rt = next(iter(spec["record_types"].values()))
    dec, thou = spec.get("decimal", "."), spec.get("thousands", "")
    negative = spec.get("negative", ["leading_minus"])
    exprs, checks = {}, {}
    for fname, fspec in rt["fields"].items():
        col = columns.index(fspec["column"]) if isinstance(fspec["column"], str) else int(fspec["column"])
        raw = f"c{col}"
        kind = fspec.get("type") or ("decimal" if fname in DECIMAL_FIELDS else "str")
        if kind == "decimal":
            e = raw
            if thou:
                e = f"replace({e}, {_sql_literal(thou)}, '')"
            if dec != ".":
                e = f"replace({e}, {_sql_literal(dec)}, '.')"
            num = r"\d+(\.\d*)?"
            t = re.escape(thou) if thou else ""
            numeric = rf"\d{{1,3}}({t}\d{{3}})*" if thou else r"\d+"
            pattern = rf"^[-+]?{numeric}({re.escape(dec)}\d*)?$"
            if "trailing_minus" in negative:
                pattern = rf"^[-+]?{numeric}({re.escape(dec)}\d*)?-?$"
                e = f"(CASE WHEN {raw} LIKE '%-' THEN '-' || rtrim({e}, '-') ELSE {e} END)"
            del num
            scale = int(fspec.get("implied_decimals") or 0)
            if fname == "quantity":
                # exact int8 millionths of a unit (the engine's QSCALE)
                expr = f"round(NULLIF({e}, '')::float8 * 1e{6 - scale})::int8"
            else:
                expr = f"NULLIF({e}, '')::float8" + (f" / 1e{scale}" if scale else "")
            if "scale" in fspec:
                factor = Decimal(str(fspec["scale"]))
                expr = f"round(({expr})::numeric * {factor})::int8" if fname == "quantity" else \
                    f"(({expr}) * {float(factor)!r}::float8)"
            required = fspec.get("required", fname == "quantity")
            if required:
                # an empty required number must refuse the file as the Python parser does: casting the
                # text itself fails (not a constant, so never folded at plan time), and the refusal then
                # names the first empty line and field
                expr = f"CASE WHEN NULLIF({raw}, '') IS NULL THEN (COALESCE({raw}, '') || ' empty')::int8 " \
                       f"ELSE {expr} END"
            exprs[fname] = expr
            checks[fname] = (raw, pattern, required)
        elif kind == "date":
            fmt = fspec.get("format", spec.get("date_format", "%Y-%m-%d"))
            pgfmt = fmt
            for k, v in _PG_DATE.items():
                pgfmt = pgfmt.replace(k, v)
            exprs[fname] = f"to_date(NULLIF({raw}, ''), {_sql_literal(pgfmt)})"
            checks[fname] = (raw, "^" + re.escape(fmt).replace("%Y", r"\d{4}").replace("%m", r"\d{2}")
                             .replace("%d", r"\d{2}").replace("%y", r"\d{2}") + "$", fspec.get("required", False))
        else:
            e = f"upper({raw})" if fspec.get("upper") else raw
            exprs[fname] = f"COALESCE({e}, '')"
            if fspec.get("required"):
                checks[fname] = (raw, r"\S", True)
    return {"columns": [f"c{i}" for i in range(len(columns))], "exprs": exprs, "checks": checks,
            "delimiter": spec.get("delimiter", ","), "quotechar": spec.get("quotechar", '"'),
            "header": bool(spec.get("header", False)), "encoding": spec.get("encoding", "utf-8")}
