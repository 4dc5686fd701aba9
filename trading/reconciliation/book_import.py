"""Import our books from a file: opening positions (with their lots and cost), opening cash per
custody account, and trades pending settlement, as of one date, posted through the accounts
ledger services (`opening_balance_book`, `trade_book`), never written around them.

The template (CSV, UTF-8, a header row; column order free; empty cells where a column does not
apply to the record)::

    record,custodian,custody_account,isin,mic,quantity,cost,acquisition_date,currency,amount,side,price,trade_date,settle_date,reference
    position,CITIGB2L,T-1-EU,GB00BH4HKS39,XLON,1000,920.00,2025-03-14,GBP,,,,,,
    cash,CITIGB2L,T-1-EU,,,,,,GBP,48500.00,,,,,
    pending,IRVTUS3N,T-1-US,US0378331005,,10,,,,,buy,260,2026-11-24,,ORD-77

- `position`: one open lot. `quantity` in units (face amount for a bond), `cost` the lot's total
  cost in the listing's trading currency (GBP, not pence, for a GBp line), `acquisition_date`
  (default: the import date). `mic` picks the listing when the instrument trades on several of
  the custody account's markets. `currency`, if given, must be the listing's trading currency.
- `cash`: the opening balance of one currency (`amount`, signed).
- `pending`: a trade done on or before the import date that settles after it: `side` buy or sell,
  `quantity`, `price` as quoted on the listing (pence for a GBp line), `trade_date`,
  `settle_date` (default: the market's settlement cycle), `reference` (the order id).

The JSON template holds the same records as objects keyed by the same column names (numbers as
JSON numbers or strings, read as decimals; empty or absent keys where a column does not apply)::

    {"records": [
      {"record": "position", "custodian": "CITIGB2L", "custody_account": "T-1-EU", "isin": "GB00BH4HKS39",
       "mic": "XLON", "quantity": 1000, "cost": "920.00", "acquisition_date": "2025-03-14", "currency": "GBP"},
      {"record": "cash", "custodian": "CITIGB2L", "custody_account": "T-1-EU", "currency": "GBP", "amount": "48500.00"},
      {"record": "pending", "custodian": "IRVTUS3N", "custody_account": "T-1-US", "isin": "US0378331005",
       "quantity": 10, "side": "buy", "price": 260, "trade_date": "2026-11-24", "reference": "ORD-77"}
    ]}

A file whose name ends in .json, or whose text starts with `{` or `[`, is read as JSON; its problems
are named by record number (from 1) and key instead of line and column.

The file is validated whole before anything is written: every problem is reported with its line
and field, an instrument not in the master is reported, never created, and a refused file writes
nothing. The same bytes imported again change nothing (the file's SHA-256 is kept).
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction

from onboarding.audit import record_event
from onboarding.exceptions import MeridianError
from onboarding.models import User

from .exceptions import BookImportRefused
from .models import BookImport

COLUMNS = ("record", "custodian", "custody_account", "isin", "mic", "quantity", "cost", "acquisition_date",
           "currency", "amount", "side", "price", "trade_date", "settle_date", "reference")
REQUIRED = {
    "position": ("custodian", "custody_account", "isin", "quantity", "cost"),
    "cash": ("custodian", "custody_account", "currency", "amount"),
    "pending": ("custodian", "custody_account", "isin", "side", "quantity", "price", "trade_date"),
}
MAX_ERRORS = 200


@dataclass
class _Row:
    line: int
    record: str
    values: dict[str, Any]
    custody: Any = None
    listing: Any = None


@dataclass
class BookImportOutcome:
    book_import: BookImport
    duplicate: bool = False
    counts: dict[str, int] = field(default_factory=dict)


class _Errors:
    def __init__(self) -> None:
        self.items: list[tuple[int, str, str]] = []
        self.unit = "line"  # "record" for a JSON file: its records are counted from 1

    def add(self, line: int, fname: str, reason: str) -> None:
        if len(self.items) < MAX_ERRORS:
            self.items.append((line, fname, reason))

    def refuse(self, name: str) -> None:
        if not self.items:
            return
        line, fname, reason = self.items[0]
        more = f" (and {len(self.items) - 1} more problems)" if len(self.items) > 1 else ""
        detail: dict[str, list[str]] = {}
        for ln, fn, why in self.items:
            detail.setdefault(f"{self.unit} {ln}.{fn}", []).append(why)
        raise BookImportRefused(f"{name}: {self.unit} {line}, field {fname}: {reason}{more}; nothing was imported",
                                detail=detail)


def _decimal(text: str) -> Decimal:
    t = text.strip()
    if not t or "e" in t.lower() or t.lower() in {"nan", "inf", "-inf", "infinity"}:
        raise ValueError(f"{text!r} is not a number")
    try:
        value = Decimal(t)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not a number")
    return value


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _read(data: bytes, name: str, as_of: dt.date, errors: _Errors) -> list[_Row]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BookImportRefused(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start}); nothing was imported",
                                detail={"file": [f"not UTF-8 text at byte {exc.start}"]}) from None
    if name.lower().endswith(".json") or text.lstrip()[:1] in {"{", "["}:
        return _read_json(text, name, as_of, errors)
    reader = csv.reader(io.StringIO(text), strict=True)
    rows: list[_Row] = []
    try:
        header = [c.strip().lower() for c in next(reader, [])]
        unknown = [c for c in header if c not in COLUMNS]
        if not header or "record" not in header or unknown:
            errors.add(1, "header", f"the header must name the template's columns ({', '.join(COLUMNS)})"
                       + (f"; unknown: {', '.join(unknown)}" if unknown else ""))
            errors.refuse(name)
        for raw in reader:
            line = reader.line_num
            if not any(c.strip() for c in raw):
                continue
            if len(raw) > len(header):
                errors.add(line, "record", f"{len(raw)} cells, the header has {len(header)}")
                continue
            row = _row(line, {h: (raw[i].strip() if i < len(raw) else "") for i, h in enumerate(header)}, as_of,
                       errors)
            if row is not None:
                rows.append(row)
    except csv.Error as exc:
        errors.add(reader.line_num, "record", f"not valid CSV: {exc}")
    if not rows and not errors.items:
        errors.add(1, "record", "the file holds no position, cash or pending record")
    return rows


def _read_json(text: str, name: str, as_of: dt.date, errors: _Errors) -> list[_Row]:
    """The JSON template: `{"records": [{...}, ...]}` (or the list alone), one object per record
    with the CSV template's column names as keys; numbers as JSON numbers or strings (read as
    decimals, never floats). Problems are named by record number (from 1) and key."""
    errors.unit = "record"
    try:
        doc = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    except json.JSONDecodeError as exc:
        raise BookImportRefused(f"{name}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                                "nothing was imported", detail={"file": [f"not valid JSON: {exc.msg}"]}) from None
    records = doc.get("records") if isinstance(doc, dict) else doc
    if not isinstance(records, list):
        raise BookImportRefused(f'{name}: the JSON template is {{"records": [...]}} or a list of records; '
                                "nothing was imported", detail={"file": ["no list of records"]})
    rows: list[_Row] = []
    for number, obj in enumerate(records, start=1):
        if not isinstance(obj, dict):
            errors.add(number, "record", "not an object")
            continue
        unknown = sorted(str(k) for k in obj if k not in COLUMNS)
        if unknown:
            errors.add(number, unknown[0], f"not a column of the template ({', '.join(COLUMNS)})")
            continue
        cells: dict[str, str] = {}
        for key, value in obj.items():
            if isinstance(value, (dict, list, bool)):
                errors.add(number, key, "must be a string or a number")
            cells[key] = "" if value is None else format(value, "f") if isinstance(value, Decimal) \
                else str(value).strip()
        row = _row(number, cells, as_of, errors)
        if row is not None:
            rows.append(row)
    if not rows and not errors.items:
        errors.add(1, "record", "the file holds no position, cash or pending record")
    return rows


def _row(line: int, cells: dict[str, str], as_of: dt.date, errors: _Errors) -> _Row | None:
    """One record's cells (text), checked field by field; None when its record type is unknown."""
    record = cells.get("record", "").lower()
    if record not in REQUIRED:
        errors.add(line, "record", f"{cells.get('record', '')!r} is not one of position, cash, pending")
        return None
    values: dict[str, Any] = {}
    for fname in COLUMNS[1:]:
        text = cells.get(fname, "")
        if not text:
            if fname in REQUIRED[record]:
                errors.add(line, fname, f"required for a {record} record")
            continue
        try:
            if fname in {"quantity", "cost", "amount", "price"}:
                values[fname] = _decimal(text)
            elif fname in {"acquisition_date", "trade_date", "settle_date"}:
                values[fname] = _date(text)
            elif fname in {"isin", "mic", "currency"}:
                values[fname] = text.upper()
            elif fname == "side":
                if text.lower() not in {"buy", "sell"}:
                    raise ValueError(f"{text!r} is not buy or sell")
                values[fname] = text.lower()
            else:
                values[fname] = text
        except ValueError as exc:
            errors.add(line, fname, str(exc))
    q = values.get("quantity")
    if q is not None and q <= 0:
        errors.add(line, "quantity", "must be positive")
    if record == "position" and values.get("cost") is not None and values["cost"] < 0:
        errors.add(line, "cost", "a lot's cost cannot be negative")
    if record == "position" and values.get("acquisition_date", as_of) > as_of:
        errors.add(line, "acquisition_date", f"after the import date {as_of}")
    if record == "pending" and "trade_date" in values:
        if values["trade_date"] > as_of:
            errors.add(line, "trade_date", f"after the import date {as_of}: not a trade of these books")
        if values.get("settle_date") is not None and values["settle_date"] <= as_of:
            errors.add(line, "settle_date", f"on or before the import date {as_of}: settled, not pending; "
                                            "put it in the opening position instead")
    if record == "pending" and values.get("price") is not None and values["price"] <= 0:
        errors.add(line, "price", "must be positive")
    return _Row(line=line, record=record, values=values)


def _resolve(rows: list[_Row], *, actor: User | None, errors: _Errors) -> None:
    """Custody accounts by custodian code and number (in the actor's firm), instruments by ISIN
    in the master (never created), and the listing each line trades on."""
    from accounts.models import CustodyAccount
    from trading.reference.models import Instrument, Listing

    wanted = {(r.values.get("custodian", ""), r.values.get("custody_account", "")) for r in rows}
    custody: dict[tuple[str, str], Any] = {}
    for ca in CustodyAccount.objects.filter(number__in={n for _c, n in wanted}).select_related(
            "custodian", "account").prefetch_related("markets"):
        for code in {ca.custodian.code, ca.custodian.bic or ""} - {""}:
            custody[(code, ca.number)] = ca
    isins = {r.values["isin"] for r in rows if r.values.get("isin")}
    instruments = {i.isin: i for i in Instrument.objects.filter(isin__in=isins)}
    listings: dict[int, list[Any]] = {}
    for listing in Listing.objects.filter(instrument__isin__in=isins, is_active=True).select_related(
            "market", "instrument").order_by("-is_primary", "pk"):
        listings.setdefault(listing.instrument_id, []).append(listing)
    from .selectors import sees_all_firms

    firm_only = actor is not None and actor.is_authenticated and not sees_all_firms(actor)
    for r in rows:
        key = (r.values.get("custodian", ""), r.values.get("custody_account", ""))
        ca = custody.get(key)
        if ca is None or (firm_only and ca.account.firm_id != actor.firm_id):  # type: ignore[union-attr]
            if key[0] and key[1]:
                errors.add(r.line, "custody_account", f"no custody account {key[1]!r} at custodian {key[0]!r}")
            continue
        r.custody = ca
        if r.record == "cash" or not r.values.get("isin"):
            continue
        instrument = instruments.get(r.values["isin"])
        if instrument is None:
            errors.add(r.line, "isin", f"{r.values['isin']} is not in the instrument master (add it there first; "
                                       "the import never invents an instrument)")
            continue
        held = {m.mic for m in ca.markets.all()}
        candidates = [li for li in listings.get(instrument.pk, [])
                      if (not held or li.market.mic in held)
                      and (not r.values.get("mic") or li.market.mic == r.values["mic"])]
        if not candidates:
            errors.add(r.line, "mic" if r.values.get("mic") else "isin",
                       f"{instrument.isin} has no listing on {r.values.get('mic') or 'a market'} that custody "
                       f"account {ca.number} holds ({', '.join(sorted(held)) or 'none'})")
            continue
        r.listing = candidates[0]
        ccy = r.values.get("currency")
        if r.record == "position" and ccy and ccy != r.listing.trading_currency:
            errors.add(r.line, "currency", f"{instrument.isin} trades in {r.listing.trading_currency} on "
                                           f"{r.listing.market.mic}, not {ccy}")


def book_import(*, data: bytes, name: str, as_of: dt.date, actor: User | None = None,
                progress: Callable[[int, int], None] | None = None) -> BookImportOutcome:
    """Validate the whole file, then post it in one transaction; refused whole, or done once."""
    from accounts.services import OpeningLot, opening_balance_book, trade_book

    sha = hashlib.sha256(data).hexdigest()
    done = BookImport.objects.filter(sha256=sha).first()
    if done is not None:
        return BookImportOutcome(book_import=done, duplicate=True, counts=done.counts)
    errors = _Errors()
    rows = _read(data, name, as_of, errors)
    errors.refuse(name)
    _resolve(rows, actor=actor, errors=errors)
    errors.refuse(name)
    counts = {"positions": 0, "lots": 0, "cash": 0, "pending": 0, "custody_accounts": 0}
    by_custody: dict[int, list[_Row]] = {}
    for r in rows:
        if r.record in {"position", "cash"}:
            by_custody.setdefault(r.custody.pk, []).append(r)
    total = len(by_custody) + sum(1 for r in rows if r.record == "pending")
    step = 0
    current: list[_Row] = []
    try:
        with transaction.atomic():
            for group in by_custody.values():
                current = group
                ca = group[0].custody
                lots = [OpeningLot(listing=r.listing, quantity=r.values["quantity"], cost_local=r.values["cost"],
                                   acquisition_date=r.values.get("acquisition_date", as_of))
                        for r in group if r.record == "position"]
                cash_totals: dict[str, Decimal] = {}
                for r in group:
                    if r.record == "cash":
                        cash_totals[r.values["currency"]] = cash_totals.get(r.values["currency"], Decimal(0)) \
                            + r.values["amount"]
                opening_balance_book(account=ca.account, custody_account=ca, as_of=as_of, lots=lots,
                                     cash=sorted(cash_totals.items()), actor=actor,
                                     external_ref=f"book-import:{sha[:20]}:{ca.pk}")
                counts["lots"] += len(lots)
                counts["positions"] += len({lot.listing.instrument_id for lot in lots})
                counts["cash"] += len(cash_totals)
                counts["custody_accounts"] += 1
                step += 1
                if progress:
                    progress(step, total)
            for r in rows:
                if r.record != "pending":
                    continue
                current = [r]
                trade_book(account=r.custody.account, custody_account=r.custody, listing=r.listing,
                           side=r.values["side"], quantity=r.values["quantity"], price=r.values["price"],
                           trade_date=r.values["trade_date"], settle_date=r.values.get("settle_date"), actor=actor,
                           external_ref=f"book-import:{sha[:20]}:L{r.line}:{r.values.get('reference', '')}"[:100])
                counts["pending"] += 1
                step += 1
                if progress:
                    progress(step, total)
            record = BookImport.objects.create(sha256=sha, name=name[:255], as_of=as_of, counts=counts,
                                               created_by=actor if actor is not None and actor.is_authenticated
                                               else None)
            record_event(subject=record, event_type="recon.book_imported", actor=actor,
                         detail={"sha256": sha, "name": name[:255], "as_of": str(as_of), **counts})
    except MeridianError as exc:
        if isinstance(exc, BookImportRefused):
            raise
        lines = ", ".join(str(r.line) for r in current[:10])
        where = f"{errors.unit} {lines}" if len(current) == 1 else f"{errors.unit}s {lines}"
        raise BookImportRefused(f"{name}: {where}: {exc.message}; nothing was imported",
                                detail={f"{errors.unit} {current[0].line if current else 0}.record": [exc.message]}) from None
    return BookImportOutcome(book_import=record, counts=counts)
