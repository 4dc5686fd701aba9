"""Load a book of accounts from the accounts and reference tables into engine arrays, in bulk.

Reads are set-oriented SQL (binary COPY on PostgreSQL), a few per table regardless of the number
of accounts; everything per account or per position is done with numpy. Accounts are selected
by a typed `RebalanceScope`; `scope_sql` is the one place it becomes SQL (a predicate on
accounts_account aliased `a`), and no SQL text leaves this module.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from accounts.models import (
    Account,
    CashBalance,
    Custodian,
    CustodyAccount,
    ModelOverride,
    ModelPortfolio,
    ModelSubscription,
    ModelTarget,
    Movement,
    Position,
    Sleeve,
    TaxLot,
)
from trading.reference import calendars as refcal
from trading.reference import eligibility
from trading.reference import selectors as ref
from trading.reference.exceptions import SettlementCycleMissing
from trading.reference.models import Currency, Instrument, Listing

from . import engine
from .dbio import fetch, is_postgres
from .scope import RebalanceScope

DAYS = 10
EPOCH = dt.date(1970, 1, 1)
METHODS = {"fifo": engine.FIFO, "hifo": engine.HIFO, "lowest_gain": engine.LOWEST_TAX, "specific": engine.FIFO}


@dataclass
class Book:
    trade_date: dt.date
    account_ids: np.ndarray  # (A,) db ids, row order of the engine
    listing_ids: np.ndarray  # (L,) db ids
    market_ids: np.ndarray  # (L,)
    currency_codes: list[str]
    listings: engine.Listings
    currencies: engine.Currencies
    accounts: engine.Accounts
    lots: engine.TaxLots
    lot_ids: np.ndarray
    loss_sales: engine.LossSales
    positions: int = 0
    stats: dict = field(default_factory=dict)
    # (A, K) db id of each account's custody accounts (the engine's custody slots), -1 padded
    custody_ids: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), np.int64))

    @property
    def days(self) -> list[dt.date]:
        return [self.trade_date + dt.timedelta(days=d) for d in range(DAYS)]


def _t(model) -> str:
    return model._meta.db_table


def scope_sql(scope: RebalanceScope) -> tuple[str, list[object]]:
    """The one place a rebalance scope becomes SQL: a predicate on accounts_account aliased `a`
    with its parameters (every value a bound parameter)."""
    clauses: list[str] = []
    params: list[object] = []
    if scope.firm is not None:
        clauses.append("a.firm_id = %s")
        params.append(scope.firm)
    if scope.accounts is not None:
        if scope.accounts:
            clauses.append(f"a.id IN ({', '.join(['%s'] * len(scope.accounts))})")
            params.extend(scope.accounts)
        else:
            clauses.append("1 = 0")
    if scope.model is not None:
        sub_t, model_t = _t(ModelSubscription), _t(ModelPortfolio)
        clauses.append(
            f"a.id IN (SELECT s.account_id FROM {sub_t} s JOIN {model_t} m ON m.id = s.model_id "
            f"WHERE s.status = 'active' AND (s.model_id = %s OR (s.follow_latest AND m.code = "
            f"(SELECT m2.code FROM {model_t} m2 WHERE m2.id = %s))))")
        params.extend([scope.model, scope.model])
    if scope.sleeve is not None:
        clauses.append(f"a.id IN (SELECT sl.account_id FROM {_t(Sleeve)} sl WHERE sl.id = %s)")
        params.append(scope.sleeve)
    if scope.id_range is not None:
        clauses.append("a.id BETWEEN %s AND %s")
        params.extend(scope.id_range)
    return (" AND ".join(clauses) or "1 = 1"), params


def scope_account_ids(scope: RebalanceScope) -> np.ndarray:
    """The active accounts in scope, ascending ids (chunk boundaries for the Celery path)."""
    where, params = scope_sql(scope)
    (aid,) = fetch(f"SELECT a.id::int8 FROM {_t(Account)} a WHERE a.status = 'active' AND ({where}) ORDER BY a.id",
                   params, "i")
    return aid


def scope_count(scope: RebalanceScope) -> int:
    """How many active accounts the scope holds."""
    from django.db import connection

    where, params = scope_sql(scope)
    with connection.cursor() as cur:
        cur.execute(f"SELECT COUNT(*) FROM {_t(Account)} a WHERE a.status = 'active' AND ({where})", params)
        (n,) = cur.fetchone()
    return int(n or 0)


TEXT_COLUMNS = ("base_currency", "lot_relief_method", "investor_type", "booking_jurisdiction", "booking_centre",
                "trade_scope")
NUMBER_COLUMNS = ("hedge_ratio", "hedge_band", "band_abs", "band_rel", "min_trade", "min_improvement")


@dataclass
class AccountColumns:
    """The active accounts in scope as arrays in ascending id order: each text column as a code
    into `text[column]` (its distinct values), numbers as float64 (NaN where empty)."""

    ids: np.ndarray
    firm: np.ndarray
    household: np.ndarray  # -1: none
    is_us_person: np.ndarray  # 0/1
    codes: dict[str, np.ndarray]
    text: dict[str, list[str]]
    numbers: dict[str, np.ndarray]


def account_columns(where: str, params: list[object]) -> AccountColumns:
    """Two reads whatever the number of accounts: the distinct values of the text columns, then
    every account's row as numbers (binary COPY on PostgreSQL), text replaced by its code in SQL."""
    from django.db import connection

    src = f"FROM {_t(Account)} a WHERE a.status = 'active' AND ({where})"
    with connection.cursor() as cur:
        cur.execute(f"SELECT DISTINCT {', '.join(f'a.{c}' for c in TEXT_COLUMNS)} {src}", params)
        combos = cur.fetchall()
    text = {c: sorted({r[k] or "" for r in combos}) for k, c in enumerate(TEXT_COLUMNS)}
    select, select_params = [], []
    for c in TEXT_COLUMNS:
        if text[c]:
            select.append(f"(CASE COALESCE(a.{c}, '') "
                          + " ".join(f"WHEN %s THEN {k}" for k in range(len(text[c]))) + " ELSE -1 END)::int8")
            select_params.extend(text[c])
        else:
            select.append("(-1)::int8")
    nan = "'NaN'::float8" if is_postgres() else "NULL"
    select += [f"COALESCE(a.{c}::float8, {nan})" for c in NUMBER_COLUMNS]
    rows = fetch(f"SELECT a.id::int8, a.firm_id::int8, COALESCE(a.household_id, -1)::int8, "
                 f"(CASE WHEN a.is_us_person THEN 1 ELSE 0 END)::int8, {', '.join(select)} {src} ORDER BY a.id",
                 [*select_params, *params], "iiii" + "i" * len(TEXT_COLUMNS) + "f" * len(NUMBER_COLUMNS))
    ids, firm, household, us = rows[:4]
    codes = dict(zip(TEXT_COLUMNS, rows[4:4 + len(TEXT_COLUMNS)]))
    numbers = dict(zip(NUMBER_COLUMNS, rows[4 + len(TEXT_COLUMNS):]))
    return AccountColumns(ids=ids, firm=firm, household=household, is_us_person=us, codes=codes, text=text,
                          numbers=numbers)


def account_models(aid: np.ndarray, sel: str, params: list[object]) -> np.ndarray:
    """The model each account (ascending ids `aid`) follows today, -1 for none: its active
    account-level subscription's model, or with `follow_latest` the newest published version
    of that model's code. One read of subscriptions, one of the few models they name."""
    sub_t = _t(ModelSubscription)
    s_acc, s_model, s_follow = fetch(
        f"SELECT m.account_id::int8, m.model_id::int8, (CASE WHEN m.follow_latest THEN 1 ELSE 0 END)::int8 "
        f"FROM {sub_t} m JOIN ({sel}) s ON s.id = m.account_id "
        f"WHERE m.status = 'active' AND m.sleeve_id IS NULL ORDER BY m.id", params, "iii")
    out = np.full(len(aid), -1, dtype=np.int64)
    if not len(s_acc):
        return out
    named = engine.unique_sorted(s_model)
    code_of = dict(ModelPortfolio.objects.filter(pk__in=named.tolist()).values_list("pk", "code"))
    latest: dict[str, int] = {}
    for code, pk in ModelPortfolio.objects.filter(code__in=set(code_of.values()), status="published").order_by(
            "code", "-version").values_list("code", "pk"):
        latest.setdefault(code, pk)
    newest = np.array([latest.get(code_of.get(m, ""), m) for m in named.tolist()], dtype=np.int64)
    effective = np.where(s_follow == 1, newest[np.searchsorted(named, s_model)], s_model)
    row = _positions_of(aid, s_acc)
    ok = row >= 0
    out[row[ok]] = effective[ok]  # one active account-level subscription per account (a unique constraint)
    return out


def load_book(scope: RebalanceScope, *, days: int = DAYS) -> Book:
    """Every active account in `scope`, loaded into engine arrays for `scope.trade_date`."""
    where, params = scope_sql(scope)
    trade_date = scope.trade_date
    timings: dict[str, float] = {"_t": time.perf_counter()}
    acc_t, pos_t = _t(Account), _t(Position)
    sel = f"SELECT a.id FROM {acc_t} a WHERE a.status = 'active' AND ({where})"

    # accounts: one binary read of ids, codes of their text columns and numbers --------------------
    cols = account_columns(where, params)
    aid = cols.ids
    A = len(aid)

    _lap(timings, 'accounts')
    # positions (trade-date basis, summed over custody accounts; which custody account holds a
    # position is read later, and only for securities listed on several lines) ------------------
    p_acc, p_ins, p_qty = fetch(
        f"SELECT p.account_id::int8, p.instrument_id::int8, p.quantity::float8 "
        f"FROM {pos_t} p JOIN ({sel}) s ON s.id = p.account_id WHERE p.basis = 'trade' AND p.quantity <> 0",
        params, "iif")

    _lap(timings, 'positions')
    # subscriptions and model targets ------------------------------------------------------------
    a_model_id = account_models(aid, sel, params)  # the model each account follows today (-1: none)
    targets = list(ModelTarget.objects.filter(model_id__in=set(a_model_id[a_model_id >= 0].tolist())).values_list(
        "model_id", "instrument_id", "cash_currency", "weight"))
    # account overrides: restricted (sold unless kept), substitutes, cash targets
    overrides = list(ModelOverride.objects.filter(
        subscription__status="active", subscription__sleeve__isnull=True,
        subscription__account_id__in=_ids_or_none(aid, where, params)).values_list(
        "subscription__account_id", "kind", "instrument_id", "substitute_id", "currency", "weight", "sell_if_held"))

    _lap(timings, 'models')
    # instruments and their listings ----------------------------------------------------------------
    instrument_ids = set(engine.unique_sorted(p_ins).tolist()) | {t[1] for t in targets if t[1]}
    instrument_ids |= {o[3] for o in overrides if o[3]} | {o[2] for o in overrides if o[2]}
    inst = {r[0]: r for r in Instrument.objects.filter(pk__in=instrument_ids).values_list(
        "pk", "underlying_id", "underlying_ratio", "eligibility_tags", "instrument_type")}
    # depositary receipts and their ordinaries can stand in for each other
    related = Instrument.objects.filter(underlying_id__in=instrument_ids).values_list(
        "pk", "underlying_id", "underlying_ratio", "eligibility_tags", "instrument_type")
    for r in related:
        inst.setdefault(r[0], r)
    for r in Instrument.objects.filter(pk__in={r[1] for r in inst.values() if r[1]} - set(inst)).values_list(
            "pk", "underlying_id", "underlying_ratio", "eligibility_tags", "instrument_type"):
        inst.setdefault(r[0], r)
    # every active line of every instrument: instrument index space (L, `ins_pos`) for slots,
    # targets and eligibility; line space (the engine's listings) once each account's line is chosen
    line_rows = list(Listing.objects.filter(instrument_id__in=inst.keys(), is_active=True).order_by(
        "instrument_id", "-is_primary", "pk").values_list("pk", "instrument_id", "market_id", "is_primary"))
    inst_ids = np.array(sorted({r[1] for r in line_rows}), dtype=np.int64)
    L = len(inst_ids)
    ins_pos = {int(i): j for j, i in enumerate(inst_ids)}
    listing_ids = np.array([r[0] for r in line_rows], dtype=np.int64)
    line_inst = np.array([ins_pos[r[1]] for r in line_rows], dtype=np.int64)
    line_market = np.array([r[2] for r in line_rows], dtype=np.int64)
    line_primary = np.array([bool(r[3]) for r in line_rows], dtype=bool)
    n_lines = np.bincount(line_inst, minlength=L)
    first_line = np.cumsum(n_lines) - n_lines  # the primary line (or the lowest id) of each instrument
    lrows = {r[0]: r for r in Listing.objects.filter(pk__in=listing_ids.tolist()).values_list(
        "pk", "market_id", "trading_currency", "price_divisor", "lot_size", "allows_fractional")}
    prices = ref.latest_prices(listing_ids=listing_ids.tolist(), on=trade_date)

    _lap(timings, 'instruments')
    # currencies -----------------------------------------------------------------------------------------
    bases = {cols.text["base_currency"][k] for k in engine.unique_sorted(cols.codes["base_currency"]).tolist()}
    codes = sorted(bases | {lrows[lid][2] for lid in listing_ids.tolist()} | {t[2] for t in targets if t[2]})
    cash_codes = [c for c, in CashBalance.objects.filter(account_id__in=_ids_or_none(aid, where, params))
                  .values_list("currency").distinct()]
    codes = sorted(set(codes) | set(cash_codes))
    cidx = {c: i for i, c in enumerate(codes)}
    rates = ref.fx_rates_to(target="USD", currencies=codes, on=trade_date)
    fx = np.array([float(rates[c].rate) for c in codes])
    from onboarding.money import minor_units

    calendars = dict(Currency.objects.filter(code__in=codes).values_list("code", "holiday_calendar"))
    grid = [trade_date + dt.timedelta(days=d) for d in range(days)]
    open_ = np.array([[refcal.is_currency_business_day(day, calendars.get(c, "")) for day in grid] for c in codes])
    base_counts = np.bincount(cols.codes["base_currency"], minlength=len(cols.text["base_currency"]))
    main_base = cols.text["base_currency"][int(np.argmax(base_counts))] if bases else "USD"
    spot = np.array([
        min((ref.fx_value_date(currency_a=c, currency_b=main_base, trade_date=trade_date) - trade_date).days, days - 1)
        if c != main_base else 0 for c in codes])
    # each pair's spot date on both currencies' calendars (FX never values before it)
    pair_spot = np.zeros((len(codes), len(codes)), dtype=np.int64)
    for i, a in enumerate(codes):
        for j in range(i + 1, len(codes)):
            d = (ref.fx_value_date(currency_a=a, currency_b=codes[j], trade_date=trade_date) - trade_date).days
            pair_spot[i, j] = pair_spot[j, i] = d
    currencies = engine.Currencies(codes=codes, fx=fx, minor_units=np.array([minor_units(c) for c in codes]),
                                   spot_day=spot, open=open_, pair_spot=pair_spot)

    _lap(timings, 'currencies')
    # listings ------------------------------------------------------------------------------------------
    settle_cache: dict[tuple, int] = {}
    NL = len(listing_ids)
    settle = np.full(NL, -1)
    for j, lid in enumerate(listing_ids.tolist()):
        key = (lrows[lid][1], inst[inst_ids[line_inst[j]]][4], lrows[lid][2])
        if key not in settle_cache:
            try:
                listing = Listing.objects.select_related("market", "instrument").get(pk=lid)
                d = ref.settlement_dates(listing=listing, trade_date=trade_date).cash
                settle_cache[key] = (d - trade_date).days if (d - trade_date).days < days else -1
            except (SettlementCycleMissing, ValueError):  # no cycle or no settlement day: not today
                settle_cache[key] = -1
        settle[j] = settle_cache[key]
    price = np.array([float(prices[lid].price) if lid in prices else 0.0 for lid in listing_ids.tolist()])
    unit = np.array([float(prices[lid].price_divisor) if lid in prices else float(lrows[lid][3])
                     for lid in listing_ids.tolist()])
    underlying = np.array([ins_pos.get(inst[i][1] or i, j) for j, i in enumerate(inst_ids.tolist())], dtype=np.int64)
    ratio = np.array([float(inst[i][2] or 1) if inst[i][1] else 1.0 for i in inst_ids.tolist()])
    # substitute: an ordinary's receipt, a receipt's ordinary (instrument index space)
    substitute = np.full(L, -1)
    for j, i in enumerate(inst_ids.tolist()):
        u = inst[i][1]
        if u and u in ins_pos:
            substitute[j] = ins_pos[u]
            if substitute[ins_pos[u]] < 0:
                substitute[ins_pos[u]] = j
    # per line: the engine matches a substitute by its security, whichever line an account trades it on
    line_sub = np.where(substitute[line_inst] >= 0, first_line[np.maximum(substitute[line_inst], 0)], -1)
    listings = engine.Listings(
        price=price, price_unit=unit, currency=np.array([cidx[lrows[lid][2]] for lid in listing_ids.tolist()]),
        lot_size=np.array([float(lrows[lid][4]) for lid in listing_ids.tolist()]),
        allows_fractional=np.array([bool(lrows[lid][5]) for lid in listing_ids.tolist()]),
        underlying=underlying[line_inst], ratio=ratio[line_inst], settle_day=settle, substitute=line_sub,
        security=line_inst,
    )

    _lap(timings, 'listings')
    # slots: positions and model targets per account ----------------------------------------------
    arow = _positions_of(aid, p_acc)
    pl = _positions_of(inst_ids, p_ins)
    keep = (arow >= 0) & (pl >= 0)
    arow, pl, p_qty = arow[keep], pl[keep], p_qty[keep]
    models = engine.unique_sorted(a_model_id[a_model_id >= 0]).tolist()
    midx = {m: k for k, m in enumerate(models)}
    t_model = np.array([midx[t[0]] for t in targets if t[1] and t[1] in ins_pos], dtype=np.int64)
    t_list = np.array([ins_pos[t[1]] for t in targets if t[1] and t[1] in ins_pos], dtype=np.int64)
    t_w = np.array([float(t[3]) for t in targets if t[1] and t[1] in ins_pos])
    cash_t = [(midx[t[0]], cidx[t[2]], float(t[3])) for t in targets if t[2] and t[2] in cidx]
    a_model = np.where(a_model_id >= 0, np.searchsorted(np.asarray(models, dtype=np.int64), a_model_id), -1)
    order = np.argsort(t_model, kind="stable")
    t_model, t_list, t_w = t_model[order], t_list[order], t_w[order]
    m_ptr = np.searchsorted(t_model, np.arange(len(models) + 1))
    counts = np.where(a_model >= 0, m_ptr[np.maximum(a_model, 0) + 1] - m_ptr[np.maximum(a_model, 0)], 0)
    rep_a = np.repeat(np.arange(A), counts)
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    t_idx = m_ptr[a_model[rep_a]] + within
    # ineligible targets bring their substitute into the slots
    tl = t_list[t_idx]
    subs_over = [(int(np.searchsorted(aid, o[0])), ins_pos[o[2]], ins_pos[o[3]]) for o in overrides
                 if o[1] == "substitute" and o[2] in ins_pos and o[3] in ins_pos]
    if subs_over:
        o_keys = np.array([a * L + i for a, i, _ in subs_over], dtype=np.int64)
        o_sub = np.array([j for _, _, j in subs_over], dtype=np.int64)
        order_k = np.argsort(o_keys)
        o_keys, o_sub = o_keys[order_k], o_sub[order_k]
        k = rep_a * L + tl
        hit = np.clip(np.searchsorted(o_keys, k), 0, len(o_keys) - 1)
        found = o_keys[hit] == k
        tl = np.where(found, o_sub[hit], tl)
    _lap(timings, 'slots_targets')
    # eligibility per investor profile (a handful), then spread to the accounts
    profile_cols = [cols.codes["investor_type"], cols.codes["booking_jurisdiction"], cols.codes["booking_centre"],
                    cols.is_us_person]
    profiles, a_profile = (np.unique(np.stack(profile_cols, axis=1), axis=0, return_inverse=True) if A
                           else (np.zeros((0, 4), np.int64), np.zeros(0, np.int64)))
    a_profile = np.asarray(a_profile, dtype=np.int64).ravel()
    investors = [eligibility.Investor(cols.text["investor_type"][p[0]], cols.text["booking_jurisdiction"][p[1]],
                                      cols.text["booking_centre"][p[2]], bool(p[3])) for p in profiles.tolist()]
    tags = [list(inst[i][3] or []) for i in inst_ids.tolist()]
    per_profile = eligibility.matrix(investors, tags, ref.eligibility_rules(on=trade_date), on=trade_date) \
        if investors and L else np.ones((len(investors), L), bool)
    allowed = per_profile[a_profile] if A else np.ones((0, L), bool)
    t_sub = substitute[tl]
    needs_sub = (t_sub >= 0) & ~allowed[rep_a, tl]
    sub_a, sub_l = rep_a[needs_sub], t_sub[needs_sub]
    _lap(timings, 'slots_eligibility')
    if A * L <= 80_000_000:  # dense (account x listing) map: a few vector passes
        present = np.zeros((A, L), dtype=bool)
        present[arow, pl] = True
        present[rep_a, tl] = True
        present[sub_a, sub_l] = True
        s_acc, s_lst = np.nonzero(present)
        n_slots = np.bincount(s_acc, minlength=A)
        S = max(int(n_slots.max()) if A else 1, 1)
        s_pos = np.arange(len(s_acc)) - (np.cumsum(n_slots) - n_slots)[s_acc]
        slot_of = np.empty((A, L), dtype=np.int32)
        slot_of[s_acc, s_lst] = s_pos
        p_slot = slot_of[arow, pl]
        t_slot = slot_of[rep_a, tl]
        del present, slot_of
    else:  # sort-based for very wide universes
        keys = np.concatenate([arow * L + pl, rep_a * L + tl, sub_a * L + sub_l])
        ukeys = engine.unique_sorted(keys)
        s_acc, s_lst = ukeys // L, ukeys % L
        n_slots = np.bincount(s_acc, minlength=A)
        S = max(int(n_slots.max()) if len(ukeys) else 1, 1)
        s_pos = np.arange(len(ukeys)) - (np.cumsum(n_slots) - n_slots)[s_acc]
        p_slot = s_pos[np.searchsorted(ukeys, arow * L + pl)]
        t_slot = s_pos[np.searchsorted(ukeys, rep_a * L + tl)]
    _lap(timings, 'slots_map')
    slot_listing = np.full((A, S), -1, dtype=np.int64)
    slot_listing[s_acc, s_pos] = s_lst
    qty = np.bincount(arow * S + p_slot, weights=p_qty, minlength=A * S).reshape(A, S)
    target = np.zeros((A, S))
    target[rep_a, t_slot] = t_w[t_idx]
    ineligible = np.zeros((A, S), dtype=bool)
    ineligible[s_acc, s_pos] = ~allowed[s_acc, s_lst]
    restricted = np.zeros((A, S), dtype=bool)
    frozen = np.zeros((A, S), dtype=bool)
    slot_by_key = {}
    for o in overrides:
        if o[1] == "restricted" and o[2] in ins_pos:
            slot_by_key.setdefault((int(np.searchsorted(aid, o[0])), ins_pos[o[2]]), []).append(bool(o[6]))
    if slot_by_key:
        want = np.array([a * L + i for a, i in slot_by_key], dtype=np.int64)
        have = s_acc * L + s_lst
        order_h = np.argsort(have)
        pos = np.clip(np.searchsorted(have[order_h], want), 0, len(have) - 1)
        for (a, _), p_, w_, sells in zip(slot_by_key, order_h[pos], want, slot_by_key.values()):
            if have[p_] == w_:
                restricted[a, s_pos[p_]] = True
                frozen[a, s_pos[p_]] = not any(sells)

    # the line each account trades each security on: one its custody accounts settle, the held one first
    slot_inst = slot_listing
    slot_listing = _choose_lines(slot_inst, aid, inst_ids, n_lines, first_line, line_market, line_primary,
                                 sel, params)

    _lap(timings, 'slots')
    # cash ladder: settled balances plus pending cash legs by settle date --------------------------
    # held per custody account (K slots an account, its active custody accounts by id; cash at an
    # inactive one counts at the first), summed over them for the pooled ladder
    custody_ids, k_of = _custody_slots(aid, sel, params)
    K = custody_ids.shape[1]
    custody_cash = np.zeros((A, K, len(codes), days))
    ccy_case = " ".join(f"WHEN '{c}' THEN {i}" for i, c in enumerate(codes)) or "WHEN NULL THEN -1"  # valid SQL for an empty book
    c_acc, c_ccy, c_amt, c_ca = fetch(
        f"SELECT c.account_id::int8, (CASE c.currency {ccy_case} ELSE -1 END)::int8, c.amount::float8, "
        f"c.custody_account_id::int8 "
        f"FROM {_t(CashBalance)} c JOIN ({sel}) s ON s.id = c.account_id WHERE c.basis = 'settle'", params, "iifi")
    np.add.at(custody_cash, (np.searchsorted(aid, c_acc), k_of(c_ca), c_ccy), c_amt[:, None])
    mov_t = _t(Movement)
    m_acc, m_day, m_amt, m_ccy, m_ca = _pending_cash(mov_t, sel, params, trade_date, codes)
    for a, k, d, amt, c in zip(np.searchsorted(aid, m_acc), k_of(m_ca), m_day, m_amt, m_ccy):
        custody_cash[a, k, c, min(max(int(d), 0), days - 1):] += amt
    cash = custody_cash.sum(axis=1)
    ctarget = np.zeros((A, len(codes)))
    for m, c, w in cash_t:
        ctarget[a_model == m, c] += w
    for o in overrides:
        if o[1] == "cash_target" and o[4] in cidx:
            ctarget[np.searchsorted(aid, o[0]), cidx[o[4]]] = float(o[5])

    _lap(timings, 'cash')
    base = np.array([cidx[c] for c in cols.text["base_currency"]], dtype=np.int64)[cols.codes["base_currency"]] \
        if A else np.zeros(0, dtype=np.int64)
    slot_custody = _slot_custody(slot_listing, line_market, custody_ids, aid, sel, params)
    accounts = engine.Accounts(
        custody_cash=custody_cash, slot_custody=slot_custody, custody_open=custody_ids >= 0,
        base=base, slot_listing=slot_listing, qty=qty, target=target, cash=cash, cash_target=ctarget,
        ineligible=ineligible, restricted=restricted, frozen=frozen,
        household=np.where(cols.household >= 0, cols.household, -(np.arange(A, dtype=np.int64) + 1)),
        us_taxpayer=cols.is_us_person.astype(bool),
        lot_method=np.array([METHODS.get(m, engine.FIFO) for m in cols.text["lot_relief_method"]],
                            dtype=np.int64)[cols.codes["lot_relief_method"]] if A else np.zeros(0, np.int64),
        hedge_ratio=cols.numbers["hedge_ratio"],
        hedge_band=cols.numbers["hedge_band"],
    )

    settings = _settings(cols, a_model, models, codes, fx, trade_date)
    accounts.band_abs, accounts.band_rel, accounts.min_trade, accounts.min_improvement, accounts.lines_only = settings

    _lap(timings, 'accounts_arrays')
    # tax lots ----------------------------------------------------------------------------------------
    lot_t = _t(TaxLot)
    l_id, l_acc, l_ins, l_qty, l_cost, l_day = fetch(
        f"SELECT l.id::int8, l.account_id::int8, l.instrument_id::int8, l.quantity_open::float8, "
        f"(l.cost_base / l.quantity)::float8, ({_days('l.acquisition_date')})::int8 FROM {lot_t} l "
        f"JOIN ({sel}) s ON s.id = l.account_id WHERE l.quantity_open > 0", params, "iiiffi")
    l_row, l_ins_row = _positions_of(aid, l_acc), _positions_of(inst_ids, l_ins)
    ok = (l_row >= 0) & (l_ins_row >= 0)
    l_slot = engine._slot_of(slot_inst, np.where(ok, l_row, 0), np.where(ok, l_ins_row, -1), L)
    ok &= l_slot >= 0
    l_lst = np.where(ok, slot_listing[np.where(ok, l_row, 0), np.maximum(l_slot, 0)], -1)
    lots = engine.TaxLots(account=l_row[ok], listing=l_lst[ok], qty=l_qty[ok], cost=l_cost[ok],
                          acquired=l_day[ok] + EPOCH.toordinal())
    l_id = l_id[ok]
    _lap(timings, 'lots')
    loss = _loss_sales(sel, params, trade_date, ins_pos, underlying)
    return Book(trade_date=trade_date, account_ids=aid, listing_ids=listing_ids,
                market_ids=line_market,
                currency_codes=codes, listings=listings, currencies=currencies, accounts=accounts, lots=lots,
                lot_ids=l_id, loss_sales=loss, positions=len(p_acc), custody_ids=custody_ids,
                stats={"slots": S, "load_detail": (_lap(timings, "wash_sales") or
                                                   {k: round(v, 3) for k, v in timings.items() if k != "_t"})})


def accounts_sql(account_ids: np.ndarray) -> tuple[str, list[object]]:
    """A selector of these account ids (a sub-select with column `id`) and its parameters."""
    from .dbio import is_postgres

    ids = [int(a) for a in account_ids]
    if is_postgres():
        return "SELECT unnest(%s::int8[]) AS id", [ids]
    return f"SELECT a.id FROM {_t(Account)} a WHERE a.id IN ({', '.join(map(str, ids)) or 'NULL'})", []


def custody_coverage(sel: str, params: list[object]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(account, custody account, custodian, market) for every market an active custody account of
    the selected accounts settles: the markets it names, or, when it names none, its custodian's.
    `sel` is a sub-select of account ids (column `id`)."""
    ca_t, cam = _t(CustodyAccount), CustodyAccount.markets.through._meta.db_table
    cum = Custodian.markets.through._meta.db_table
    acc, ca, cus, mkt = fetch(
        f"SELECT ca.account_id::int8, ca.id::int8, ca.custodian_id::int8, cm.market_id::int8 FROM {ca_t} ca "
        f"JOIN ({sel}) s ON s.id = ca.account_id JOIN {cam} cm ON cm.custodyaccount_id = ca.id WHERE ca.is_active "
        f"UNION ALL "
        f"SELECT ca.account_id::int8, ca.id::int8, ca.custodian_id::int8, km.market_id::int8 FROM {ca_t} ca "
        f"JOIN ({sel}) s ON s.id = ca.account_id JOIN {cum} km ON km.custodian_id = ca.custodian_id "
        f"WHERE ca.is_active AND NOT EXISTS (SELECT 1 FROM {cam} x WHERE x.custodyaccount_id = ca.id)",
        [*params, *params], "iiii")
    return acc, ca, cus, mkt


def _in_sorted(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    if len(sorted_keys) == 0:
        return np.zeros(len(keys), dtype=bool)
    pos = np.clip(np.searchsorted(sorted_keys, keys), 0, len(sorted_keys) - 1)
    return sorted_keys[pos] == keys


def _ragged(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For groups of `counts` rows: the group of each row and its position within the group."""
    group = np.repeat(np.arange(len(counts)), counts)
    within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    return group, within


def _choose_lines(slot_inst: np.ndarray, aid: np.ndarray, inst_ids: np.ndarray,
                  n_lines: np.ndarray, first_line: np.ndarray, line_market: np.ndarray, line_primary: np.ndarray,
                  sel: str, params: list[object]) -> np.ndarray:
    """The line (index into the book's listings) each account trades each of its securities on.

    A security with one line keeps it. For one with several (HSBC in London and Hong Kong) each
    line scores: 4 if one of the account's custody accounts settles its market, 2 if the account
    already holds the security at a custody account settling that market, 1 if it is the primary
    line; the best score wins, ties to the primary line then the lowest id. No line settleable:
    the primary (routing then says no custody account covers it)."""
    valid = slot_inst >= 0
    inst = np.maximum(slot_inst, 0)
    out = np.where(valid, first_line[inst], -1)
    multi = valid & (n_lines[inst] > 1)
    if not multi.any():
        return out
    cov_acc, cov_ca, _cus, cov_mkt = custody_coverage(sel, params)
    cov_row = _positions_of(aid, cov_acc)
    n_inst = len(n_lines)
    M = int(max(line_market.max(initial=0), cov_mkt.max(initial=0))) + 1
    covered_keys = engine.unique_sorted(cov_row * M + cov_mkt)
    # held: (account, security, market) of positions at a custody account settling that market; the
    # custody account of a position is read here, for the securities with several lines only
    multi_ids = inst_ids[n_lines > 1]
    h_acc, h_ins, h_cus = fetch(
        f"SELECT p.account_id::int8, p.instrument_id::int8, p.custody_account_id::int8 FROM {_t(Position)} p "
        f"JOIN ({sel}) s ON s.id = p.account_id WHERE p.basis = 'trade' AND p.quantity <> 0 "
        f"AND p.instrument_id IN ({', '.join(str(int(i)) for i in multi_ids)})", params, "iii")
    pa, pi = _positions_of(aid, h_acc), _positions_of(inst_ids, h_ins)
    ok = (pa >= 0) & (pi >= 0)
    pa, pi, pc = pa[ok], pi[ok], h_cus[ok]
    by_ca = np.argsort(cov_ca, kind="stable")
    ca_sorted, mkt_sorted = cov_ca[by_ca], cov_mkt[by_ca]
    lo = np.searchsorted(ca_sorted, pc, "left")
    group, within = _ragged(np.searchsorted(ca_sorted, pc, "right") - lo)
    held_keys = engine.unique_sorted((pa[group] * n_inst + pi[group]) * M + mkt_sorted[lo[group] + within])
    # every candidate line of every (account, multi-line security) slot
    ma, ms = np.nonzero(multi)
    mi = slot_inst[ma, ms]
    group, within = _ragged(n_lines[mi])
    cand = first_line[mi][group] + within
    a, mkt = ma[group], line_market[cand]
    score = (4 * _in_sorted(covered_keys, a * M + mkt) + 2 * _in_sorted(held_keys, (a * n_inst + mi[group]) * M + mkt)
             + line_primary[cand].astype(np.int64))
    order = np.lexsort((within, -score, group))
    first = np.r_[True, group[order][1:] != group[order][:-1]]
    out[ma, ms] = cand[order][first]
    return out


SETTINGS = ("band_abs", "band_rel", "min_trade", "min_improvement", "trade_scope")


def _settings(cols: AccountColumns, a_model: np.ndarray, models: list, codes: list[str], fx: np.ndarray,
              trade_date: dt.date) -> tuple[np.ndarray, ...]:
    """Per account: bands, minimum trade (in its base currency), minimum improvement and trade
    scope. Each is the account's own, else its model's, else its firm's `RebalancePolicy`, else
    a new policy's default. Amounts set on a model or a firm are converted from their currency.
    Resolved with arrays: one value per model and per firm, spread to the accounts by index."""
    from accounts.models import RebalancePolicy, TradeScope

    A = len(cols.ids)
    firms = engine.unique_sorted(cols.firm).tolist() if A else []
    by_model = {r[0]: r[1:] for r in ModelPortfolio.objects.filter(pk__in=models).values_list(
        "pk", *SETTINGS, "base_currency")}
    by_firm = {r[0]: r[1:] for r in RebalancePolicy.objects.filter(firm_id__in=firms).values_list(
        "firm_id", *SETTINGS, "min_trade_currency")}
    fresh = RebalancePolicy()
    default = tuple(getattr(fresh, n) for n in SETTINGS) + (fresh.min_trade_currency,)
    needed = {r[-1] for r in by_model.values()} | {r[-1] for r in by_firm.values()} | {default[-1]}
    rates = {c: float(fx[i]) for i, c in enumerate(codes)}
    missing = sorted(needed - set(rates))
    if missing:
        rates.update({c: float(r.rate) for c, r in ref.fx_rates_to(target="USD", currencies=missing, on=trade_date).items()})
    if not A:
        empty = np.zeros(0)
        return empty, empty, empty, empty, np.zeros(0, dtype=bool)
    base_rate = np.array([rates[c] for c in cols.text["base_currency"]])[cols.codes["base_currency"]]
    firm_rows = [by_firm.get(f, default) for f in firms]
    f_idx = np.searchsorted(np.asarray(firms, dtype=np.int64), cols.firm)
    model_rows = [by_model.get(m) for m in models]
    has_model = a_model >= 0
    m_idx = np.maximum(a_model, 0)

    def num(value: object) -> float:
        return np.nan if value is None or value == "" else float(value)  # type: ignore[arg-type]

    out: dict[str, np.ndarray] = {}
    for j, name in enumerate(SETTINGS[:-1]):  # the numeric settings
        m_val = np.array([num(r[j]) if r is not None else np.nan for r in model_rows] + [np.nan])
        f_val = np.array([num(r[j]) for r in firm_rows])
        if name == "min_trade":  # a model's or a firm's amount is in its currency: into each account's base
            m_val = m_val * np.array([rates[r[-1]] if r is not None else np.nan for r in model_rows] + [np.nan])
            f_val = f_val * np.array([rates[r[-1]] for r in firm_rows])
        from_model = np.where(has_model, m_val[m_idx], np.nan)
        from_firm = f_val[f_idx]
        if name == "min_trade":
            from_model, from_firm = from_model / base_rate, from_firm / base_rate
        value = cols.numbers[name]
        value = np.where(np.isnan(value), from_model, value)
        out[name] = np.where(np.isnan(value), from_firm, value)
    # trade scope: the account's own, else the model's, else the firm's (1: out-of-band lines only)
    lines = TradeScope.OUT_OF_BAND_LINES
    own = np.array([-1 if t in (None, "") else int(t == lines) for t in cols.text["trade_scope"]],
                   dtype=np.int64)[cols.codes["trade_scope"]]
    m_scope = np.array([-1 if r is None or r[4] in (None, "") else int(r[4] == lines) for r in model_rows] + [-1])
    f_scope = np.array([int(r[4] == lines) for r in firm_rows])
    scope = np.where(own < 0, np.where(has_model, m_scope[m_idx], -1), own)
    scope = np.where(scope < 0, f_scope[f_idx], scope)
    return out["band_abs"], out["band_rel"], out["min_trade"], out["min_improvement"], scope == 1


def _lap(timings: dict, name: str) -> None:
    now = time.perf_counter()
    timings[name] = now - timings["_t"]
    timings["_t"] = now


def _ids_or_none(aid: np.ndarray, where: str, params: list):
    """A queryset filter value for the selected accounts (a subquery, not a list of ids)."""
    from django.db.models.expressions import RawSQL

    return RawSQL(f"SELECT a.id FROM {_t(Account)} a WHERE a.status = 'active' AND ({where})", params)


def _positions_of(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Row of each db id in `sorted_ids` (-1 if absent), by a dense lookup table."""
    if len(sorted_ids) == 0:
        return np.full(len(ids), -1, dtype=np.int64)
    table = np.full(int(max(sorted_ids.max(), ids.max(initial=0))) + 1, -1, dtype=np.int64)
    table[sorted_ids] = np.arange(len(sorted_ids))
    return table[np.clip(ids, 0, len(table) - 1)]


def _lookup(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    pos = np.searchsorted(sorted_ids, ids)
    pos = np.clip(pos, 0, max(len(sorted_ids) - 1, 0))
    return pos


def _days(col: str) -> str:
    from .dbio import is_postgres

    return f"({col} - DATE '1970-01-01')" if is_postgres() else f"(julianday({col}) - 2440587.5)"


def _pending_cash(mov_t, sel, params, trade_date, codes):
    from .dbio import is_postgres

    ccy_case = " ".join(f"WHEN '{c}' THEN {i}" for i, c in enumerate(codes)) or "WHEN NULL THEN -1"  # valid SQL for an empty book
    date_lit = "%s::date" if is_postgres() else "%s"
    m_acc, m_day, m_amt, m_ccy, m_ca = fetch(
        f"SELECT m.account_id::int8, ({_days('m.settle_date')} - {_days(date_lit)})::int8, "
        f"SUM(m.amount)::float8, (CASE m.currency {ccy_case} ELSE -1 END)::int8, m.custody_account_id::int8 "
        f"FROM {mov_t} m "
        f"JOIN ({sel}) s ON s.id = m.account_id WHERE m.leg = 'cash' AND m.trade_date <= {date_lit} "
        f"AND m.settle_date > {date_lit} GROUP BY m.account_id, m.custody_account_id, m.settle_date, m.currency",
        [trade_date.isoformat(), *params, trade_date.isoformat(), trade_date.isoformat()],
        "iifii")
    keep = m_ccy >= 0
    return m_acc[keep], m_day[keep], m_amt[keep], m_ccy[keep], m_ca[keep]


def _custody_slots(aid: np.ndarray, sel: str, params: list[object]) -> tuple[np.ndarray, Any]:
    """(A, K) the active custody accounts of each account by id (-1 padded, K at least 1), and a
    function mapping custody account ids to their slot (0 for one not among them)."""
    ca_acc, ca_id = fetch(
        f"SELECT ca.account_id::int8, ca.id::int8 FROM {_t(CustodyAccount)} ca JOIN ({sel}) s ON s.id = ca.account_id "
        f"WHERE ca.is_active ORDER BY ca.account_id, ca.id", params, "ii")
    A = len(aid)
    row = _positions_of(aid, ca_acc)
    keep = row >= 0
    row, ca_id = row[keep], ca_id[keep]
    counts = np.bincount(row, minlength=A)
    K = max(int(counts.max(initial=0)), 1)
    _, within = _ragged(counts)
    ids = np.full((A, K), -1, dtype=np.int64)
    ids[row, within] = ca_id
    ids[:, 0] = np.where(counts == 0, -1, ids[:, 0])
    order = np.argsort(ca_id, kind="stable")
    sorted_ids, slot = ca_id[order], within[order]

    def k_of(custody: np.ndarray) -> np.ndarray:
        custody = np.asarray(custody, dtype=np.int64)
        if len(sorted_ids) == 0:
            return np.zeros(len(custody), dtype=np.int64)
        pos = np.clip(np.searchsorted(sorted_ids, custody), 0, len(sorted_ids) - 1)
        return np.where(sorted_ids[pos] == custody, slot[pos], 0)

    return ids, k_of


def _slot_custody(slot_listing: np.ndarray, line_market: np.ndarray, custody_ids: np.ndarray, aid: np.ndarray,
                  sel: str, params: list[object]) -> np.ndarray:
    """(A, S) the custody slot each slot's trades settle at: the account's lowest-id custody
    account settling the line's market (as `write.route` routes the order); 0 where none does."""
    A, S = slot_listing.shape
    out = np.zeros((A, S), dtype=np.int64)
    if custody_ids.shape[1] == 1 or not (slot_listing >= 0).any():
        return out
    cov_acc, cov_ca, _cus, cov_mkt = custody_coverage(sel, params)
    cov_row = _positions_of(aid, cov_acc)
    M = int(max(line_market.max(initial=0), cov_mkt.max(initial=0))) + 1
    keys = cov_row * M + cov_mkt
    order = np.lexsort((cov_ca, keys))
    keys, cov_ca, cov_row = keys[order], cov_ca[order], cov_row[order]
    first = np.r_[True, keys[1:] != keys[:-1]] if len(keys) else np.zeros(0, bool)
    keys, cov_ca, cov_row = keys[first], cov_ca[first], cov_row[first]
    ai, si = np.nonzero(slot_listing >= 0)
    want = ai * M + line_market[slot_listing[ai, si]]
    if len(keys) == 0:
        return out
    pos = np.clip(np.searchsorted(keys, want), 0, len(keys) - 1)
    hit = keys[pos] == want
    ca = np.where(hit, cov_ca[pos], -1)
    k = np.argmax(custody_ids[ai] == ca[:, None], axis=1)
    out[ai, si] = np.where(hit & (custody_ids[ai] == ca[:, None]).any(axis=1), k, 0)
    return out


def _loss_sales(sel, params, trade_date, ins_pos, underlying) -> engine.LossSales:
    """Sales at a loss in the last 30 days by US persons' households (wash-sale history)."""
    from accounts.models import LotRelief

    since = trade_date - dt.timedelta(days=engine.WASH_SALE_DAYS)
    rows = LotRelief.objects.filter(
        movement__trade_date__gte=since, movement__account__is_us_person=True,
        movement__account__household__isnull=False,
    ).values_list("movement__account__household_id", "lot__instrument_id", "movement__trade_date",
                  "proceeds_base", "cost_base")
    h, u, d = [], [], []
    for household, instrument, day, proceeds, cost in rows:
        if proceeds < cost and instrument in ins_pos:
            h.append(household)
            u.append(int(underlying[ins_pos[instrument]]))
            d.append(day.toordinal())
    return engine.LossSales(np.array(h, dtype=np.int64), np.array(u, dtype=np.int64), np.array(d, dtype=np.int64))
