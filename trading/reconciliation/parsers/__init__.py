"""Custodian file parsers (pure Python). `parse_file` picks one by format name:
semt002, camt053, mt535, mt940, mt950 or csv:<layout code>."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .base import CashStatement, Holding, HoldingsStatement, ParseError
from .iso20022 import parse_camt053, parse_semt002
from .layouts import CashPosition, parse_layout
from .mt535 import parse_mt535
from .mt940 import parse_mt940, parse_mt950

FORMATS = ("semt002", "camt053", "mt535", "mt940", "mt950", "csv:<layout>")


@dataclass
class ParsedFile:
    format: str
    kind: str                                   # "holdings" or "cash"
    as_of: dt.date | None = None
    basis: str = "SETT"
    holdings: list[Holding] = field(default_factory=list)
    cash: list[CashPosition] = field(default_factory=list)
    cash_statements: list[CashStatement] = field(default_factory=list)
    holding_statements: list[HoldingsStatement] = field(default_factory=list)


def parse_file(data: bytes, fmt: str, *, file: str = "", layout: dict | None = None) -> ParsedFile:
    """`layout`: for csv:<code>, the layout's spec (the service reads it from the database);
    without it the shipped example file of that code is read (tests and tools)."""
    if fmt in {"mt940", "mt950"}:
        statements = (parse_mt940 if fmt == "mt940" else parse_mt950)(data, file=file)
        return _cash(fmt, statements)
    if fmt == "camt053":
        return _cash(fmt, parse_camt053(data, file=file))
    if fmt in {"mt535", "semt002"}:
        statements = (parse_mt535 if fmt == "mt535" else parse_semt002)(data, file=file)
        dates = {s.as_of for s in statements}
        if len(dates) > 1:
            raise ParseError(f"pages carry different statement dates {sorted(map(str, dates))}", file=file)
        return ParsedFile(format=fmt, kind="holdings", as_of=statements[0].as_of, basis=statements[0].basis,
                          holdings=[h for s in statements for h in s.holdings], holding_statements=statements)
    if fmt.startswith("csv:"):
        result = parse_layout(data, layout if layout is not None else fmt[4:], file=file)
        return ParsedFile(format=fmt, kind="holdings", as_of=result.as_of, basis=result.basis,
                          holdings=result.holdings, cash=result.cash)
    raise ParseError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}", file=file)


def _cash(fmt: str, statements: list[CashStatement]) -> ParsedFile:
    as_of = max(s.closing.date for s in statements)
    cash = []
    latest: dict[tuple[str, str], CashStatement] = {}
    for s in statements:
        key = (s.account, s.currency)
        if key not in latest or s.closing.date >= latest[key].closing.date:
            latest[key] = s
    for (account, ccy), s in latest.items():
        cash.append(CashPosition(account=account, currency=ccy, amount=s.closing.amount, line=s.line))
    return ParsedFile(format=fmt, kind="cash", as_of=as_of, cash=cash, cash_statements=statements)
