"""SWIFT MT940 (customer statement) and MT950 (statement message) cash statements.

Field order per statement: :20: [:21:] :25: :28C: :60F:/:60M: (:61: [:86:])* :62F:/:62M:
[:64:] [:65:]* [:86:]. Bank quirks accepted because they are common and unambiguous: file
headers before :20: (ABN AMRO, ING, Rabobank), the SWIFT envelope {1:}{2:}{4: ... -}, the
currency appended to the account in :25: (German and Dutch banks), several :86: lines per
entry (Rabobank, joined), zero padding of amounts beyond 15 characters (Rabobank), a missing
'-' between statements, a message-level :86: after the closing balance (ING). Refused:
anything out of order, amounts without a decimal comma, impossible dates, missing balances.
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from .base import Balance, CashEntry, CashStatement, ParseError
from .swift import Message, decode, parse_amount, parse_yymmdd, split_messages

BALANCE_RE = re.compile(r"^([CD])(\d{6})([A-Z]{3})(.+)$")
LINE61_RE = re.compile(
    r"^(?P<value>\d{6})(?P<entry>\d{4}| {4})?(?P<mark>RC|RD|C|D)(?P<funds>[A-Z])?(?P<amount>\d[\d,]*)"
    r"(?:(?P<type>[NSF][A-Z0-9]{3})|(?=//))(?P<rest>.*)$",  # Zenith Bank omits the type before '//'
    re.DOTALL,
)
STATEMENT_NO_RE = re.compile(r"^(\d{1,5}|\s*(?=/))(?:/(\d{1,5}))?$")  # " /1": a bank leaving the number blank
ACCOUNT_CCY_RE = re.compile(r"^(.*?[\d])\s*([A-Z]{3})$")  # "NL10BUNQ2290325473 EUR" (bunq)

BALANCE_TAGS = {"60F": ("opening", True), "60M": ("opening", False), "62F": ("closing", True),
                "62M": ("closing", False), "64": ("available", True), "65": ("forward", True)}


def parse_field(tag: str, value: str, *, file: str = "", line: int | None = None):
    """One MT940 field to a typed value (also used on fragments of statements)."""
    if tag in BALANCE_TAGS:
        kind, final = BALANCE_TAGS[tag]
        m = BALANCE_RE.match(value.strip())
        if not m:
            raise ParseError(f"balance {value!r} is not D/C, YYMMDD, currency, amount", file=file,
                             line=line, field=f":{tag}:")
        mark, date, ccy, amount = m.groups()
        amt = parse_amount(amount, file=file, line=line, fld=f":{tag}:")
        return Balance(kind=kind, date=parse_yymmdd(date, file=file, line=line, fld=f":{tag}:"),
                       currency=ccy, amount=-amt if mark == "D" else amt, final=final)
    if tag == "61":
        return _parse_61(value, currency="", file=file, line=line)
    if tag == "25":
        account = value.strip()
        if not account or len(account) > 35:
            raise ParseError("account identification must be 1 to 35 characters", file=file, line=line,
                             field=":25:")
        m = ACCOUNT_CCY_RE.match(account)
        if m and _is_currency(m.group(2)):
            return m.group(1), m.group(2)
        return account, ""
    if tag in {"28", "28C"}:
        m = STATEMENT_NO_RE.match(value.strip())
        if not m:
            raise ParseError(f"statement number {value!r} is not n[/n]", file=file, line=line, field=f":{tag}:")
        return m.group(1).strip(), m.group(2) or ""
    if tag in {"20", "21"}:
        ref = value.strip()
        if not ref or len(ref) > 16 or "\n" in ref:
            raise ParseError(f"reference {value!r} must be 1 to 16 characters on one line", file=file,
                             line=line, field=f":{tag}:")
        return ref
    if tag == "86":
        return value.strip()
    raise ParseError(f"field :{tag}: is not part of an MT940 statement", file=file, line=line, field=f":{tag}:")


def _is_currency(code: str) -> bool:
    import pycountry

    return pycountry.currencies.get(alpha_3=code) is not None or code in {"DEM", "FRF", "NLG", "ITL", "BEF"}


def _parse_61(value: str, *, currency: str, file: str, line: int | None) -> CashEntry:
    first, _, supplementary = value.partition("\n")
    m = LINE61_RE.match(first)
    if not m:
        raise ParseError(f"statement line {first!r} is not value date, [entry date], D/C mark, amount, type",
                         file=file, line=line, field=":61:")
    value_date = parse_yymmdd(m["value"], file=file, line=line, fld=":61: value date")
    entry_date = None
    if m["entry"] and m["entry"].strip():  # Citi writes four spaces for "no entry date"
        mm, dd = int(m["entry"][:2]), int(m["entry"][2:])
        year = value_date.year
        # The entry date may fall in the next or previous year around New Year.
        if value_date.month == 12 and mm == 1:
            year += 1
        elif value_date.month == 1 and mm == 12:
            year -= 1
        try:
            entry_date = dt.date(year, mm, dd)
        except ValueError:
            raise ParseError(f"entry date {m['entry']!r} does not exist", file=file, line=line,
                             field=":61: entry date") from None
    raw_amount = m["amount"]
    if raw_amount.isdigit():
        # a whole amount written without the decimal comma SWIFT requires (Knab): unambiguous, so read
        # as whole units rather than refuse a statement the bank really sends
        raw_amount += ","
    amount = parse_amount(raw_amount, file=file, line=line, fld=":61: amount")
    mark = m["mark"]
    signed = -amount if mark in {"D", "RC"} else amount  # a reversal of a credit is a debit
    rest = m["rest"]
    ref, sep, bank_ref = rest.partition("//")
    extra = ""
    if sep:
        bank_ref, extra = bank_ref[:16], bank_ref[16:]
    else:
        ref, extra = ref[:16], ref[16:]
    details = "\n".join(x for x in (extra.strip(), supplementary.strip()) if x)
    return CashEntry(value_date=value_date, entry_date=entry_date, amount=signed, currency=currency,
                     reversal=mark.startswith("R"), type_code=m["type"] or "", reference=ref.strip(),
                     bank_reference=bank_ref.strip(), details=details, line=line)


def _statement(msg: Message, *, file: str, message_type: str) -> CashStatement:
    fields = msg.fields
    if fields[0].tag != "20":
        raise ParseError(f"a statement must begin with :20: (found :{fields[0].tag}:)", file=file,
                         line=fields[0].line, field=f":{fields[0].tag}:")
    st = CashStatement(account="", currency="", line=fields[0].line)
    stage = 0  # 0 header, 1 after opening, 2 after closing
    last_entry: CashEntry | None = None
    seen: set[str] = set()
    for f in fields:
        tag = f.tag

        def out_of_order(after: str, _f=f) -> ParseError:
            return ParseError(f"field :{_f.tag}: is out of order ({after})", file=file, line=_f.line,
                              field=f":{_f.tag}:")

        if tag in {"20", "21", "25", "28", "28C"}:
            if stage != 0:
                raise out_of_order("it belongs before the opening balance :60F:")
            if tag in seen:
                raise out_of_order(f":{tag}: appears twice")
            seen.add(tag)
            value = parse_field(tag, f.value, file=file, line=f.line)
            if tag == "20":
                st.reference = value
            elif tag == "25":
                st.account, account_ccy = value
                st.currency = account_ccy
            elif tag in {"28", "28C"}:
                st.statement_number, st.sequence = value
            continue
        if tag in {"60F", "60M"}:
            if stage != 0:
                raise out_of_order("a second opening balance")
            for needed in ("25",):
                if needed not in seen:
                    raise ParseError("statement has no :25: account identification", file=file,
                                     line=f.line, field=":25:")
            if not seen & {"28", "28C"}:
                raise ParseError("statement has no :28C: statement number", file=file, line=f.line,
                                 field=":28C:")
            st.opening = parse_field(tag, f.value, file=file, line=f.line)
            if st.currency and st.currency != st.opening.currency:
                raise ParseError(f"opening balance currency {st.opening.currency} differs from the account's "
                                 f"{st.currency}", file=file, line=f.line, field=f":{tag}:")
            st.currency = st.opening.currency
            stage = 1
            continue
        if tag == "61":
            if stage != 1:
                raise out_of_order("statement lines belong between :60F: and :62F:")
            last_entry = _parse_61(f.value, currency=st.currency, file=file, line=f.line)
            st.entries.append(last_entry)
            continue
        if tag == "86":
            if message_type == "950" and stage == 1:
                raise ParseError("MT950 has no :86: information to account owner", file=file, line=f.line,
                                 field=":86:")
            text = parse_field("86", f.value)
            if stage == 1 and last_entry is None:
                # information to the account owner about the whole statement, before its first line
                # (Danske Bank): kept with the statement
                st.information = "\n".join(x for x in (st.information, text) if x)
            elif stage == 1:
                merged = "\n".join(x for x in (last_entry.details, text) if x)
                st.entries[-1] = last_entry = _replace(last_entry, details=merged)
            elif stage == 2:
                st.information = "\n".join(x for x in (st.information, text) if x)
            else:
                raise out_of_order("information before the opening balance")
            continue
        if tag in {"62F", "62M"}:
            if stage != 1:
                raise out_of_order("closing balance without an opening balance" if stage == 0
                                   else "a second closing balance")
            st.closing = parse_field(tag, f.value, file=file, line=f.line)
            if st.closing.currency != st.currency:
                raise ParseError(f"closing balance currency {st.closing.currency} differs from the opening "
                                 f"balance's {st.currency}", file=file, line=f.line, field=f":{tag}:")
            stage = 2
            continue
        if tag in {"64", "65"}:
            if stage != 2:
                raise out_of_order("it belongs after the closing balance :62F:")
            bal = parse_field(tag, f.value, file=file, line=f.line)
            if tag == "64":
                st.available = bal
            continue
        raise ParseError(f"field :{tag}: is not part of an MT{message_type} statement", file=file, line=f.line,
                         field=f":{tag}:")
    last = fields[-1].line
    if not st.account:
        raise ParseError("statement ends without :25: account identification", file=file, line=last, field=":25:")
    if st.opening is None:
        raise ParseError("statement ends without an opening balance :60F:", file=file, line=last, field=":60F:")
    if st.closing is None:
        raise ParseError("statement ends without a closing balance :62F:", file=file, line=last, field=":62F:")
    return st


def _replace(entry: CashEntry, **changes) -> CashEntry:
    from dataclasses import replace

    return replace(entry, **changes)


def parse_mt940(data: bytes | str, *, file: str = "", message_type: str = "") -> list[CashStatement]:
    """Every statement in an MT940 (or MT950) file, or ParseError for the whole file."""
    text = decode(data, file=file)
    messages = split_messages(text, file=file)
    if not messages:
        raise ParseError("file holds no statement", file=file, line=1)
    statements = []
    for msg in messages:
        if not msg.fields:
            raise ParseError("message holds no fields", file=file, line=msg.line)
        mtype = message_type or msg.message_type or "940"
        if mtype not in {"940", "950"}:
            raise ParseError(f"message type MT{mtype} is not a cash statement", file=file, line=msg.line)
        statements.append(_statement(msg, file=file, message_type=mtype))
    return statements


def parse_mt950(data: bytes | str, *, file: str = "") -> list[CashStatement]:
    return parse_mt940(data, file=file, message_type="950")


def parse_mt940_file(path: str | Path) -> list[CashStatement]:
    path = Path(path)
    return parse_mt940(path.read_bytes(), file=path.name)
