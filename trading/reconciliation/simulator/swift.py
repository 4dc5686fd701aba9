"""SWIFT MT535 (statement of holdings) and MT940/MT950 (customer/cash statement) written from
the field formats of the SWIFT Standards MT user handbook (FIN, block 4), not from our parsers:

- amounts and quantities are `15d`: digits, a mandatory decimal comma, no thousands separator
  (100 -> "100,", 27149.5 -> "27149,5"); a negative quantity or amount carries the sign `N`;
- MT535: sequence A GENL (:28E: page/ONLY|MORE|LAST, :20C::SEME//, :23G:NEWM, :98A::STAT//,
  :22F::SFRE//, CODE//COMP, STTY//CUST, STBA//SETT|TRAD, :97A::SAFE//, :17B::ACTI//),
  sequence B SUBSAFE with one B1 FIN per holding: :35B:ISIN <isin> + description, :90B::MRKT//ACTU/
  <ccy><price> (or :90A::MRKT//PRCT/<rate> for a bond quoted in % of par), :93B::AGGR//UNIT|FAMT/,
  :93B::AVAI//, sub-balance B1b SUBBAL :93C::PENR|PEND//UNIT/NAVL/, :19A::HOLD// (instrument
  currency, then account base currency) and :92B::EXCH//<first>/<second>/<rate> (1 first = rate
  second);
- MT940: :20:, :25:, :28C:, :60F:, :61: (YYMMDD value date, MMDD entry date, C/D, amount,
  N + 3-character type code, customer reference, //bank reference), :86:, :62F:, :64:; MT950
  has no :86:."""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal

from .core import CENT, Position, Snapshot

OUR_BIC = "MRDNGB2LXXX"
TYPE = {"buy": "NSEC", "sell": "NSEC", "sell_short": "NSEC", "buy_to_cover": "NSEC", "dividend": "NDIV",
        "interest": "NINT", "fee": "NCHG", "deposit": "NTRF", "withdrawal": "NTRF", "fx_spot": "NFEX",
        "transfer": "NTRF"}


def d15(value: Decimal) -> str:
    """SWIFT `15d`: the absolute value with a decimal comma, trailing zeros dropped, comma kept."""
    text = format(abs(value).normalize(), "f")
    whole, _, frac = text.partition(".")
    return f"{whole},{frac}"


def _signed_qty(value: Decimal) -> str:
    return ("N" if value < 0 else "") + d15(value)


def _envelope(mt: str, sender: str, day: dt.date, body: list[str]) -> str:
    """Basic header (block 1, the receiver: us), output application header (block 2: MT, input
    time, MIR = date + sender LT address + session + ISN, output date and time, priority), text."""
    sender = (sender or "XXXXXXXXXXX").ljust(11, "X")
    return (f"{{1:F01{OUR_BIC[:8]}A{OUR_BIC[8:]}0000000000}}{{2:O{mt}2200{day:%y%m%d}{sender[:8]}A{sender[8:]}"
            f"0000000000{day:%y%m%d}2200N}}{{4:\r\n" + "\r\n".join(body) + "\r\n-}")


# ---------------------------------------------------------------- MT535

def _fin(p: Position, basis: str) -> list[str]:
    kind = "FAMT" if p.face_amount else "UNIT"
    out = [":16R:FIN", f":35B:ISIN {p.isin}"] + [p.name[i:i + 35] for i in range(0, min(len(p.name), 140), 35)]
    if p.face_amount and p.currency:
        out += [":16R:FIA", f":11A::DENO//{p.currency}", ":16S:FIA"]
    if p.price is not None:
        out.append(f":90A::MRKT//PRCT/{d15(p.price * 100)}" if p.face_amount
                   else f":90B::MRKT//ACTU/{p.currency}{d15(p.price)}")
        if p.mic:  # source of price: the exchange's close (4!c/4!c: EXCH and the MIC)
            out.append(f":94B::PRIC//EXCH/{p.mic}")
    out.append(f":93B::AGGR//{kind}/{_signed_qty(p.quantity)}")
    available = p.settled_quantity if basis == "TRAD" else p.quantity
    out.append(f":93B::AVAI//{kind}/{_signed_qty(available)}")
    pending = p.trade_quantity - p.settled_quantity
    if basis == "TRAD" and pending:
        out += [":16R:SUBBAL", f":93C::{'PENR' if pending > 0 else 'PEND'}//{kind}/NAVL/{d15(pending)}",
                ":16S:SUBBAL"]
    if p.market_value is not None:
        out.append(f":19A::HOLD//{'N' if p.market_value < 0 else ''}{p.currency}{d15(p.market_value)}")
        if p.base_value is not None and p.currency != p.base_currency:
            out.append(f":19A::HOLD//{'N' if p.base_value < 0 else ''}{p.base_currency}{d15(p.base_value)}")
    if p.fx_to_base is not None and p.currency and p.currency != p.base_currency:
        out.append(f":92B::EXCH//{p.currency}/{p.base_currency}/"
                   f"{d15(p.fx_to_base.quantize(Decimal('0.0000000001'), ROUND_HALF_EVEN))}")
    out.append(":16S:FIN")
    return out


def mt535(snap: Snapshot, *, page_size: int = 0) -> bytes:
    messages = []
    accounts = sorted({p.account for p in snap.positions} | {c.account for c in snap.cash})
    for account in accounts:
        rows = [p for p in snap.positions if p.account == account]
        size = page_size or max(len(rows), 1)
        pages = [rows[i:i + size] for i in range(0, len(rows), size)] or [[]]
        for n, page in enumerate(pages, start=1):
            mark = "ONLY" if len(pages) == 1 else ("LAST" if n == len(pages) else "MORE")
            body = [":16R:GENL", f":28E:{n}/{mark}", f":20C::SEME//{f'{snap.as_of:%y%m%d}{account}'[:16]}",
                    ":23G:NEWM", f":98A::STAT//{snap.as_of:%Y%m%d}", ":22F::SFRE//DAIL", ":22F::CODE//COMP",
                    ":22F::STTY//CUST", f":22F::STBA//{snap.basis}", f":97A::SAFE//{account}",
                    f":17B::ACTI//{'Y' if page else 'N'}", ":16S:GENL"]
            if page:
                body.append(":16R:SUBSAFE")
                for p in page:
                    body += _fin(p, snap.basis)
                body.append(":16S:SUBSAFE")
            messages.append(_envelope("535", snap.custodian_bic, snap.as_of, body))
    return ("\r\n".join(messages) + "\r\n").encode("ascii", "replace")


# ---------------------------------------------------------------- MT940 / MT950

def _balance(tag: str, amount: Decimal, day: dt.date, ccy: str) -> str:
    return f":{tag}:{'C' if amount >= 0 else 'D'}{day:%y%m%d}{ccy}{d15(amount.quantize(CENT))}"


def mt940(snap: Snapshot, *, mt: str = "940") -> bytes:
    messages = []
    for n, day in enumerate(snap.cash, start=1):
        body = [f":20:{snap.as_of:%y%m%d}{n:04d}", f":25:{day.cash_account}", f":28C:{snap.sequence:05d}/001",
                _balance("60F", day.opening, snap.as_of - dt.timedelta(days=1), day.currency)]
        for k, e in enumerate(day.entries, start=1):
            mark = "C" if e.amount >= 0 else "D"
            ref = (e.reference or "NONREF")[:16]
            body.append(f":61:{e.value_date:%y%m%d}{e.booking_date:%m%d}{mark}{d15(e.amount.quantize(CENT))}"
                        f"{TYPE.get(e.kind, 'NMSC')}{ref}//{snap.as_of:%y%m%d}{n:04d}{k:04d}")
            if mt == "940":
                body.append(f":86:{e.kind.upper()} {e.reference}"[:65])
        body.append(_balance("62F", day.closing, snap.as_of, day.currency))
        body.append(_balance("64", day.closing, snap.as_of, day.currency))
        messages.append(_envelope(mt, snap.custodian_bic, snap.as_of, body))
    return ("\r\n".join(messages) + "\r\n").encode("ascii", "replace")
