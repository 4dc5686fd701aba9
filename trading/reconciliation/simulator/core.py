"""What a custodian holds for us (from the ledger, settled basis), named differences, and rendering."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from onboarding.exceptions import ValidationFailed

FORMATS = ("semt002", "camt053", "mt535", "mt940", "csv:<layout>")
INJECTIONS = ("fee", "price", "quantity", "fx", "missing", "bonus", "settled")
CENT = Decimal("0.01")


class SimulatorError(ValidationFailed):
    """The statement cannot be written as asked."""


@dataclass(frozen=True)
class Position:
    account: str                    # custody account number (the custodian's safekeeping account)
    isin: str
    name: str
    instrument_type: str
    quantity: Decimal               # on the statement's basis; face amount for bonds
    trade_quantity: Decimal
    settled_quantity: Decimal
    price: Decimal | None           # per unit (per 1 of face for bonds) in `currency`
    currency: str
    base_currency: str
    fx_to_base: Decimal | None      # 1 `currency` = fx_to_base `base_currency`
    face_amount: bool = False       # quantity is a face amount and the price is quoted in % of par
    mic: str = ""

    @property
    def market_value(self) -> Decimal | None:
        return None if self.price is None else (self.quantity * self.price).quantize(CENT, ROUND_HALF_EVEN)

    @property
    def base_value(self) -> Decimal | None:
        mv = self.market_value
        return None if mv is None or self.fx_to_base is None else (mv * self.fx_to_base).quantize(CENT,
                                                                                                  ROUND_HALF_EVEN)


@dataclass(frozen=True)
class Entry:
    amount: Decimal                 # signed: credit positive
    kind: str                       # ledger transaction kind (buy, sell, fee, deposit, ...)
    reference: str
    value_date: dt.date
    booking_date: dt.date


@dataclass
class CashDay:
    account: str                    # custody account number
    cash_account: str               # the custodian's cash account number (IBAN) or the custody number
    currency: str
    opening: Decimal
    entries: list[Entry] = field(default_factory=list)

    @property
    def closing(self) -> Decimal:
        return self.opening + sum((e.amount for e in self.entries), Decimal(0))


@dataclass
class Snapshot:
    custodian_code: str
    custodian_bic: str
    custodian_name: str
    as_of: dt.date
    basis: str = "SETT"             # SETT or TRAD for holdings statements
    positions: list[Position] = field(default_factory=list)
    cash: list[CashDay] = field(default_factory=list)
    injected: list[dict] = field(default_factory=list)
    sequence: int = 1               # statement number (camt ElctrncSeqNb, MT :28C:)


def collect(custodian, as_of: dt.date, *, basis: str = "SETT") -> Snapshot:
    """Our holdings and cash at `custodian` (an accounts.Custodian) on `as_of`, as it would report
    them: settled quantities (or trade-date ones with `basis="TRAD"`), our close prices and FX, and
    the cash legs settling that day."""
    from accounts.selectors import custodian_books, custodian_cash_day
    from trading.reference.models import Instrument, Listing

    if basis not in {"SETT", "TRAD"}:
        raise SimulatorError(f"basis {basis!r} is not SETT or TRAD", detail={"basis": [f"{basis!r} is not SETT or TRAD"]})
    books = custodian_books(custodian_id=custodian.pk, as_of=as_of)
    ids = {p[1] for p in books.positions}
    info = {i: (isin, name, kind) for i, isin, name, kind in
            Instrument.objects.filter(pk__in=ids).values_list("pk", "isin", "name", "instrument_type")}
    pct = set(Listing.objects.filter(instrument_id__in=ids, price_unit__in=["PCT", "%"])
              .values_list("instrument_id", flat=True))
    mics = dict(Listing.objects.filter(instrument_id__in=ids, is_primary=True).values_list("instrument_id",
                                                                                            "market__mic"))
    snap = Snapshot(custodian.code, custodian.bic or "", custodian.name, as_of, basis=basis)
    for number, iid, isin, trade_q, settled_q, price, ccy, rate, base in books.positions:
        qty = settled_q if basis == "SETT" else trade_q
        if not qty and not (trade_q or settled_q):
            continue
        _isin, name, kind = info[iid]
        snap.positions.append(Position(
            account=number, isin=isin, name=name, instrument_type=kind, quantity=qty, trade_quantity=trade_q,
            settled_quantity=settled_q, price=price, currency=ccy, base_currency=base,
            fx_to_base=Decimal(1) if ccy and ccy == base else rate,
            face_amount=kind == "bond" or iid in pct, mic=mics.get(iid, "")))
    for day in custodian_cash_day(custodian_id=custodian.pk, on=as_of):
        snap.cash.append(CashDay(day.custody_number, day.cash_number or day.custody_number, day.currency,
                                 day.opening, [Entry(a, k, ref, as_of, as_of) for a, k, ref, _td in day.entries]))
    snap.positions.sort(key=lambda p: (p.account, p.isin))
    return snap


# ---------------------------------------------------------------- named differences

def inject(snap: Snapshot, specs: list[str]) -> Snapshot:
    """Apply named differences, each `name[:arg[:arg...]]`:

    fee[:AMOUNT[:CCY]]          an unbooked custodian fee debited on the first cash account (in CCY)
    price[:ISIN[:FACTOR]]       the custodian's price x FACTOR (default 1.05)
    quantity[:ISIN[:DELTA]]     the custodian's quantity + DELTA (default -1 unit, -1000 face)
    fx[:CCY[:FACTOR]]           the custodian's rate for CCY -> base x FACTOR (default 1.02)
    missing[:ISIN|CCY]          the line is left out of the statement
    bonus:ISIN:RATIO            a bonus issue (or split) credited by the custodian: its quantity becomes
                                floor(quantity x RATIO) (1.1 = 1 new for 10 held; fractions are paid in cash)
    settled:REFERENCE:AMOUNT    the cash entry whose reference ends with REFERENCE is settled for AMOUNT
                                (signed, in the entry's currency): a trade settled at another price

    Without an ISIN or currency the first line (by account and ISIN) that can take it is used."""
    for spec in specs:
        name, *args = spec.split(":")
        name = name.strip().lower()
        if name not in INJECTIONS:
            raise SimulatorError(f"unknown difference {name!r}; use one of {', '.join(INJECTIONS)}",
                                 detail={"inject": [f"unknown difference {name!r}"]})
        try:
            globals()[f"_inject_{name}"](snap, args)
        except (ArithmeticError, ValueError) as exc:
            raise SimulatorError(f"difference {spec!r}: {exc}", detail={"inject": [f"{spec!r}: {exc}"]}) from None
    return snap


def _txt(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _pick(snap: Snapshot, key: str | None, *, priced: bool = False) -> int:
    for i, p in enumerate(snap.positions):
        if (not key or p.isin == key) and (p.price is not None or not priced) and p.quantity:
            return i
    raise ValueError(f"no position {'with ISIN ' + key if key else 'to change'} at {snap.custodian_code}")


def _inject_fee(snap: Snapshot, args: list[str]) -> None:
    amount = Decimal(args[0]) if args and args[0] else Decimal("25.00")
    ccy = args[1].upper() if len(args) > 1 and args[1] else ""
    days = [d for d in snap.cash if not ccy or d.currency == ccy]
    if not days:
        raise ValueError(f"no cash account in {ccy or 'any currency'}")
    day = days[0]
    ref = f"FEE{snap.as_of:%Y%m%d}{len(snap.injected) + 1:02d}"
    day.entries.append(Entry(-abs(amount), "fee", ref, snap.as_of, snap.as_of))
    snap.injected.append({"kind": "fee", "account": day.cash_account, "currency": day.currency,
                          "amount": _txt(-abs(amount)), "reference": ref})


def _inject_price(snap: Snapshot, args: list[str]) -> None:
    i = _pick(snap, args[0] if args else None, priced=True)
    factor = Decimal(args[1]) if len(args) > 1 else Decimal("1.05")
    p = snap.positions[i]
    new = (p.price * factor).quantize(Decimal("0.000001"), ROUND_HALF_EVEN)
    snap.positions[i] = replace(p, price=new)
    snap.injected.append({"kind": "price", "account": p.account, "isin": p.isin, "ours": _txt(p.price),
                          "theirs": _txt(new)})


def _inject_quantity(snap: Snapshot, args: list[str]) -> None:
    i = _pick(snap, args[0] if args else None)
    p = snap.positions[i]
    delta = Decimal(args[1]) if len(args) > 1 else Decimal(-1000 if p.face_amount else -1)
    snap.positions[i] = replace(p, quantity=p.quantity + delta)
    snap.injected.append({"kind": "quantity", "account": p.account, "isin": p.isin, "ours": _txt(p.quantity),
                          "theirs": _txt(p.quantity + delta)})


def _inject_fx(snap: Snapshot, args: list[str]) -> None:
    ccy = args[0].upper() if args and args[0] else ""
    factor = Decimal(args[1]) if len(args) > 1 else Decimal("1.02")
    hit = [i for i, p in enumerate(snap.positions) if p.fx_to_base is not None and p.currency != p.base_currency
           and (not ccy or p.currency == ccy)]
    if not hit:
        raise ValueError(f"no position in a foreign currency{' ' + ccy if ccy else ''}")
    ccy = ccy or snap.positions[hit[0]].currency
    for i, p in enumerate(snap.positions):
        if p.currency == ccy and p.fx_to_base is not None and p.currency != p.base_currency:
            new = (p.fx_to_base * factor).quantize(Decimal("0.0000000001"), ROUND_HALF_EVEN)
            snap.positions[i] = replace(p, fx_to_base=new)
            snap.injected.append({"kind": "fx", "account": p.account, "isin": p.isin, "currency": ccy,
                                  "ours": _txt(p.fx_to_base), "theirs": _txt(new)})


def _inject_bonus(snap: Snapshot, args: list[str]) -> None:
    if len(args) < 2 or not args[0] or not args[1]:
        raise ValueError("bonus needs ISIN:RATIO")
    ratio = Decimal(args[1])
    if ratio <= 0:
        raise ValueError(f"ratio {args[1]} is not positive")
    hit = [i for i, p in enumerate(snap.positions) if p.isin == args[0].upper() and p.quantity]
    if not hit:
        raise ValueError(f"no position with ISIN {args[0]} at {snap.custodian_code}")
    for i in hit:
        p = snap.positions[i]
        new = (p.quantity * ratio).to_integral_value(rounding=ROUND_FLOOR)
        snap.positions[i] = replace(p, quantity=new)
        snap.injected.append({"kind": "bonus", "account": p.account, "isin": p.isin, "ratio": _txt(ratio),
                              "ours": _txt(p.quantity), "theirs": _txt(new)})


def _inject_settled(snap: Snapshot, args: list[str]) -> None:
    if len(args) < 2 or not args[0] or not args[1]:
        raise ValueError("settled needs REFERENCE:AMOUNT")
    amount = Decimal(args[1])
    for day in snap.cash:
        for k, e in enumerate(day.entries):
            if e.reference and e.reference.endswith(args[0]):
                day.entries[k] = replace(e, amount=amount)
                snap.injected.append({"kind": "settled", "account": day.cash_account, "currency": day.currency,
                                      "reference": e.reference, "ours": _txt(e.amount), "theirs": _txt(amount)})
                return
    raise ValueError(f"no cash entry with a reference ending {args[0]!r} on {snap.as_of}")


def _inject_missing(snap: Snapshot, args: list[str]) -> None:
    key = args[0].upper() if args and args[0] else ""
    if len(key) == 3:
        days = [d for d in snap.cash if d.currency == key]
        if not days:
            raise ValueError(f"no cash account in {key}")
        snap.cash.remove(days[0])
        snap.injected.append({"kind": "missing", "account": days[0].cash_account, "currency": key})
        return
    i = _pick(snap, key or None)
    p = snap.positions.pop(i)
    snap.injected.append({"kind": "missing", "account": p.account, "isin": p.isin, "ours": _txt(p.quantity)})


# ---------------------------------------------------------------- rendering

def statement_files(snap: Snapshot, fmt: str, *, page_size: int = 0) -> list[tuple[str, bytes]]:
    """The files the custodian would send: (file name, bytes). semt.002 is one document per
    safekeeping account (and page); the others hold every account in one file."""
    from . import csvfile, iso, swift

    stamp = f"{snap.custodian_code}_{snap.as_of:%Y%m%d}"
    if fmt == "semt002":
        return iso.semt002_files(snap, page_size=page_size)
    if fmt == "camt053":
        return [(f"{stamp}_camt053.xml", iso.camt053(snap))]
    if fmt == "mt535":
        return [(f"{stamp}_mt535.fin", swift.mt535(snap, page_size=page_size))]
    if fmt in {"mt940", "mt950"}:
        return [(f"{stamp}_{fmt}.sta", swift.mt940(snap, mt=fmt[2:]))]
    if fmt.startswith("csv:"):
        return [(f"{stamp}_{fmt[4:]}.csv", csvfile.render(snap, fmt[4:]))]
    raise SimulatorError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}",
                         detail={"format": [f"unknown format {fmt!r}"]})


def render(snap: Snapshot, fmt: str) -> bytes:
    """One file's bytes (refuses a semt.002 that would need several documents)."""
    files = statement_files(snap, fmt)
    if len(files) != 1:
        raise SimulatorError(f"{fmt} for {len(files)} safekeeping accounts is {len(files)} files; "
                             "use statement_files or --output DIR", detail={"format": ["several files"]})
    return files[0][1]
