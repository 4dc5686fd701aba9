"""The matching engine: custodian positions against our books, set-oriented and vectorised.

Plain Python and numpy, no ORM. A service loads both sides in bulk into the column arrays
below, calls `reconcile_positions` (or `reconcile_cash`), and writes the differences in bulk.
On PostgreSQL `sql.py` does the same work in one set of SQL statements; both follow these
rules:

1. Identify: each custodian row is mapped to one of our instruments in passes from the
   strongest key to the weakest, ISIN, CUSIP, SEDOL, ticker + MIC, the custodian's own code;
   a row resolved by one pass is retired from the next. The identifier map carries a quantity
   factor (ADR vs ordinary shares: custodian quantity x factor = our quantity).
2. Normalise: custodian prices quoted in minor units (GBX, ZAc, ILA) are divided into their
   currency; quantities are exact (scaled integers, 1e-6 of a unit).
3. Match per (custody account, instrument), custodian lines for the same key summed.
4. Classify every difference, and explain what can be explained: a quantity difference of
   exactly the size of the trades pending settlement after the statement date (books are on
   trade date, a settlement-basis statement is not); a split or consolidation near the
   statement date booked on one side only (corporate action); prices within the price-source
   band, or FX rates apart (market value, with its cause).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from .policy import Tolerances

QSCALE = 10**6  # quantities as int64 millionths of a unit: exact sums and differences

PASSES = ("isin", "cusip", "sedol", "ticker_mic", "custodian_code")
KINDS = ("quantity", "price", "market_value", "pending_settlement", "corporate_action", "unknown_instrument",
         "missing_at_custodian", "missing_in_books", "cash")


def to_scaled(values: Sequence[Any]) -> np.ndarray:
    """Decimals (or numbers as text) to int64 millionths, exactly."""
    return np.fromiter((int(Decimal(v) * QSCALE) for v in values), dtype=np.int64, count=len(values))


def _str(values: Iterable[Any]) -> np.ndarray:
    return np.asarray(["" if v is None else str(v) for v in values], dtype=object)


@dataclass
class CustodianPositions:
    account: np.ndarray
    quantity: np.ndarray                      # int64, scaled by QSCALE
    isin: np.ndarray
    cusip: np.ndarray
    sedol: np.ndarray
    ticker: np.ndarray
    mic: np.ndarray
    custodian_code: np.ndarray
    price: np.ndarray                         # float64, NaN when absent
    price_currency: np.ndarray
    fx_rate: np.ndarray                       # float64 price currency -> base, NaN when absent
    line: np.ndarray
    price_source: np.ndarray | None = None    # object: the custodian's price source where the file names it
    fx_source: np.ndarray | None = None       # object: the custodian's FX rate source (quoting institution)

    @classmethod
    def from_holdings(cls, holdings: Sequence[Any]) -> CustodianPositions:
        n = len(holdings)
        return cls(
            account=_str([h.account for h in holdings]),
            quantity=to_scaled([h.quantity for h in holdings]),
            isin=_str([h.isin for h in holdings]), cusip=_str([h.cusip for h in holdings]),
            sedol=_str([h.sedol for h in holdings]), ticker=_str([h.ticker for h in holdings]),
            mic=_str([h.mic for h in holdings]), custodian_code=_str([h.custodian_code for h in holdings]),
            price=np.array([float(h.price) if h.price is not None else np.nan for h in holdings], dtype=float),
            price_currency=_str([h.price_currency for h in holdings]),
            fx_rate=np.array([float(h.fx_rate) if h.fx_rate is not None else np.nan for h in holdings], dtype=float),
            line=np.array([h.line or 0 for h in holdings], dtype=np.int64) if n else np.zeros(0, dtype=np.int64),
            price_source=_str([h.price_source for h in holdings]),
            fx_source=_str([getattr(h, "fx_source", "") for h in holdings]),
        )

    def __len__(self) -> int:
        return len(self.account)


@dataclass
class BookPositions:
    account: np.ndarray
    instrument_id: np.ndarray                 # int64
    quantity: np.ndarray                      # int64 scaled
    price: np.ndarray                         # float64, in price_currency (major units)
    price_currency: np.ndarray
    fx_rate: np.ndarray                       # price currency -> base currency (our source)

    def __len__(self) -> int:
        return len(self.account)


@dataclass
class IdentifierMap:
    kind: np.ndarray                          # one of PASSES
    value: np.ndarray                         # for ticker_mic: "TICKER@MIC"
    instrument_id: np.ndarray
    quantity_factor: np.ndarray               # float64: custodian quantity x factor = our quantity
    custodian: np.ndarray | None = None       # custodian_code rows are per custodian ('' = any)


@dataclass
class PendingTrades:
    account: np.ndarray
    instrument_id: np.ndarray
    quantity: np.ndarray                      # int64 scaled, signed (buy +)
    trade_date: np.ndarray                    # datetime64[D]
    settle_date: np.ndarray


@dataclass
class CorporateActions:
    instrument_id: np.ndarray
    effective_date: np.ndarray                # datetime64[D]
    ratio: np.ndarray                         # float64: new quantity per old (2.0 for a 2:1 split)
    open: np.ndarray | None = None            # bool: announced/confirmed, entitlement not booked (explains)


@dataclass
class Differences:
    kind: np.ndarray
    explained: np.ndarray                     # bool
    cause: np.ndarray
    account: np.ndarray
    instrument_id: np.ndarray                 # -1 for unknown instruments
    identifier: np.ndarray                    # custodian identifier text (for unknown instruments)
    custodian_quantity: np.ndarray            # int64 scaled (our units)
    book_quantity: np.ndarray
    custodian_price: np.ndarray
    book_price: np.ndarray
    custodian_fx: np.ndarray
    book_fx: np.ndarray
    amount_base: np.ndarray                   # float64, absolute amount at stake in base currency
    match_pass: np.ndarray                    # index into PASSES (-1 none)
    line: np.ndarray
    amount_local: np.ndarray | None = None    # float64 signed difference (custodian - ours) in local_currency
    local_currency: np.ndarray | None = None
    base_currency: np.ndarray | None = None   # per line, when lines differ in base currency
    custodian_price_source: np.ndarray | None = None  # object, per line: the file's price source ("" if none)
    custodian_fx_source: np.ndarray | None = None     # object, per line: the file's FX source ("" if none)

    def __len__(self) -> int:
        return len(self.kind)

    def summary(self) -> dict:
        out: dict[str, int] = {}
        for k, e in zip(self.kind.tolist(), self.explained.tolist()):
            label = f"{k}{' (explained)' if e else ''}"
            out[label] = out.get(label, 0) + 1
        return out


@dataclass
class MatchResult:
    differences: Differences
    custodian_rows: int
    book_rows: int
    matched_pairs: int
    clean_pairs: int
    resolved_by_pass: dict[str, int] = field(default_factory=dict)
    lines: Differences | None = None          # every line compared, matched ones included (kind "")

    @property
    def breaks(self) -> int:
        return int((~self.differences.explained).sum())

    @property
    def explained(self) -> int:
        return int(self.differences.explained.sum())

    @property
    def match_rate(self) -> float:
        total = self.clean_pairs + len(self.differences)
        return self.clean_pairs / total if total else 1.0


# ------------------------------------------------------------------ identification

def _lookup(keys: np.ndarray, map_keys: np.ndarray, map_values: np.ndarray,
            default: Any) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised dictionary lookup: for each key the value at the same key in map_keys."""
    out = np.full(len(keys), default, dtype=map_values.dtype if len(map_values) else object)
    if not len(map_keys) or not len(keys):
        return out, np.zeros(len(keys), dtype=bool)
    order = np.argsort(map_keys, kind="stable")
    sk = map_keys[order]
    pos = np.searchsorted(sk, keys)
    pos = np.clip(pos, 0, len(sk) - 1)
    found = sk[pos] == keys
    out[found] = map_values[order][pos[found]]
    return out, found


def resolve_instruments(cust: CustodianPositions, idmap: IdentifierMap, *,
                        custodian: str = "") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Instrument id, quantity factor and pass for each custodian row (-1 / nan / -1 if none)."""
    n = len(cust)
    instrument = np.full(n, -1, dtype=np.int64)
    factor = np.ones(n, dtype=float)
    passed = np.full(n, -1, dtype=np.int8)
    keys_by_pass = {
        "isin": cust.isin, "cusip": cust.cusip, "sedol": cust.sedol,
        "ticker_mic": np.where(cust.ticker != "", cust.ticker + "@" + cust.mic, ""),
        "custodian_code": cust.custodian_code,
    }
    mkind = idmap.kind
    for p, name in enumerate(PASSES):
        todo = (instrument < 0) & (keys_by_pass[name] != "")
        if not todo.any():
            continue
        sel = mkind == name
        if name == "custodian_code" and idmap.custodian is not None:
            sel &= (idmap.custodian == custodian) | (idmap.custodian == "")
        idx = np.nonzero(todo)[0]
        ids, found = _lookup(keys_by_pass[name][idx].astype(str), idmap.value[sel].astype(str),
                             idmap.instrument_id[sel], -1)
        fac, _ = _lookup(keys_by_pass[name][idx].astype(str), idmap.value[sel].astype(str),
                         idmap.quantity_factor[sel], 1.0)
        hit = idx[found]
        instrument[hit] = ids[found]
        factor[hit] = fac[found]
        passed[hit] = p
    return instrument, factor, passed


# ------------------------------------------------------------------ matching

def _group(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    uniq, inverse = np.unique(keys, return_inverse=True)
    return uniq, inverse


def _sum_by(inverse: np.ndarray, size: int, values: np.ndarray) -> np.ndarray:
    out = np.zeros(size, dtype=values.dtype)
    np.add.at(out, inverse, values)
    return out


def _first_by(inverse: np.ndarray, size: int, values: np.ndarray, fill: Any) -> np.ndarray:
    out = np.full(size, fill, dtype=values.dtype)
    out[inverse[::-1]] = values[::-1]  # earliest row wins
    return out


def reconcile_positions(cust: CustodianPositions, books: BookPositions, idmap: IdentifierMap, *,
                        tolerances: Tolerances, price_units: dict[str, tuple[str, Decimal]],
                        as_of: dt.date, basis: str = "SETT", custodian: str = "",
                        pending: PendingTrades | None = None,
                        corporate_actions: CorporateActions | None = None) -> MatchResult:
    instrument, factor, passed = resolve_instruments(cust, idmap, custodian=custodian)
    resolved = instrument >= 0
    # custodian quantities in our units, prices in major units of their currency
    cq = np.rint(cust.quantity.astype(float) * factor).astype(np.int64)
    exact = factor == 1.0
    cq[exact] = cust.quantity[exact]
    cprice = cust.price / np.where(factor != 0, factor, 1.0)  # per our unit
    cccy = cust.price_currency.copy()
    for unit, (ccy, divisor) in price_units.items():
        sel = cccy == unit
        if sel.any():
            cprice[sel] = cprice[sel] / float(divisor)
            cccy[sel] = ccy

    accounts, acc_inv = np.unique(np.concatenate([cust.account.astype(str), books.account.astype(str)]),
                                  return_inverse=True)
    c_acc, b_acc = acc_inv[: len(cust)], acc_inv[len(cust):]
    c_key = (c_acc.astype(np.int64) << 32) | np.where(resolved, instrument, 0)
    b_key = (b_acc.astype(np.int64) << 32) | books.instrument_id.astype(np.int64)

    rk = c_key[resolved]
    keys = np.union1d(rk, b_key)
    size = len(keys)
    ci = np.searchsorted(keys, rk)
    bi = np.searchsorted(keys, b_key)
    has_c = np.zeros(size, bool)
    has_c[ci] = True
    has_b = np.zeros(size, bool)
    has_b[bi] = True
    qc = _sum_by(ci, size, cq[resolved])
    qb = _sum_by(bi, size, books.quantity.astype(np.int64))
    pc = _first_by(ci, size, cprice[resolved], np.nan)
    fxc = _first_by(ci, size, cust.fx_rate[resolved], np.nan)
    ccy_c = _first_by(ci, size, cccy[resolved].astype(object), "")
    line = _first_by(ci, size, cust.line[resolved], 0)
    no_text = np.full(len(cust), "", dtype=object)
    c_psrc = cust.price_source if cust.price_source is not None else no_text
    c_fsrc = cust.fx_source if cust.fx_source is not None else no_text
    psrc = _first_by(ci, size, c_psrc[resolved].astype(object), "")
    fsrc = _first_by(ci, size, c_fsrc[resolved].astype(object), "")
    mpass = _first_by(ci, size, passed[resolved], -1)
    pb = _first_by(bi, size, books.price.astype(float), np.nan)
    fxb = _first_by(bi, size, books.fx_rate.astype(float), np.nan)
    ccy_b = _first_by(bi, size, books.price_currency.astype(object), "")
    acct_of = accounts[(keys >> 32).astype(np.int64)]
    instr_of = (keys & 0xFFFFFFFF).astype(np.int64)

    # pending trades: in the books (trade date) but not yet settled at the statement date
    pend = np.zeros(size, dtype=np.int64)
    if pending is not None and len(pending.account) and basis == "SETT":
        d = np.datetime64(as_of, "D")
        live = (pending.trade_date <= d) & (pending.settle_date > d)
        pa = np.searchsorted(accounts, pending.account[live].astype(str))
        pa = np.clip(pa, 0, max(len(accounts) - 1, 0))
        known = accounts[pa] == pending.account[live].astype(str) if len(accounts) else np.zeros(0, bool)
        pk = (pa.astype(np.int64) << 32) | pending.instrument_id[live].astype(np.int64)
        pk, pq = pk[known], pending.quantity[live][known]
        pos = np.clip(np.searchsorted(keys, pk), 0, max(size - 1, 0))
        ok = keys[pos] == pk if size else np.zeros(0, bool)
        np.add.at(pend, pos[ok], pq[ok])

    dq = qc - qb
    qtol = int(tolerances.quantity_absolute * QSCALE)
    qty_diff = np.abs(dq) > qtol
    explained_pending = qty_diff & (pend != 0) & (dq == -pend)

    ca = np.zeros(size, bool)
    ca_open = np.zeros(size, bool)  # matched by an announced/confirmed event not yet booked: explained
    if corporate_actions is not None and len(corporate_actions.instrument_id):
        window = np.timedelta64(tolerances.corporate_action_window_days, "D")
        d = np.datetime64(as_of, "D")
        near = np.abs(corporate_actions.effective_date - d) <= window
        is_open = corporate_actions.open if corporate_actions.open is not None \
            else np.zeros(len(corporate_actions.instrument_id), bool)
        for iid, ratio, unbooked in zip(corporate_actions.instrument_id[near], corporate_actions.ratio[near],
                                        is_open[near]):
            sel = qty_diff & (instr_of == iid) & ~explained_pending
            if sel.any():
                qcf, qbf = qc[sel].astype(float), qb[sel].astype(float)
                # the SQL engine's test: within half a millionth of a unit, either direction
                hit = np.nonzero(sel)[0][(np.abs(qbf * ratio - qcf) < 0.5) | (np.abs(qcf * ratio - qbf) < 0.5)]
                ca[hit] = True
                if unbooked:
                    ca_open[hit] = True

    kind = np.full(size, "", dtype=object)
    cause = np.full(size, "", dtype=object)
    only_c = has_c & ~has_b
    only_b = has_b & ~has_c
    both = has_c & has_b
    kind[only_c & qty_diff] = "missing_in_books"
    kind[only_b & qty_diff] = "missing_at_custodian"
    kind[both & qty_diff] = "quantity"
    kind[ca] = "corporate_action"
    kind[explained_pending] = "pending_settlement"
    cause[explained_pending] = "trade pending settlement after the statement date"
    cause[ca] = "split or consolidation booked on one side only"
    ca_explained = ca & ca_open & ~explained_pending
    cause[ca_explained] = "corporate action announced, entitlement not yet booked"
    explained_all = explained_pending | ca_explained

    # prices and market values where quantities agree
    same_q = both & ~qty_diff
    ccy_diff = same_q & (ccy_c != "") & (ccy_b != "") & (ccy_c != ccy_b)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel_p = np.abs(pc - pb) / np.abs(pb)
        rel_fx = np.abs(fxc - fxb) / np.abs(fxb)
        qf = qb.astype(float) / QSCALE
        mv_c = qf * pc * np.where(np.isnan(fxc), fxb, fxc)
        mv_b = qf * pb * fxb
        mv_diff = np.abs(mv_c - mv_b)
    mv_min = float(tolerances.market_value_min_base)
    price_break = same_q & ~ccy_diff & (rel_p > float(tolerances.price_source_band_relative))
    price_source = same_q & ~ccy_diff & ~price_break & (rel_p > float(tolerances.price_relative)) & (mv_diff >= mv_min)
    fx_source = (same_q & ~ccy_diff & ~price_break & ~price_source & (rel_fx > float(tolerances.fx_relative))
                 & (mv_diff >= mv_min))
    kind[ccy_diff | price_break] = "price"
    cause[ccy_diff] = "price currency differs"
    cause[price_break] = "price differs beyond the price-source band"
    kind[price_source | fx_source] = "market_value"
    cause[price_source] = "price source"
    cause[fx_source] = "fx rate source"

    # amount at stake in base currency
    fx_any = np.where(np.isnan(fxb), fxc, fxb)
    p_any = np.where(np.isnan(pb), pc, pb)
    with np.errstate(invalid="ignore"):
        amount = np.abs(dq.astype(float) / QSCALE) * p_any * fx_any
        amount = np.where(kind == "price", np.abs(qf * (pc - pb) * fx_any), amount)
        amount = np.where(kind == "market_value", mv_diff, amount)
    amount = np.nan_to_num(amount, nan=0.0)
    with np.errstate(invalid="ignore"):  # the same, signed (custodian - ours), in the price currency
        local = (dq.astype(float) / QSCALE) * p_any
        local = np.where(kind == "price", qf * (pc - pb), local)
        local = np.where(kind == "market_value", qf * (pc - pb), local)
    local = np.nan_to_num(local, nan=0.0)
    local_ccy = np.where(ccy_b != "", ccy_b, ccy_c).astype(object)

    sel = kind != ""
    # unidentified lines, one difference per (account, identifier carried)
    unk = ~resolved
    unknown_ident = np.where(cust.isin[unk] != "", cust.isin[unk],
                             np.where(cust.cusip[unk] != "", cust.cusip[unk],
                                      np.where(cust.sedol[unk] != "", cust.sedol[unk],
                                               np.where(cust.ticker[unk] != "", cust.ticker[unk] + "@" + cust.mic[unk],
                                                        cust.custodian_code[unk]))))
    u_keys = np.asarray([f"{a}|{i}" for a, i in zip(cust.account[unk].tolist(), unknown_ident.tolist())], dtype=object)
    u_uniq, u_first, u_inv = (np.unique(u_keys.astype(str), return_index=True, return_inverse=True) if len(u_keys)
                              else (np.zeros(0, str), np.zeros(0, np.int64), np.zeros(0, np.int64)))
    n_unknown = len(u_uniq)
    u_qty = _sum_by(u_inv, n_unknown, cust.quantity[unk]) if n_unknown else np.zeros(0, np.int64)
    u_price = cprice[unk][u_first] if n_unknown else np.zeros(0)
    u_fx = cust.fx_rate[unk][u_first] if n_unknown else np.zeros(0)
    with np.errstate(invalid="ignore"):
        unknown_amount = np.nan_to_num(np.abs(u_qty.astype(float) / QSCALE * u_price * u_fx), nan=0.0)
    unknown_account = cust.account[unk][u_first] if n_unknown else np.zeros(0, object)
    unknown_ident = unknown_ident[u_first] if n_unknown else np.zeros(0, object)
    unknown_line = cust.line[unk][u_first] if n_unknown else np.zeros(0, np.int64)
    unknown_psrc = c_psrc[unk][u_first].astype(object) if n_unknown else np.zeros(0, object)
    unknown_fsrc = c_fsrc[unk][u_first].astype(object) if n_unknown else np.zeros(0, object)
    def build(sel: np.ndarray) -> Any:
        return Differences(
            kind=np.concatenate([kind[sel], np.full(n_unknown, "unknown_instrument", dtype=object)]),
            explained=np.concatenate([explained_all[sel], np.zeros(n_unknown, bool)]),
            cause=np.concatenate([cause[sel], np.full(n_unknown, "no identifier maps to our instruments", object)]),
            account=np.concatenate([acct_of[sel].astype(object), unknown_account.astype(object)]),
            instrument_id=np.concatenate([instr_of[sel], np.full(n_unknown, -1, np.int64)]),
            identifier=np.concatenate([np.full(int(sel.sum()), "", object), unknown_ident.astype(object)]),
            custodian_quantity=np.concatenate([qc[sel], u_qty.astype(np.int64)]),
            book_quantity=np.concatenate([qb[sel], np.zeros(n_unknown, np.int64)]),
            custodian_price=np.concatenate([pc[sel], u_price]),
            book_price=np.concatenate([pb[sel], np.full(n_unknown, np.nan)]),
            custodian_fx=np.concatenate([fxc[sel], u_fx]),
            book_fx=np.concatenate([fxb[sel], np.full(n_unknown, np.nan)]),
            amount_base=np.concatenate([amount[sel], unknown_amount]),
            match_pass=np.concatenate([mpass[sel].astype(np.int64), np.full(n_unknown, -1, np.int64)]),
            line=np.concatenate([line[sel], unknown_line.astype(np.int64)]),
            amount_local=np.concatenate([local[sel], np.nan_to_num(u_qty.astype(float) / QSCALE * u_price, nan=0.0)]),
            local_currency=np.concatenate([local_ccy[sel], (cccy[unk][u_first] if n_unknown
                                                            else np.zeros(0, object)).astype(object)]),
            custodian_price_source=np.concatenate([psrc[sel], unknown_psrc]),
            custodian_fx_source=np.concatenate([fsrc[sel], unknown_fsrc]),
        )

    diffs = build(sel)
    every = build(np.ones(size, bool))  # every line, matched ones too (kind "" = matched)
    resolved_by_pass = {name: int((passed == p).sum()) for p, name in enumerate(PASSES)}
    return MatchResult(differences=diffs, custodian_rows=len(cust), book_rows=len(books),
                       matched_pairs=int(both.sum()), clean_pairs=int((both & (kind == "")).sum()),
                       resolved_by_pass=resolved_by_pass, lines=every)


# ------------------------------------------------------------------ cash

@dataclass
class CashBalances:
    account: np.ndarray
    currency: np.ndarray
    amount: np.ndarray                        # int64 scaled


def reconcile_cash(cust: CashBalances, books: CashBalances, *, tolerances: Tolerances,
                   pending: CashBalances | None = None,
                   fx_to_base: dict | None = None) -> MatchResult:
    """Cash per (custody account, currency): the statement's closing booked balance against our
    settled balance. `pending` (trade-date books only) is cash that settles after the statement
    date; a difference of exactly that amount is explained. `fx_to_base` maps (account, currency)
    (or a currency) to (rate, base currency): the difference is kept in the account's currency and
    converted to base at our rate, both shown."""
    def keys(b: CashBalances) -> np.ndarray:
        return np.asarray([f"{a}|{c}" for a, c in zip(b.account.tolist(), b.currency.tolist())], dtype=object)

    ck, bk = keys(cust).astype(str), keys(books).astype(str)
    allk = np.union1d(ck, bk)
    size = len(allk)
    ci, bi = np.searchsorted(allk, ck), np.searchsorted(allk, bk)
    has_c = np.zeros(size, bool)
    has_c[ci] = True
    has_b = np.zeros(size, bool)
    has_b[bi] = True
    ac = _sum_by(ci, size, cust.amount.astype(np.int64))
    ab = _sum_by(bi, size, books.amount.astype(np.int64))
    pend = np.zeros(size, np.int64)
    if pending is not None and len(pending.account):
        pk = keys(pending).astype(str)
        pos = np.clip(np.searchsorted(allk, pk), 0, max(size - 1, 0))
        ok = allk[pos] == pk if size else np.zeros(0, bool)
        np.add.at(pend, pos[ok], pending.amount[ok])
    d = ac - ab
    diff = np.abs(d) > int(tolerances.cash_absolute * QSCALE)
    explained = diff & (pend != 0) & (d == -pend)
    kind = np.full(size, "", dtype=object)
    kind[diff & has_c & has_b] = "cash"
    kind[diff & has_c & ~has_b] = "missing_in_books"
    kind[diff & ~has_c & has_b] = "missing_at_custodian"
    kind[explained] = "pending_settlement"

    def build(sel: np.ndarray) -> Any:
        n = int(sel.sum())
        acct = np.asarray([k.split("|")[0] for k in allk[sel]], dtype=object)
        ccy = np.asarray([k.split("|")[1] for k in allk[sel]], dtype=object)
        rates = fx_to_base or {}
        fx = []
        for a, c in zip(acct.tolist(), ccy.tolist()):
            found = rates.get((a, c)) or rates.get(c)
            fx.append(found if isinstance(found, tuple) else ((found, "") if found is not None else (float("nan"), "")))
        diffs = Differences(
            kind=kind[sel], explained=explained[sel],
            cause=np.where(explained[sel], "cash pending settlement after the statement date", ""),
            account=acct, instrument_id=np.full(n, -1, np.int64), identifier=ccy,
            custodian_quantity=ac[sel], book_quantity=ab[sel], custodian_price=np.full(n, np.nan),
            book_price=np.full(n, np.nan), custodian_fx=np.full(n, np.nan),
            book_fx=np.array([r for r, _b in fx], dtype=float),  # our rate to base, shown with the amounts
            amount_base=np.nan_to_num(np.abs(d[sel].astype(float) / QSCALE) * np.array([r for r, _b in fx], dtype=float)),
            match_pass=np.full(n, -1, np.int64),
            line=np.zeros(n, np.int64),
            amount_local=d[sel].astype(float) / QSCALE, local_currency=ccy.copy(),
            base_currency=np.asarray([b for _r, b in fx], dtype=object),
        )
        return diffs

    diffs = build(kind != "")
    every = build(np.ones(size, bool))
    both = has_c & has_b
    return MatchResult(differences=diffs, custodian_rows=len(cust.account), book_rows=len(books.account),
                       matched_pairs=int(both.sum()), clean_pairs=int((both & ~diff).sum()), lines=every)


# ------------------------------------------------------------------ transactions

@dataclass(frozen=True)
class Txn:
    """One cash movement: a statement entry or one of our ledger movements."""

    id: str
    account: str
    currency: str
    amount: Decimal          # signed
    value_date: dt.date
    reference: str = ""


@dataclass
class TxnMatches:
    pairs: list[tuple[str, tuple[str, ...], str]]   # (statement entry id, our movement ids, pass name)
    unmatched_statement: list[str]
    unmatched_ours: list[str]


def match_transactions(statement: list[Txn], ours: list[Txn], *, date_window_days: int = 2,
                       amount_tolerance: Decimal = Decimal(0)) -> TxnMatches:
    """Statement entries against our movements, one-to-one and one-to-many, in passes from the
    strongest key to the weakest, each pass retiring what it matched:
    1. reference + amount (same account and currency);
    2. amount + value date;
    3. amount within the tolerance and value date within the window (closest date first);
    4. one-to-many: one statement entry equal to the sum of our movements of the same account,
       currency and value date (a batch booked as one line), or of those sharing its reference."""
    left = {t.id: t for t in statement}
    right = {t.id: t for t in ours}
    pairs: list[tuple[str, tuple[str, ...], str]] = []

    def run_pass(name: str, key_left: Callable[[Any], Any], key_right: Callable[[Any], Any]) -> None:
        index: dict[Any, list[Any]] = {}
        for t in right.values():
            k = key_right(t)
            if k is not None:
                index.setdefault(k, []).append(t.id)
        for t in sorted(left.values(), key=lambda x: x.id):
            k = key_left(t)
            if k is None or not index.get(k):
                continue
            mine = index[k].pop(0)
            pairs.append((t.id, (mine,), name))
            del left[t.id]
            del right[mine]

    run_pass("reference", lambda t: (t.account, t.currency, t.reference, t.amount) if t.reference else None,
             lambda t: (t.account, t.currency, t.reference, t.amount) if t.reference else None)
    run_pass("amount_date", lambda t: (t.account, t.currency, t.amount, t.value_date),
             lambda t: (t.account, t.currency, t.amount, t.value_date))
    # 3. near: amount within tolerance, date within window, closest date wins
    for t in sorted(left.values(), key=lambda x: x.id):
        candidates = [m for m in right.values() if m.account == t.account and m.currency == t.currency
                      and abs(m.amount - t.amount) <= amount_tolerance
                      and abs((m.value_date - t.value_date).days) <= date_window_days]
        if candidates:
            best = min(candidates, key=lambda m: (abs((m.value_date - t.value_date).days), abs(m.amount - t.amount),
                                                   m.id))
            pairs.append((t.id, (best.id,), "amount_window"))
            del left[t.id]
            del right[best.id]
    # 4. one-to-many
    for t in sorted(left.values(), key=lambda x: x.id):
        groups = []
        if t.reference:
            groups.append([m for m in right.values() if m.account == t.account and m.currency == t.currency
                           and m.reference == t.reference])
        groups.append([m for m in right.values() if m.account == t.account and m.currency == t.currency
                       and m.value_date == t.value_date])
        for group in groups:
            if len(group) > 1 and abs(sum((m.amount for m in group), Decimal(0)) - t.amount) <= amount_tolerance:
                ids = tuple(sorted(m.id for m in group))
                pairs.append((t.id, ids, "one_to_many"))
                del left[t.id]
                for i in ids:
                    del right[i]
                break
    return TxnMatches(pairs=pairs, unmatched_statement=sorted(left), unmatched_ours=sorted(right))


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def cash_entry_causes(statement: list[Txn], ours: list[Txn], *, limit: int = 200) -> str:
    """Name the entries behind a cash difference: the statement's booked entries of the day against
    our cash legs settling that day, paired by `match_transactions`. What is left over is either one
    entry on each side with the same reference (or the only one left on each side): settled at
    another amount; an entry on the statement only (a fee, interest, a claim we have not booked); or
    one of ours the custodian has not booked. Returns "" when every entry pairs (the difference is
    then in the opening balances)."""
    found = match_transactions(statement, ours)
    left = {t.id: t for t in statement if t.id in set(found.unmatched_statement)}
    right = {t.id: t for t in ours if t.id in set(found.unmatched_ours)}
    parts: list[str] = []
    for t in sorted(left.values(), key=lambda x: x.id):
        mine = next((m for m in right.values() if t.reference and m.reference == t.reference), None)
        if mine is None and len(left) == 1 and len(right) == 1:
            mine = next(iter(right.values()))
        if mine is not None:
            del right[mine.id]
            parts.append(f"{mine.reference or t.reference or 'an entry'} settled at {_money(t.amount)}, booked at "
                         f"{_money(mine.amount)} ({t.amount - mine.amount:+,.2f})")
        else:
            parts.append(f"custodian entry {t.reference or 'without reference'} {_money(t.amount)} not in our books")
    for m in sorted(right.values(), key=lambda x: x.id):
        parts.append(f"our entry {m.reference or 'without reference'} {_money(m.amount)} not on the statement")
    text = "; ".join(parts)
    return text if len(text) <= limit else text[:limit - 1] + "…"
