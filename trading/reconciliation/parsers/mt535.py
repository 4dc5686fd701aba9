"""SWIFT MT535 statement of holdings.

Sequence A (GENL): :28E: page, :20C::SEME// reference, :98A::STAT// (or :98C:) statement date,
:22F::STBA// basis (SETT/TRAD), :22F::CODE// COMP/DELT, :97A::SAFE// safekeeping account.
Sequence B (SUBSAFE) -> B1 (FIN) per holding: :35B: identification (ISIN, or /US/ CUSIP,
/GB/ SEDOL, /XX/ other, /TS/ ticker, then description lines), :90A:/:90B::MRKT// price,
:94B::PRIC// price source, :93B::AGGR// quantity (UNIT or FAMT, N for short), :93B::AVAI//
and NAVL//, sub-balances (:93C::BLOK//UNIT/AVAI/...), :19A::HOLD// holding value,
:92B::EXCH// rate. One message per file or several (pages)."""
from __future__ import annotations

import re
from decimal import Decimal

from .base import Holding, HoldingsStatement, ParseError
from .swift import Field, decode, parse_amount, parse_yyyymmdd, split_messages

QUAL_RE = re.compile(r"^:([A-Z0-9]{4})//(.*)$", re.DOTALL)
QTY_RE = re.compile(r"^(UNIT|FAMT|AMOR)/(N?)(.+)$")
SUBBAL_RE = re.compile(r"^(UNIT|FAMT|AMOR)/([A-Z]{4})/(N?)(.+)$")
AMOUNT_CCY_RE = re.compile(r"^(N?)([A-Z]{3})(.+)$")


def _qualified(f: Field, *, file: str) -> tuple[str, str]:
    m = QUAL_RE.match(f.value)
    if not m:
        raise ParseError(f"field :{f.tag}: value {f.value!r} is not :QUAL//data", file=file, line=f.line,
                         field=f":{f.tag}:")
    return m.group(1), m.group(2).strip()


def _identification(value: str, *, file: str, line: int) -> dict[str, str]:
    lines = [x.strip() for x in value.split("\n") if x.strip()]
    if not lines:
        raise ParseError("identification of the financial instrument is empty", file=file, line=line, field=":35B:")
    ids: dict[str, str] = {}
    description = []
    first = lines[0]
    if first.startswith("ISIN "):
        isin = first[5:].strip()
        if not re.fullmatch(r"[A-Z]{2}[A-Z0-9]{9}\d", isin):
            raise ParseError(f"ISIN {isin!r} is not 12 characters ending in a check digit", file=file,
                             line=line, field=":35B:")
        from stdnum import isin as stdisin

        if not stdisin.is_valid(isin):
            raise ParseError(f"ISIN {isin!r} has a wrong check digit", file=file, line=line, field=":35B:")
        ids["isin"] = isin
        rest = lines[1:]
    else:
        rest = lines
    for item in rest:
        m = re.match(r"^/([A-Z]{2})/(\S+)\s*(.*)$", item)
        if m:
            code, ident, tail = m.groups()
            key = {"US": "cusip", "GB": "sedol", "TS": "ticker", "XX": "custodian_code"}.get(code, "custodian_code")
            ids.setdefault(key, ident)
            if tail:
                description.append(tail)
        else:
            description.append(item)
    if not ids:
        raise ParseError("no ISIN or other identifier in :35B:", file=file, line=line, field=":35B:")
    ids["description"] = " ".join(description)
    return ids


def _quantity(text: str, *, file: str, line: int, fld: str) -> tuple[str, Decimal]:
    m = QTY_RE.match(text)
    if not m:
        raise ParseError(f"quantity {text!r} is not UNIT|FAMT/[N]amount", file=file, line=line, field=fld)
    qty = parse_amount(m.group(3), file=file, line=line, fld=fld)
    return m.group(1), -qty if m.group(2) else qty


def parse_mt535(data: bytes | str, *, file: str = "") -> list[HoldingsStatement]:
    text = decode(data, file=file)
    messages = split_messages(text, file=file)
    if not messages:
        raise ParseError("file holds no MT535 message", file=file, line=1)
    for m in messages:
        if m.message_type and m.message_type != "535":
            kind = {"536": "statement of transactions", "537": "statement of pending transactions",
                    "538": "statement of intra-position advices", "940": "customer statement",
                    "950": "statement message"}.get(m.message_type, "another message")
            raise ParseError(f"MT{m.message_type} ({kind}) is not a holdings or balance statement", file=file,
                             line=m.line, field="{2:}")
    return [_message(m.fields, file=file) for m in messages]


def _message(fields: list[Field], *, file: str) -> HoldingsStatement:
    if not fields or fields[0].tag != "16R" or fields[0].value.strip() != "GENL":
        first = fields[0] if fields else None
        raise ParseError("an MT535 must begin with :16R:GENL", file=file, line=first.line if first else 1,
                         field=f":{first.tag}:" if first else "")
    stack: list[str] = []
    general: dict = {"basis": "SETT", "complete": True, "page": "", "last_page": True}
    holdings: list[Holding] = []
    fin: dict | None = None
    for f in fields:
        if f.tag == "16R":
            block = f.value.strip()
            stack.append(block)
            if block == "FIN":
                fin = {"line": f.line, "sub": []}
            continue
        if f.tag == "16S":
            block = f.value.strip()
            if not stack or stack[-1] != block:
                raise ParseError(f":16S:{block} closes a block that is not open ({'/'.join(stack) or 'none'})",
                                 file=file, line=f.line, field=":16S:")
            stack.pop()
            if block == "FIN":
                holdings.append(_holding(fin, general, file=file))
                fin = None
            continue
        where = stack[-1] if stack else ""
        if where == "GENL":
            _general_field(f, general, file=file)
        elif where == "FIN":
            _fin_field(f, fin, file=file)
        elif where == "SUBBAL" and fin is not None:
            if f.tag == "93C":
                qual, data = _qualified(f, file=file)
                m = SUBBAL_RE.match(data)
                if not m:
                    raise ParseError(f"sub-balance {data!r} is not UNIT/status/amount", file=file, line=f.line,
                                     field=":93C:")
                qty = parse_amount(m.group(4), file=file, line=f.line, fld=":93C:")
                fin["sub"].append((qual, -qty if m.group(3) else qty))
        elif not stack:
            raise ParseError(f"field :{f.tag}: is outside any block", file=file, line=f.line, field=f":{f.tag}:")
    if stack:
        raise ParseError(f"block {stack[-1]} is not closed with :16S:", file=file, line=fields[-1].line)
    for needed, tag in (("as_of", ":98A::STAT"), ("account", ":97A::SAFE")):
        if needed not in general:
            raise ParseError(f"general information has no {tag}", file=file, line=fields[0].line, field=tag)
    return HoldingsStatement(account=general["account"], as_of=general["as_of"], basis=general["basis"],
                             statement_id=general.get("reference", ""), page=general["page"],
                             last_page=general["last_page"], complete=general["complete"],
                             holdings=[_with_account(h, general["account"]) for h in holdings])


def _with_account(h: Holding, account: str) -> Holding:
    from dataclasses import replace

    return replace(h, account=account)


def _general_field(f: Field, general: dict, *, file: str) -> None:
    if f.tag == "28E":
        m = re.fullmatch(r"(\d{1,5})/(ONLY|MORE|LAST)", f.value.strip())
        if not m:
            raise ParseError(f"page {f.value!r} is not n/ONLY|MORE|LAST", file=file, line=f.line, field=":28E:")
        general["page"] = m.group(1)
        general["last_page"] = m.group(2) != "MORE"
        return
    if f.tag in {"98A", "98C"}:
        qual, data = _qualified(f, file=file)
        if qual in {"STAT", "PREP"}:
            value = parse_yyyymmdd(data[:8], file=file, line=f.line, fld=f":{f.tag}::{qual}")
            if qual == "STAT":
                general["as_of"] = value
        return
    qual, data = _qualified(f, file=file) if f.tag in {"20C", "22F", "97A", "17B"} else ("", f.value)
    if f.tag == "20C" and qual == "SEME":
        general["reference"] = data
    elif f.tag == "22F" and qual == "STBA":
        if data not in {"SETT", "TRAD"}:
            raise ParseError(f"statement basis {data!r} is not SETT or TRAD", file=file, line=f.line,
                             field=":22F::STBA")
        general["basis"] = data
    elif f.tag == "22F" and qual == "CODE":
        if data not in {"COMP", "DELT"}:
            raise ParseError(f"update type {data!r} is not COMP or DELT", file=file, line=f.line, field=":22F::CODE")
        general["complete"] = data == "COMP"
    elif f.tag == "97A" and qual == "SAFE":
        if not data or len(data) > 35:
            raise ParseError("safekeeping account must be 1 to 35 characters", file=file, line=f.line,
                             field=":97A::SAFE")
        general["account"] = data


def _fin_field(f: Field, fin: dict, *, file: str) -> None:
    if f.tag == "35B":
        fin.update(_identification(f.value, file=file, line=f.line))
        return
    if f.tag in {"90A", "90B"}:
        qual, data = _qualified(f, file=file)
        if qual != "MRKT":
            return
        parts = data.split("/")
        if f.tag == "90B" and len(parts) == 2 and len(parts[1]) > 3:
            fin["price_currency"] = parts[1][:3]
            fin["price"] = parse_amount(parts[1][3:], file=file, line=f.line, fld=":90B::MRKT")
            fin["price_type"] = parts[0]
        elif f.tag == "90A" and len(parts) == 2 and parts[0] in {"PRCT", "YIEL", "DISC", "PREM"}:
            # :90A::MRKT//PRCT/98,75 is a percentage (of par for a bond): per unit of face, rate / 100
            rate = parse_amount(parts[1].lstrip("N"), file=file, line=f.line, fld=":90A::MRKT")
            rate = -rate if parts[1].startswith("N") else rate
            fin["price_type"] = parts[0]
            if parts[0] == "PRCT":
                fin["price"] = rate / 100
        else:
            raise ParseError(f"price {data!r} is not PRCT|YIEL|DISC|PREM/rate (:90A:) or ACTU|DISC|PREM/"
                             f"currency amount (:90B:)", file=file, line=f.line, field=f":{f.tag}::MRKT")
        return
    if f.tag == "94B":
        qual, data = _qualified(f, file=file)
        if qual == "PRIC":
            source, _, place = data.partition("/")
            fin["price_source"] = f"{source}/{place}" if place else source  # EXCH/XLON: the exchange's price
            if source == "EXCH" and place:
                fin["mic"] = place
        return
    if f.tag == "93B":
        qual, data = _qualified(f, file=file)
        kind, qty = _quantity(data, file=file, line=f.line, fld=f":93B::{qual}")
        if qual == "AGGR":
            fin["quantity_type"], fin["quantity"] = kind, qty
        elif qual == "AVAI":
            fin["available"] = qty
        elif qual == "NAVL":
            fin["not_available"] = qty
        return
    if f.tag == "19A":
        qual, data = _qualified(f, file=file)
        m = AMOUNT_CCY_RE.match(data)
        if not m:
            raise ParseError(f"amount {data!r} is not [N]currency amount", file=file, line=f.line,
                             field=f":19A::{qual}")
        amount = parse_amount(m.group(3), file=file, line=f.line, fld=f":19A::{qual}")
        amount = -amount if m.group(1) else amount
        if qual == "HOLD":
            # the holding value may be repeated: in the instrument's currency, then in the account's base
            if "market_value" not in fin:
                fin["market_value"], fin["market_value_currency"] = amount, m.group(2)
            elif m.group(2) != fin["market_value_currency"]:
                fin["base_value"], fin["base_currency"] = amount, m.group(2)
        return
    if f.tag == "11A":
        qual, data = _qualified(f, file=file)
        if qual == "DENO":
            fin["denomination"] = data[:3]
        return
    if f.tag == "92B":
        qual, data = _qualified(f, file=file)
        m = re.fullmatch(r"([A-Z]{3})/([A-Z]{3})/(.+)", data)
        if qual == "EXCH":
            if not m:
                raise ParseError(f"exchange rate {data!r} is not CCY/CCY/rate", file=file, line=f.line,
                                 field=":92B::EXCH")
            fin["fx"] = (m.group(1), m.group(2), parse_amount(m.group(3), file=file, line=f.line,
                                                              fld=":92B::EXCH"), f.line)


def _holding(fin: dict, general: dict, *, file: str) -> Holding:
    if "quantity" not in fin:
        raise ParseError("holding has no aggregate quantity :93B::AGGR//", file=file, line=fin["line"],
                         field=":93B::AGGR")
    if not any(fin.get(k) for k in ("isin", "cusip", "sedol", "ticker", "custodian_code")):
        raise ParseError("holding has no :35B: identification", file=file, line=fin["line"], field=":35B:")
    instrument_ccy = fin.get("price_currency") or fin.get("market_value_currency") or fin.get("denomination", "")
    if fin.get("price") is not None and not fin.get("price_currency"):
        fin["price_currency"] = instrument_ccy
    base_ccy = fin.get("base_currency", "")
    if "fx" in fin:
        # :92B::EXCH//A/B/r reads 1 A = r B; we keep 1 instrument currency = fx_rate base currency
        first, second, rate, line = fin["fx"]
        if rate <= 0:
            raise ParseError(f"exchange rate {rate} is not positive", file=file, line=line, field=":92B::EXCH")
        if first == instrument_ccy and (not base_ccy or second == base_ccy):
            fin["fx_rate"], base_ccy = rate, second
        elif second == instrument_ccy and (not base_ccy or first == base_ccy):
            fin["fx_rate"], base_ccy = 1 / rate, first
        else:
            raise ParseError(f"exchange rate {first}/{second} does not relate the instrument currency "
                             f"{instrument_ccy or '(unknown)'} to the base currency {base_ccy or '(unknown)'}",
                             file=file, line=line, field=":92B::EXCH")
    elif instrument_ccy and base_ccy == instrument_ccy:
        fin["fx_rate"] = Decimal(1)
    fin["base_currency"] = base_ccy
    base_value = fin.get("base_value")
    if base_value is None and fin.get("fx_rate") is not None and fin.get("market_value") is not None:
        base_value = fin["market_value"] * fin["fx_rate"]
    return Holding(
        account="", quantity=fin["quantity"], quantity_type=fin.get("quantity_type", "UNIT"),
        isin=fin.get("isin", ""), cusip=fin.get("cusip", ""), sedol=fin.get("sedol", ""),
        ticker=fin.get("ticker", ""), mic=fin.get("mic", ""), custodian_code=fin.get("custodian_code", ""),
        description=fin.get("description", ""), price=fin.get("price"),
        price_currency=fin.get("price_currency", ""), price_source=fin.get("price_source", ""),
        price_type=fin.get("price_type", ""),
        market_value=fin.get("market_value"), market_value_currency=fin.get("market_value_currency", ""),
        fx_rate=fin.get("fx_rate"), base_currency=fin.get("base_currency", ""), base_value=base_value,
        available=fin.get("available"), not_available=fin.get("not_available"),
        sub_balances=tuple(fin["sub"]), line=fin["line"],
    )
