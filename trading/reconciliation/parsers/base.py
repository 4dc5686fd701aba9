"""What every parser returns, and how it refuses a file. Pure Python: no ORM here.

A parser turns one custodian file into statements: `CashStatement` (balances and entries
for one account and currency) or `HoldingsStatement` (positions for one safekeeping
account). Amounts and quantities are `Decimal`, with the ISO currency on the same object.
A malformed file raises `ParseError` naming the file, the line (or XML element), the field
and the reason; a parser never returns half a file.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal


class ParseError(ValueError):
    """The file is malformed; it is refused whole."""

    def __init__(self, reason: str, *, file: str = "", line: int | None = None, element: str = "",
                 field: str = ""):
        self.reason = reason
        self.file = file
        self.line = line
        self.element = element
        self.field = field
        super().__init__(self.describe())

    def describe(self) -> str:
        where = [self.file or "<file>"]
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.element:
            where.append(f"element {self.element}")
        if self.field:
            where.append(f"field {self.field}")
        return f"{', '.join(where)}: {self.reason}"

    def as_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "element": self.element, "field": self.field,
                "reason": self.reason}


@dataclass(frozen=True)
class Balance:
    kind: str                 # opening / closing / available / forward (+ "F" final or "M" intermediate)
    date: dt.date
    currency: str
    amount: Decimal           # signed: credit positive, debit negative
    final: bool = True


@dataclass(frozen=True)
class CashEntry:
    value_date: dt.date
    amount: Decimal           # signed: credit positive, debit negative
    currency: str
    entry_date: dt.date | None = None
    reversal: bool = False
    type_code: str = ""
    reference: str = ""       # account owner's reference
    bank_reference: str = ""  # account servicing institution's reference
    details: str = ""
    status: str = "BOOK"
    line: int | None = None


@dataclass
class CashStatement:
    account: str
    currency: str
    reference: str = ""
    statement_number: str = ""
    sequence: str = ""
    opening: Balance | None = None
    closing: Balance | None = None
    available: Balance | None = None
    entries: list[CashEntry] = field(default_factory=list)
    information: str = ""
    line: int | None = None

    @property
    def movements(self) -> Decimal:
        return sum((e.amount for e in self.entries if e.status == "BOOK"), Decimal(0))


@dataclass(frozen=True)
class Holding:
    account: str
    quantity: Decimal
    isin: str = ""
    cusip: str = ""
    sedol: str = ""
    ticker: str = ""
    mic: str = ""
    custodian_code: str = ""
    description: str = ""
    quantity_type: str = "UNIT"           # UNIT (shares) or FAMT (face amount)
    price: Decimal | None = None
    price_currency: str = ""
    price_source: str = ""                # where the custodian's price comes from (exchange MIC, vendor)
    fx_source: str = ""                   # who quoted the custodian's FX rate, where the file says
    price_type: str = ""                  # ACTU (amount per unit) or PRCT (% of par, already / 100 in price)
    market_value: Decimal | None = None
    market_value_currency: str = ""
    fx_rate: Decimal | None = None        # 1 price currency = fx_rate base currency (custodian's rate,
    #                                       whatever direction the file quoted it in)
    base_currency: str = ""
    base_value: Decimal | None = None
    available: Decimal | None = None
    not_available: Decimal | None = None
    sub_balances: tuple[tuple[str, Decimal], ...] = ()
    line: int | None = None


@dataclass
class HoldingsStatement:
    account: str
    as_of: dt.date
    basis: str = "SETT"                   # SETT (settled positions) or TRAD (trade date)
    statement_id: str = ""
    page: str = ""
    last_page: bool = True
    complete: bool = True                 # COMP (complete) vs DELT (delta)
    holdings: list[Holding] = field(default_factory=list)


def parse_decimal_strict(text: str, *, what: str = "amount") -> Decimal:
    """Plain '123.45' / '-1' text to Decimal, refusing anything else (no exponents, NaN, spaces)."""
    t = text.strip()
    if not t or t.lower() in {"nan", "inf", "-inf", "infinity"} or "e" in t.lower():
        raise ValueError(f"{what} {text!r} is not a number")
    try:
        return Decimal(t)
    except Exception as exc:  # decimal.InvalidOperation
        raise ValueError(f"{what} {text!r} is not a number") from exc
