"""The multi-currency rebalancing engine: arrays in, order arrays out. No ORM, no Decimal.

Layout
------
Accounts are rows (A). Each account carries S *slots*: the union of the listings it holds and
the listings its model targets (plus substitutes of ineligible targets), padded with -1. A
security with several lines (HSBC in London and Hong Kong) occupies one slot, on the line the
loader chose for that account (`Listings.security` says which lines are one security).
Slot arrays are (A, S). Currencies are columns (C). Value dates form a grid of calendar days
D starting at the trade date (day 0); settlement days and FX spot days are indices into that
grid, computed outside from exchange and currency calendars (see `calendars.py`).

Cash is given as ``cash[a, c, d]``: the balance in currency c that will have settled by day d
(settled cash plus pending settlements with value date <= d). A purchase settling on day d
may only use cash available by d; a sale settling on day d only funds purchases settling on
or after d. FX spot trades go between each foreign currency and the account's base, and value
only on days open in both currencies and not before the pair's spot date (`pair_spot`).

Steps (two tiers: a vectorised screen over every account, then trades for those out of band)
1. effective targets: restricted -> 0 (never bought; frozen ones neither bought nor sold),
   ineligible -> substitute slot with the
   ADR ratio applied (same number of underlying ordinaries) or cash; base cash absorbs the rest;
2. drift screen: absolute and relative bands on every slot and on cash;
3. raw trades to target (every line, or with `lines_only` just the lines out of band and, when
   cash is out of band, those that bring it back), rounded to lots (sells to the nearest lot, buys down), minimum trade
   value, minimum-improvement rule, no buys of restricted/ineligible listings;
4. tax lots relieved for sells (FIFO, HIFO, lowest tax), loss sales flagged;
5. wash sale: for US taxpayers no buy of an underlying the household sold at a loss in the
   last 30 days or sells at a loss in this run;
6. settlement-aware cash: a foreign buy settling before FX can deliver its currency is cut to
   the cash there by then (per account and currency); then buys are scaled down per account
   (bisection, re-rounded to lots) until no currency is negative on any value date after FX;
7. FX spot per (account, foreign currency), never before the pair's spot date: one buy funding
   shortfalls and the top-up to the cash target; surplus above the target swept back to base
   as each sale settles (one deal per good day on which more has arrived); base shortfalls
   met by selling foreign cash in time, or not at all;
8. currency hedge: FX forwards to keep the hedged share of each foreign exposure at target.

Cash per custody account (`Accounts.custody_cash`, (A, K, C, D)): after step 7 the ladders are
split by custody account (trades at their slot's, each FX deal at one named custody account) and
a custody account short in a currency receives a transfer from the others in time (`_custody`);
buys are scaled down (step 6's bisection) when no transfer can arrive before they settle.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from types import SimpleNamespace
from typing import Any

import numpy as np

FIFO, HIFO, LOWEST_TAX = 0, 1, 2
LOT_METHODS = {"fifo": FIFO, "hifo": HIFO, "lowest_gain": LOWEST_TAX}
WASH_SALE_DAYS = 30
EPS = 1e-9


@dataclass
class Listings:
    """Per listing (L). Prices are in quote units; value in trading currency = qty * price / price_unit."""

    price: np.ndarray  # float64 (L,)
    price_unit: np.ndarray  # float64 (L,), 100 for GBp / ZAc quotes, else 1
    currency: np.ndarray  # int (L,) index into Currencies
    lot_size: np.ndarray  # float64 (L,) board lot / trading unit (1 for most US/UK shares)
    allows_fractional: np.ndarray  # bool (L,)
    underlying: np.ndarray  # int (L,) id of the underlying security (ADR and ordinary share it)
    ratio: np.ndarray  # float64 (L,) underlying ordinaries per share of this listing (ADR: 4, 10, 0.5)
    settle_day: np.ndarray  # int (L,) settlement day index for a trade today (-1 = cannot trade)
    substitute: np.ndarray | None = None  # int (L,) listing used when this one is ineligible, -1 none
    # int (L,) the security each line is of: lines of one security share it (HSBC in London and Hong
    # Kong). An account holds a security on one line; a substitute is found in an account's slots by
    # its security, whichever line the account trades it on. Default: every listing its own security.
    security: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.substitute is None:
            self.substitute = np.full(len(self.price), -1, dtype=np.int64)
        if self.security is None:
            self.security = np.arange(len(self.price), dtype=np.int64)


@dataclass
class Currencies:
    """Per currency (C). `fx` is the value of one unit in a common pivot (any currency)."""

    codes: list[str]
    fx: np.ndarray  # float64 (C,)
    minor_units: np.ndarray  # int (C,)
    spot_day: np.ndarray  # int (C,) FX spot value day against the book's main base currency
    open: np.ndarray  # bool (C, D) the currency settles on day d
    # int (C, C) spot value day of each pair on both currencies' calendars; an FX deal never values
    # before it. Default: the later of the two currencies' spot days (0 on the diagonal).
    pair_spot: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.pair_spot is None:
            sd = np.asarray(self.spot_day, dtype=np.int64)
            self.pair_spot = np.maximum(sd[:, None], sd[None, :])
            np.fill_diagonal(self.pair_spot, 0)


@dataclass
class Accounts:
    """Per account (A) and per account x slot (A, S)."""

    base: np.ndarray  # int (A,) base currency index
    slot_listing: np.ndarray  # int (A, S) listing index, -1 = empty slot
    qty: np.ndarray  # float64 (A, S) current quantity
    target: np.ndarray  # float64 (A, S) model weight after overrides
    cash: np.ndarray  # float64 (A, C, D) cash settled by day d
    cash_target: np.ndarray | None = None  # float64 (A, C) target weight of cash by currency
    restricted: np.ndarray | None = None  # bool (A, S) never bought; sold down to nothing
    frozen: np.ndarray | None = None  # bool (A, S) restricted but kept: neither bought nor sold
    ineligible: np.ndarray | None = None  # bool (A, S)
    band_abs: np.ndarray | None = None  # float64 (A,) e.g. 0.02
    band_rel: np.ndarray | None = None  # float64 (A,) e.g. 0.20 of the target weight
    min_trade: np.ndarray | None = None  # float64 (A,) in base currency
    min_improvement: np.ndarray | None = None  # float64 (A,) share of the deviation a trade must remove
    # bool (A,) once out of band, trade only the lines out of their band (and, when cash is out of
    # its band, the lines on the side that brings it back); False: every line toward its target
    lines_only: np.ndarray | None = None
    household: np.ndarray | None = None  # int (A,)
    us_taxpayer: np.ndarray | None = None  # bool (A,)
    lot_method: np.ndarray | None = None  # int (A,) FIFO/HIFO/LOWEST_TAX
    hedge_ratio: np.ndarray | None = None  # float64 (A,)
    hedge_band: np.ndarray | None = None  # float64 (A,) share of exposure
    forward_notional: np.ndarray | None = None  # float64 (A, C) foreign amount bought (+) / sold (-) forward
    forward_maturity: np.ndarray | None = None  # int (A, C) day index of maturity (large = far)
    # float64 (A, K, C, D) cash settled by day d at each of the account's K custody accounts (its
    # cash accounts there); sums over K to `cash`. Default: one custody account holding it all.
    custody_cash: np.ndarray | None = None
    # int (A, S) the custody account (0..K-1) each slot's trades settle at; default 0
    slot_custody: np.ndarray | None = None
    custody_open: np.ndarray | None = None  # bool (A, K) the slot is a custody account (False: padding)

    def __post_init__(self) -> None:
        a, s = self.slot_listing.shape
        c = self.cash.shape[1]
        if self.custody_cash is None:
            self.custody_cash = np.asarray(self.cash, dtype=np.float64)[:, None, :, :]
        self.slot_custody = _default(self.slot_custody, (a, s), 0, np.int64)
        self.custody_open = _default(self.custody_open, self.custody_cash.shape[:2], True)
        self.cash_target = _default(self.cash_target, (a, c), 0.0)
        self.restricted = _default(self.restricted, (a, s), False)
        self.frozen = _default(self.frozen, (a, s), False)
        self.ineligible = _default(self.ineligible, (a, s), False)
        self.band_abs = _default(self.band_abs, (a,), 0.02)
        self.band_rel = _default(self.band_rel, (a,), 0.25)
        self.min_trade = _default(self.min_trade, (a,), 0.0)
        self.min_improvement = _default(self.min_improvement, (a,), 0.0)
        self.lines_only = _default(self.lines_only, (a,), False)
        self.household = _default(self.household, (a,), -1, np.int64)
        if self.household is not None and (self.household < 0).all():
            self.household = np.arange(a, dtype=np.int64)
        self.us_taxpayer = _default(self.us_taxpayer, (a,), False)
        self.lot_method = _default(self.lot_method, (a,), FIFO, np.int64)
        self.hedge_ratio = _default(self.hedge_ratio, (a,), 0.0)
        self.hedge_band = _default(self.hedge_band, (a,), 0.05)
        self.forward_notional = _default(self.forward_notional, (a, c), 0.0)
        self.forward_maturity = _default(self.forward_maturity, (a, c), 1 << 30, np.int64)

    def subset(self, rows: np.ndarray) -> Accounts:
        return Accounts(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})


@dataclass
class TaxLots:
    """Open lots, flat (N). Cost per share in the account's base currency."""

    account: np.ndarray  # int (N,)
    listing: np.ndarray  # int (N,)
    qty: np.ndarray  # float64 (N,)
    cost: np.ndarray  # float64 (N,) per share, base currency
    acquired: np.ndarray  # int (N,) day ordinal (date.toordinal())

    @classmethod
    def empty(cls) -> TaxLots:
        z = np.zeros(0)
        return cls(z.astype(np.int64), z.astype(np.int64), z, z, z.astype(np.int64))


@dataclass
class LossSales:
    """Sales at a loss in the last 30 days, by household and underlying (US wash-sale rule)."""

    household: np.ndarray
    underlying: np.ndarray
    day: np.ndarray  # day ordinal of the sale

    @classmethod
    def empty(cls) -> LossSales:
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z, z)


@dataclass
class Params:
    trade_day: int = 0  # day ordinal of the trade date (for tax terms and wash-sale windows)
    price_buffer: float = 0.0  # extra share of a buy's cost reserved against price moves
    fractional_step: float = 1e-4  # quantity step for listings that allow fractions
    st_rate: float = 0.37  # tax rates ranking lots under "lowest gain" (short and long term)
    lt_rate: float = 0.20
    long_term_days: int = 365
    bisection_steps: int = 24
    # business days of the currency a cash transfer between custodians takes: instructed on the
    # trade date, it values on the `transfer_lag`-th business day after it (0: the first business day)
    transfer_lag: int = 1
    forward_day: int = 30  # value day (calendar days from trade date) of new forwards
    roll_window: int = 5  # forwards maturing within this many days are rolled


@dataclass
class Orders:
    account: np.ndarray
    listing: np.ndarray
    side: np.ndarray  # +1 buy, -1 sell
    qty: np.ndarray
    price: np.ndarray  # estimated, quote units
    value_local: np.ndarray  # trading currency
    value_base: np.ndarray
    currency: np.ndarray
    settle_day: np.ndarray
    realized_gain: np.ndarray  # sells, base currency (0 for buys)
    loss_sale: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.account)


@dataclass
class LotReliefs:
    order: np.ndarray  # index into Orders
    lot: np.ndarray  # index into the TaxLots given
    qty: np.ndarray
    gain: np.ndarray


@dataclass
class FxOrders:
    """Spot (kind 0) and forward (kind 1 adjust, 2 roll). Buy `buy_amount` of `buy_ccy`
    paying `sell_amount` of `sell_ccy` for value on `value_day`."""

    account: np.ndarray
    buy_ccy: np.ndarray
    sell_ccy: np.ndarray
    buy_amount: np.ndarray
    sell_amount: np.ndarray
    rate: np.ndarray  # sell_ccy per unit of buy_ccy
    value_day: np.ndarray
    kind: np.ndarray

    def __len__(self) -> int:
        return len(self.account)


@dataclass
class Transfers:
    """Cash moved between two custody accounts of one account (slots 0..K-1), in one currency,
    for value on `value_day`: proposed when a buy at one custodian needs cash held at another."""

    account: np.ndarray
    currency: np.ndarray
    from_custody: np.ndarray
    to_custody: np.ndarray
    amount: np.ndarray
    value_day: np.ndarray

    def __len__(self) -> int:
        return len(self.account)

    @classmethod
    def empty(cls) -> Transfers:
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z, z, z, np.zeros(0), z)


@dataclass
class Result:
    orders: Orders
    reliefs: LotReliefs
    fx: FxOrders
    forwards: FxOrders
    out_of_band: np.ndarray  # bool (A,)
    buy_scale: np.ndarray  # float64 (A,) share of desired buys kept for cash
    wash_blocked: np.ndarray  # bool (A, S) buys removed by the wash-sale rule
    new_qty: np.ndarray  # (A, S)
    cash_after: np.ndarray  # (A, C, D) after trades and spot FX
    weights_after: np.ndarray  # (A, S) in base, with trades settled
    effective_target: np.ndarray  # (A, S)
    band: np.ndarray  # (A, S)
    stats: dict = field(default_factory=dict)
    transfers: Transfers = field(default_factory=Transfers.empty)
    fx_custody: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # (len fx,) custody slot
    forward_custody: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    custody_after: np.ndarray | None = None  # (A, K, C, D) per custody account after trades, FX, transfers
    # bool (A,) buys scaled down because cash at another custodian could not be moved in time
    transfer_late: np.ndarray | None = None


def unique_sorted(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values (sort-based; numpy's hash-based unique is much slower on int keys)."""
    s = np.sort(np.asarray(a), kind="stable")
    if len(s) == 0:
        return s
    return s[np.r_[True, s[1:] != s[:-1]]]


def _default(value: Any, shape: Any, fill: Any, dtype: Any = None) -> np.ndarray:
    if value is not None:
        return np.asarray(value) if dtype is None else np.asarray(value, dtype=dtype)
    return np.full(shape, fill, dtype=dtype if dtype is not None else type(fill))


# ----------------------------------------------------------------------------------------------
# helpers


def _round_up(x: np.ndarray, digits: np.ndarray) -> np.ndarray:
    scale = 10.0 ** digits
    return np.ceil(x * scale - 1e-7) / scale


def _round_down(x: np.ndarray, digits: np.ndarray) -> np.ndarray:
    scale = 10.0 ** digits
    return np.floor(x * scale + 1e-7) / scale


def _slot_of(slot_listing: np.ndarray, account: np.ndarray, listing: np.ndarray, n_listings: int) -> np.ndarray:
    """Slot index of (account, listing) pairs, -1 where the account has no such slot."""
    a, s = slot_listing.shape
    keys = np.where(slot_listing >= 0, np.arange(a)[:, None] * (n_listings + 1) + slot_listing, -1).ravel()
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    want = account * (n_listings + 1) + listing
    pos = np.searchsorted(sorted_keys, want)
    pos = np.clip(pos, 0, len(sorted_keys) - 1)
    found = (sorted_keys[pos] == want) & (listing >= 0)
    flat = order[pos]
    return np.where(found, flat % s, -1)


# ----------------------------------------------------------------------------------------------
# the engine


def rebalance(
    listings: Listings,
    currencies: Currencies,
    accounts: Accounts,
    lots: TaxLots | None = None,
    loss_sales: LossSales | None = None,
    params: Params | None = None,
) -> Result:
    """Two tiers: a vectorised screen over every account, then the trade, tax-lot, cash and FX
    work only for accounts out of band (or with a currency already short)."""
    p = params or Params()
    lots = lots if lots is not None else TaxLots.empty()
    acc = accounts
    A = acc.slot_listing.shape[0]
    screen = _prepare(listings, currencies, acc)
    work = (screen.out | (acc.cash < -EPS).any(axis=(1, 2)) | (acc.custody_cash < -EPS).any(axis=(1, 2, 3))
            | ((acc.hedge_ratio > 0) | (acc.forward_notional != 0).any(axis=1)))
    if work.all() or A == 0:
        return _rebalance_rows(listings, currencies, acc, lots, loss_sales, p)
    W = np.nonzero(work)[0]
    in_w = np.zeros(A, dtype=bool)
    in_w[W] = True
    lot_keep = np.nonzero(in_w[lots.account])[0] if len(lots.qty) else np.zeros(0, dtype=np.int64)
    sub_lots = TaxLots(np.searchsorted(W, lots.account[lot_keep]), lots.listing[lot_keep], lots.qty[lot_keep],
                       lots.cost[lot_keep], lots.acquired[lot_keep])
    r = _rebalance_rows(listings, currencies, acc.subset(W), sub_lots, loss_sales, p)
    # back to the whole book
    for arr in (r.orders.account, r.fx.account, r.forwards.account, r.transfers.account):
        arr[:] = W[arr]
    r.reliefs.lot = lot_keep[r.reliefs.lot]
    out = np.zeros(A, dtype=bool)
    out[W] = r.out_of_band
    scale = np.ones(A)
    scale[W] = r.buy_scale

    def widen(part: np.ndarray, full: np.ndarray) -> np.ndarray:
        full = full.copy()
        full[W] = part
        return full

    total = np.where(screen.total > 0, screen.total, 1.0)
    result = Result(
        orders=r.orders, reliefs=r.reliefs, fx=r.fx, forwards=r.forwards, out_of_band=out, buy_scale=scale,
        wash_blocked=widen(r.wash_blocked, np.zeros_like(acc.restricted)), new_qty=widen(r.new_qty, screen.qty),
        cash_after=widen(r.cash_after, acc.cash), weights_after=widen(r.weights_after, screen.qty * screen.share_base
                                                                      / total[:, None]),
        effective_target=widen(r.effective_target, screen.eff), band=widen(r.band, screen.band), stats=r.stats,
        transfers=r.transfers, fx_custody=r.fx_custody, forward_custody=r.forward_custody,
        custody_after=widen(r.custody_after, acc.custody_cash),
        transfer_late=widen(r.transfer_late, np.zeros(A, dtype=bool)),
    )
    result.stats.update(accounts=A, out_of_band=int(out.sum()), screened_in=len(W))
    return result


def _prepare(listings: Listings, currencies: Currencies, acc: Accounts) -> SimpleNamespace:
    """Values in base currency, effective targets (steps 1-2) and the drift screen."""
    A, S = acc.slot_listing.shape
    D = acc.cash.shape[2]
    rows = np.arange(A)
    valid = acc.slot_listing >= 0
    lst = np.where(valid, acc.slot_listing, 0)
    qty = np.where(valid, acc.qty, 0.0)
    ccy = listings.currency[lst]
    base = acc.base
    # value of one share in base currency
    fx_to_base = currencies.fx[None, :] / currencies.fx[base][:, None]  # (A, C)
    share_local = listings.price[lst] / listings.price_unit[lst]
    share_base = share_local * np.take_along_axis(fx_to_base, ccy, axis=1)
    share_base = np.where(valid, share_base, 0.0)
    mv = qty * share_base
    cash_today = acc.cash[:, :, D - 1]  # projected balance once everything pending settles
    cash_base = (cash_today * fx_to_base).sum(axis=1)
    total = mv.sum(axis=1) + cash_base
    safe_total = np.where(total > 0, total, 1.0)

    # 1. effective targets -------------------------------------------------------------------
    target = np.where(valid, acc.target, 0.0)
    no_buy = (acc.restricted | acc.ineligible) & valid
    moved = np.where(acc.ineligible & valid & ~acc.restricted, target, 0.0)
    sub_listing = listings.substitute[lst]
    has_sub = (moved > 0) & (sub_listing >= 0)
    eff = np.where(no_buy, 0.0, target)
    frozen = acc.frozen & valid
    no_buy |= frozen
    if has_sub.any():
        ai, si = np.nonzero(has_sub)
        security = np.asarray(listings.security)
        n_sec = int(security.max(initial=0)) + 1
        sub_slot = _slot_of(np.where(valid, security[lst], -1), ai, security[sub_listing[ai, si]], n_sec)
        ok = sub_slot >= 0
        ok &= ~no_buy[ai, np.where(ok, sub_slot, 0)]
        ai, si, sub_slot = ai[ok], si[ok], sub_slot[ok]
        # same number of underlying ordinaries: qty_sub = qty_orig * ratio_orig / ratio_sub
        orig_l, sub_l = lst[ai, si], lst[ai, sub_slot]
        w = target[ai, si] * (share_base[ai, sub_slot] * listings.ratio[orig_l]) / (
            share_base[ai, si] * listings.ratio[sub_l]
        )
        np.add.at(eff, (ai, sub_slot), w)
    # a frozen holding stays as it is: its weight is whatever it weighs now
    eff = np.where(frozen, mv / safe_total[:, None], eff)
    ctarget = acc.cash_target.copy()
    ctarget[rows, base] = 0.0
    ctarget[rows, base] = np.maximum(1.0 - eff.sum(axis=1) - ctarget.sum(axis=1), 0.0)

    # 2. drift screen ------------------------------------------------------------------------
    weight = mv / safe_total[:, None]
    band = np.maximum(acc.band_abs[:, None], acc.band_rel[:, None] * eff)
    slot_out = valid & (np.abs(weight - eff) > band + EPS)
    cash_w = cash_base / safe_total
    cash_t = ctarget.sum(axis=1)
    cash_band = np.maximum(acc.band_abs, acc.band_rel * cash_t)
    cash_high = cash_w - cash_t > cash_band + EPS
    cash_low = cash_t - cash_w > cash_band + EPS
    out = slot_out.any(axis=1) | cash_high | cash_low
    out &= total > 0

    return SimpleNamespace(slot_out=slot_out, cash_high=cash_high, cash_low=cash_low, valid=valid, lst=lst, qty=qty, ccy=ccy, base=base, fx_to_base=fx_to_base,
                           share_local=share_local, share_base=share_base, total=total, eff=eff, ctarget=ctarget,
                           band=band, out=out, no_buy=no_buy, weight=weight, frozen=frozen)


def _rebalance_rows(
    listings: Listings,
    currencies: Currencies,
    accounts: Accounts,
    lots: TaxLots | None = None,
    loss_sales: LossSales | None = None,
    params: Params | None = None,
) -> Result:
    p = params or Params()
    lots = lots if lots is not None else TaxLots.empty()
    loss_sales = loss_sales if loss_sales is not None else LossSales.empty()
    acc = accounts
    A, S = acc.slot_listing.shape
    C, D = acc.cash.shape[1], acc.cash.shape[2]
    n_listings = len(listings.price)
    rows = np.arange(A)

    v = _prepare(listings, currencies, acc)
    valid, lst, qty, ccy, fx_to_base, share_local, share_base = (
        v.valid, v.lst, v.qty, v.ccy, v.fx_to_base, v.share_local, v.share_base)
    total, eff, ctarget, band, out, no_buy = v.total, v.eff, v.ctarget, v.band, v.out, v.no_buy

    # 3. raw trades ----------------------------------------------------------------------------
    step = np.where(listings.allows_fractional[lst], p.fractional_step, listings.lot_size[lst])
    step = np.where(valid, np.maximum(step, EPS), 1.0)
    tradable = valid & (listings.settle_day[lst] >= 0) & (share_base > 0) & out[:, None] & ~v.frozen
    tq = np.where(share_base > 0, eff * total[:, None] / np.where(share_base > 0, share_base, 1.0), 0.0)
    diff = tq - qty
    # trade scope: whole account, or only lines out of band (plus, with cash out of its band, the
    # lines whose trade brings cash back: buys when cash is high, sells when it is low)
    in_scope = (~acc.lines_only[:, None] | v.slot_out | (v.cash_high[:, None] & (diff > 0))
                | (v.cash_low[:, None] & (diff < 0)))
    tradable &= in_scope
    sell_q = np.where(diff < 0, np.round(-diff / step) * step, 0.0)
    sell_q = np.where((eff <= 0) & (diff < 0), qty, np.minimum(sell_q, qty))  # full exit may be an odd lot
    buy_q = np.where(diff > 0, np.floor(diff / step + 1e-9) * step, 0.0)
    buy_q = np.where(no_buy, 0.0, buy_q)
    trade = np.where(tradable, buy_q - sell_q, 0.0)
    dev_before = np.abs(diff) * share_base
    dev_after = np.abs(diff - trade) * share_base
    keep = np.abs(trade) * share_base >= acc.min_trade[:, None] - EPS
    keep &= (dev_before - dev_after) >= acc.min_improvement[:, None] * dev_before - EPS
    keep &= (dev_before - dev_after) > EPS
    trade = np.where(keep, trade, 0.0)
    sells = np.where(trade < 0, -trade, 0.0)
    buys = np.where(trade > 0, trade, 0.0)

    # 4. tax lots --------------------------------------------------------------------------------
    relief_lot, relief_slot_flat, relief_qty, relief_gain = _relieve_lots(
        lots, acc, sells, share_base, listings, n_listings, p
    )
    loss_flat = np.zeros(A * S, dtype=bool)
    gain_flat = np.bincount(relief_slot_flat, weights=relief_gain, minlength=A * S)
    if len(relief_lot):
        loss_flat[relief_slot_flat[relief_gain < -EPS]] = True
    loss_slot = loss_flat.reshape(A, S) & (sells > 0)

    # 5. wash sale ------------------------------------------------------------------------------
    wash_blocked = np.zeros((A, S), dtype=bool)
    if acc.us_taxpayer.any():
        U = int(max(listings.underlying.max(initial=0), loss_sales.underlying.max(initial=0))) + 1
        recent = loss_sales.day >= p.trade_day - WASH_SALE_DAYS
        keys = [loss_sales.household[recent] * U + loss_sales.underlying[recent]]
        li, sj = np.nonzero(loss_slot & acc.us_taxpayer[:, None])
        keys.append(acc.household[li] * U + listings.underlying[lst[li, sj]])
        blocked_keys = unique_sorted(np.concatenate(keys))
        if len(blocked_keys):
            cand = (buys > 0) & acc.us_taxpayer[:, None]
            ci, cj = np.nonzero(cand)
            k = acc.household[ci] * U + listings.underlying[lst[ci, cj]]
            pos = np.clip(np.searchsorted(blocked_keys, k), 0, len(blocked_keys) - 1)
            hit = blocked_keys[pos] == k
            wash_blocked[ci[hit], cj[hit]] = True
            buys = np.where(wash_blocked, 0.0, buys)

    # 6-7. cash feasibility, FX funding -----------------------------------------------------------
    settle = np.where(valid, listings.settle_day[lst], 0)
    cost_factor = 1.0 + p.price_buffer
    sell_local = sells * share_local
    buy_local = buys * share_local * cost_factor
    idx = (rows[:, None] * C + ccy) * D + settle
    sell_flow = np.bincount(idx.ravel(), weights=sell_local.ravel(), minlength=A * C * D).reshape(A, C, D)

    # a buy in a foreign currency settling before FX can deliver that currency (the pair's first
    # good value day) uses only the cash there by then: scaled down per account and currency
    late_scale = np.ones(A)
    _, first_ok = _fx_days(acc, currencies)
    early = valid & (buys > 0) & (settle < first_ok[rows[:, None], ccy])
    if early.any():
        early_flow = np.bincount(idx[early], weights=buy_local[early], minlength=A * C * D).reshape(A, C, D)
        spent = np.cumsum(early_flow, axis=2)
        have = acc.cash + np.cumsum(sell_flow, axis=2)
        before = np.arange(D)[None, None, :] < first_ok[:, :, None]
        ratio = np.where(before & (spent > EPS), np.maximum(have, 0.0) / np.where(spent > EPS, spent, 1.0), np.inf)
        cap = np.minimum(ratio.min(axis=2), 1.0)  # (A, C)
        cap_slot = np.where(early, cap[rows[:, None], ccy], 1.0)
        q = np.floor(buys * cap_slot / step + 1e-9) * step
        q = np.where(q * share_base >= acc.min_trade[:, None] - EPS, q, 0.0)
        buys = np.where(early & (cap_slot < 1.0), q, buys)
        late_scale = np.where(early, cap_slot, 1.0).min(axis=1)
        buy_local = buys * share_local * cost_factor

    scale = np.ones(A)
    kept_buys = buys
    final_cash, fx = _fund(acc, currencies, fx_to_base, ctarget, total, sell_flow, buy_local, idx, out, p, 1.0)
    t_day = _transfer_days(currencies, p)
    cust = _custody(acc, fx, sell_local, buy_local, ccy, settle, valid, currencies.minor_units, t_day)
    pooled_ok = _feasible(final_cash)
    # cash is there in total but held at another custodian and cannot be moved in time
    transfer_late = out & pooled_ok & ~cust.ok
    short = out & ~(pooled_ok & cust.ok)
    if short.any():
        sa = np.nonzero(short)[0]
        lo, hi = np.zeros(len(sa)), np.ones(len(sa))
        sub = _subset(acc, sa)
        sub_args = (currencies, fx_to_base[sa], ctarget[sa], total[sa], sell_flow[sa])
        sub_idx = _reindex(idx[sa], len(sa), C, D, ccy[sa], settle[sa])
        for _ in range(p.bisection_steps):
            mid = (lo + hi) / 2
            q = np.floor(buys[sa] * mid[:, None] / step[sa] + 1e-9) * step[sa]
            bl = q * share_local[sa] * cost_factor
            cash_mid, fx_mid = _fund(sub, *sub_args, bl, sub_idx, np.ones(len(sa), bool), p, mid)
            good = _feasible(cash_mid)
            if (good & (sub.custody_cash.shape[1] > 1)).any():
                good &= _custody(sub, fx_mid, sell_local[sa], bl, ccy[sa], settle[sa], valid[sa],
                                 currencies.minor_units, t_day).ok
            lo = np.where(good, mid, lo)
            hi = np.where(good, hi, mid)
        scale[sa] = lo
        q = np.floor(buys[sa] * lo[:, None] / step[sa] + 1e-9) * step[sa]
        q = np.where(q * share_base[sa] >= acc.min_trade[sa][:, None] - EPS, q, 0.0)
        kept_buys = buys.copy()
        kept_buys[sa] = q
        buy_local = kept_buys * share_local * cost_factor
        final_cash, fx = _fund(acc, currencies, fx_to_base, ctarget, total, sell_flow, buy_local, idx, out, p,
                               np.where(short, scale, 1.0))
        cust = _custody(acc, fx, sell_local, buy_local, ccy, settle, valid, currencies.minor_units, t_day)
        still = short & ~(_feasible(final_cash) & cust.ok)
        if still.any():  # starting cash already short: no buys at all
            kept_buys[still] = 0.0
            scale[still] = 0.0
            buy_local = kept_buys * share_local * cost_factor
            final_cash, fx = _fund(acc, currencies, fx_to_base, ctarget, total, sell_flow, buy_local, idx, out,
                                   p, np.where(short, scale, 1.0))
            cust = _custody(acc, fx, sell_local, buy_local, ccy, settle, valid, currencies.minor_units, t_day)
    buys = kept_buys

    # 8. orders ------------------------------------------------------------------------------------
    new_qty = qty - sells + buys
    order_rows = []
    for side, q in ((-1, sells), (1, buys)):
        ai, si = np.nonzero(q > 0)
        order_rows.append((side, ai, si, q[ai, si]))
    oa = np.concatenate([r[1] for r in order_rows])
    os_ = np.concatenate([r[2] for r in order_rows])
    oq = np.concatenate([r[3] for r in order_rows])
    oside = np.concatenate([np.full(len(r[1]), r[0], dtype=np.int8) for r in order_rows])
    ol = lst[oa, os_]
    flat_slot = oa * S + os_
    orders = Orders(
        account=oa, listing=ol, side=oside, qty=np.round(oq, 8), price=listings.price[ol],
        value_local=oq * share_local[oa, os_], value_base=oq * share_base[oa, os_],
        currency=listings.currency[ol], settle_day=listings.settle_day[ol],
        realized_gain=np.where(oside < 0, gain_flat[flat_slot], 0.0),
        loss_sale=np.where(oside < 0, loss_flat[flat_slot], False),
    )
    # map reliefs to order rows (sells come first, in np.nonzero order)
    n_sell = int((oside < 0).sum())
    sell_index = np.full(A * S, -1, dtype=np.int64)
    sell_index[flat_slot[:n_sell]] = np.arange(n_sell)
    rel_order = sell_index[relief_slot_flat] if len(relief_slot_flat) else relief_slot_flat
    reliefs = LotReliefs(order=rel_order, lot=relief_lot, qty=relief_qty, gain=relief_gain)

    after_base = (final_cash[:, :, D - 1] * fx_to_base).sum(axis=1)
    total_after = (new_qty * share_base).sum(axis=1) + after_base
    weights_after = new_qty * share_base / np.where(total_after > 0, total_after, 1.0)[:, None]
    forwards = _hedge(acc, currencies, fx_to_base, new_qty, share_local, ccy, final_cash, p)
    transfer_late &= scale < 1
    return Result(
        transfers=cust.transfers, fx_custody=cust.fx_custody, custody_after=cust.ladder, transfer_late=transfer_late,
        forward_custody=cust.home[forwards.account, np.where(forwards.buy_ccy == acc.base[forwards.account],
                                                             forwards.sell_ccy, forwards.buy_ccy)],
        orders=orders, reliefs=reliefs, fx=fx, forwards=forwards, out_of_band=out, buy_scale=np.minimum(scale, late_scale),
        wash_blocked=wash_blocked, new_qty=new_qty, cash_after=final_cash, weights_after=weights_after,
        effective_target=eff, band=band,
        stats={"accounts": A, "out_of_band": int(out.sum()), "orders": len(orders), "fx_orders": len(fx),
               "forwards": len(forwards), "cash_limited": int((np.minimum(scale, late_scale) < 1).sum()),
               "fx_too_late": int((late_scale < 1).sum()), "transfers": len(cust.transfers),
               "transfer_too_late": int(transfer_late.sum())},
    )


def _reindex(idx: Any, n: int, C: int, D: int, ccy: np.ndarray, settle: np.ndarray) -> np.ndarray:
    return (np.arange(n)[:, None] * C + ccy) * D + settle


def _subset(acc: Accounts, sa: np.ndarray) -> Accounts:
    return Accounts(
        base=acc.base[sa], slot_listing=acc.slot_listing[sa], qty=acc.qty[sa], target=acc.target[sa],
        cash=acc.cash[sa], cash_target=acc.cash_target[sa], min_trade=acc.min_trade[sa],
        custody_cash=acc.custody_cash[sa], slot_custody=acc.slot_custody[sa], custody_open=acc.custody_open[sa],
    )


def _feasible(cash: np.ndarray) -> np.ndarray:
    return (cash >= -1e-6).all(axis=(1, 2))


def _transfer_days(currencies: Currencies, p: Params) -> np.ndarray:
    """(C, D) days a cash transfer between custodians may value: business days of the currency
    from the `transfer_lag`-th business day after the trade date on."""
    open_ = np.asarray(currencies.open, dtype=bool)
    C, D = open_.shape
    after = open_ & (np.arange(D)[None, :] >= 1)
    rank = np.cumsum(after, axis=1)  # business days after day 0 so far
    first = np.where(p.transfer_lag <= 0, np.argmax(open_, axis=1),
                     np.where((rank >= p.transfer_lag).any(axis=1), np.argmax(rank >= max(p.transfer_lag, 1), axis=1), D))
    first = np.where(open_.any(axis=1), first, D)
    return open_ & (np.arange(D)[None, :] >= first[:, None])


def _custody(acc: Accounts, fx: FxOrders, sell_local: np.ndarray, buy_local: np.ndarray, ccy: np.ndarray,
             settle: np.ndarray, valid: np.ndarray, minor: np.ndarray, t_ok: np.ndarray) -> SimpleNamespace:
    """Cash per custody account by value date, and the transfers between custodians it needs.

    Trades settle at their slot's custody account. Every spot FX deal in a foreign currency
    settles (both legs) at that currency's home custody account: the one buying the most of it,
    else the one holding the most of it. Then, currency by currency, a custody account going
    short receives, for value on the latest transfer day (`t_ok`) not after it first goes short,
    what it lacks from the others, each giving what it keeps spare from that day on; what is
    still short then (cash arriving later) is met by a later transfer in another pass. Transfers
    net: between two custody accounts, one currency moves one way on any one value day. `ok` is False
    for an account still short somewhere: the cash could not be moved in time."""
    A, K, C, D = acc.custody_cash.shape
    rows = np.arange(A)
    kc = np.where(valid, np.clip(acc.slot_custody, 0, K - 1), 0)
    if K == 1:
        ladder = np.zeros((A, 1, C, D))
        cash_idx = (rows[:, None] * C + ccy) * D + settle
        flow = np.bincount(cash_idx.ravel(), weights=(sell_local - buy_local).ravel(), minlength=A * C * D)
        ladder[:, 0] = acc.custody_cash[:, 0] + np.cumsum(flow.reshape(A, C, D), axis=2)
        home = np.zeros((A, C), dtype=np.int64)
    else:
        idx = ((rows[:, None] * K + kc) * C + ccy) * D + settle
        flow = np.bincount(idx.ravel(), weights=(sell_local - buy_local).ravel(), minlength=A * K * C * D)
        ladder = acc.custody_cash + np.cumsum(flow.reshape(A, K, C, D), axis=3)
        bought = np.bincount(((rows[:, None] * K + kc) * C + ccy).ravel(), weights=buy_local.ravel(),
                             minlength=A * K * C).reshape(A, K, C)
        held = np.where(acc.custody_open[:, :, None], ladder[:, :, :, D - 1], -np.inf)
        home = np.where(bought.max(axis=1) > EPS, np.argmax(bought, axis=1), np.argmax(held, axis=1))
    # FX: both legs at one custody account: a purchase of foreign currency where it is bought
    # (its home), a sale of it (a sweep, or base cash raised) where most of it is spare then
    base = acc.base
    selling = fx.buy_ccy == base[fx.account]
    foreign = np.where(selling, fx.sell_ccy, fx.buy_ccy)
    fx_k = home[fx.account, foreign] if len(fx) else np.zeros(0, np.int64)
    days = np.arange(D)

    def book(rows_: np.ndarray) -> None:
        delta = np.zeros((A, K, C, D))
        np.add.at(delta, (fx.account[rows_], fx_k[rows_], fx.buy_ccy[rows_], fx.value_day[rows_]), fx.buy_amount[rows_])
        np.add.at(delta, (fx.account[rows_], fx_k[rows_], fx.sell_ccy[rows_], fx.value_day[rows_]),
                  -fx.sell_amount[rows_])
        ladder[...] = ladder + np.cumsum(delta, axis=3)

    if K == 1:
        book(np.arange(len(fx)))
        return SimpleNamespace(ladder=ladder, ok=(ladder >= -1e-6).all(axis=(1, 2, 3)), transfers=Transfers.empty(),
                               fx_custody=fx_k, home=home)
    gave_on = np.zeros((A, K, C, D), dtype=bool)  # custody account k gave currency c on day d
    parts: list[tuple[np.ndarray, ...]] = []

    def move() -> None:
        for _ in range(D):  # passes: a later shortfall may need a later transfer, from cash arriving later
            moved = False
            for k in range(K):
                neg = ladder[:, k] < -EPS  # (A, C, D)
                if not neg.any():
                    continue
                need = _round_up(np.maximum(-ladder[:, k].min(axis=2), 0.0), minor[None, :])
                first_neg = np.argmax(neg, axis=2)
                in_time = t_ok[None, :, :] & (days[None, None, :] <= first_neg[:, :, None]) & neg.any(axis=2)[:, :, None]
                day = np.where(in_time.any(axis=2), D - 1 - np.argmax(in_time[:, :, ::-1], axis=2), -1)
                remaining = np.where(day >= 0, need, 0.0)
                d0 = np.maximum(day, 0)
                for j in range(K):
                    if j == k:
                        continue
                    spare = np.minimum.accumulate(ladder[:, j, :, ::-1], axis=2)[:, :, ::-1]  # kept from day d on
                    avail = np.take_along_axis(spare, d0[:, :, None], axis=2)[:, :, 0]
                    # whole minor units, unless the giver has just less spare than that (pooled cash at nil)
                    amt = np.minimum(remaining, np.maximum(avail, 0.0))
                    # net on the day: nothing goes back to a custody account that gave this currency then
                    back = np.take_along_axis(gave_on[:, k], d0[:, :, None], axis=2)[:, :, 0]
                    amt = np.where((day < 0) | back, 0.0, np.maximum(amt, 0.0))
                    ai, ci = np.nonzero(amt > EPS)
                    if len(ai) == 0:
                        continue
                    moved = True
                    from_day = (days[None, :] >= day[ai, ci][:, None]) * amt[ai, ci][:, None]
                    ladder[ai, j, ci, :] -= from_day
                    ladder[ai, k, ci, :] += from_day
                    remaining[ai, ci] -= amt[ai, ci]
                    gave_on[ai, j, ci, day[ai, ci]] = True
                    parts.append((ai, ci, np.full(len(ai), j), np.full(len(ai), k), amt[ai, ci], day[ai, ci]))
            if not moved:
                break

    book(np.nonzero(~selling)[0])
    move()
    fx_k = fx_k.copy()
    for d in unique_sorted(fx.value_day[selling]).tolist():  # each sale where the most is spare then
        si = np.nonzero(selling & (fx.value_day == d))[0]
        spare = np.minimum.accumulate(ladder[:, :, :, ::-1], axis=3)[:, :, :, ::-1][..., d]  # (A, K, C)
        spare = np.where(acc.custody_open[:, :, None], spare, -np.inf)
        fx_k[si] = np.argmax(spare[fx.account[si], :, foreign[si]], axis=1)
        book(si)
        move()
    # what a later sale brought in may make an earlier transfer (partly) unneeded: keep only what
    # the receiving custody account still lacks without it, latest transfers first
    for n in range(len(parts) - 1, -1, -1):
        ai, ci, fj, tk, amt, vd = parts[n]
        slack = np.minimum.accumulate(ladder[ai, tk, ci, ::-1], axis=1)[:, ::-1][np.arange(len(ai)), vd]
        x = np.minimum(_round_down(np.maximum(slack, 0.0), minor[ci]), amt)
        if (x > 0).any():
            back = (days[None, :] >= vd[:, None]) * x[:, None]
            np.add.at(ladder, (ai, tk, ci), -back)
            np.add.at(ladder, (ai, fj, ci), back)
            parts[n] = (ai, ci, fj, tk, amt - x, vd)
    parts = [tuple(p_[i][p_[4] > EPS] for i in range(6)) for p_ in parts]
    if parts:  # one transfer per (account, currency, giver, receiver, value day)
        ai, ci, fj, tk, amt, vd = (np.concatenate([part[i] for part in parts]) for i in range(6))
        key = (((ai * C + ci) * K + fj) * K + tk) * D + vd
        uniq = unique_sorted(key)
        pos = np.searchsorted(uniq, key)
        total_amt = np.bincount(pos, weights=amt, minlength=len(uniq))
        first = np.zeros(len(uniq), dtype=np.int64)
        first[pos[::-1]] = np.arange(len(key))[::-1]
        transfers = Transfers(ai[first].astype(np.int64), ci[first].astype(np.int64), fj[first].astype(np.int64),
                              tk[first].astype(np.int64), total_amt, vd[first].astype(np.int64))
    else:
        transfers = Transfers.empty()
    return SimpleNamespace(ladder=ladder, ok=(ladder >= -1e-6).all(axis=(1, 2, 3)), transfers=transfers,
                           fx_custody=fx_k, home=home)


def _fx_days(acc: Accounts, currencies: Currencies) -> tuple[np.ndarray, np.ndarray]:
    """(A, C, D) days an FX deal between the account's base and currency c may value: open in
    both currencies and not before the pair's spot date; and (A, C) the first such day (D if none)."""
    A = len(acc.base)
    C, D = currencies.open.shape
    days = np.arange(D)
    spot = np.asarray(currencies.pair_spot)[acc.base]  # (A, C)
    ok = currencies.open[None, :, :] & currencies.open[acc.base][:, None, :] & (days[None, None, :] >= spot[:, :, None])
    first = np.where(ok.any(axis=2), np.argmax(ok, axis=2), D)
    foreign = np.ones((A, C), dtype=bool)
    foreign[np.arange(A), acc.base] = False
    return ok & foreign[:, :, None], np.where(foreign, first, 0)


def _fund(acc: Accounts, currencies: Currencies, fx_to_base: np.ndarray, ctarget: np.ndarray, total: np.ndarray,
          sell_flow: np.ndarray, buy_local: np.ndarray, idx: Any, out: Any, p: Params,
          topup_scale: np.ndarray) -> Any:
    """Cash by value date after trades, plus the spot FX between each foreign currency and base.

    Every deal values on a day open in both currencies and not before the pair's spot date
    (`Currencies.pair_spot`): a shortfall before that day cannot be funded by FX, and the
    caller scales buys down until none is left.
    1. Buy foreign currency (one deal per account and currency) for a shortfall, valued on the
       latest good day not after the first short day (the first good day if none is that early),
       together with any top-up to the cash target; a top-up alone values on the first good day.
    2. Sweep what is above the currency's cash target back to base as it arrives: on each good
       day, the amount that stays above target from then on and has not been swept yet (smaller
       amounts than the minimum trade wait for the next good day).
    3. If base still goes short, sell foreign cash (down to nothing) for value on the latest
       good day not after the first short base day, currency by currency."""
    A, C, D = sell_flow.shape
    rows = np.arange(A)
    days = np.arange(D)
    buy_flow = np.bincount(idx.ravel(), weights=buy_local.ravel(), minlength=A * C * D).reshape(A, C, D)
    cash = acc.cash + np.cumsum(sell_flow - buy_flow, axis=2)
    base = acc.base
    foreign = np.ones((A, C), dtype=bool)
    foreign[rows, base] = False
    rate = fx_to_base  # base per unit of c
    minor = currencies.minor_units
    base_minor = minor[base][:, None]
    fx_ok, first_ok = _fx_days(acc, currencies)
    active = out[:, None] & foreign
    parts: list[tuple[np.ndarray, ...]] = []  # (account, currency, day, foreign amount, base amount, is_buy)

    # 1. buys of foreign currency: shortfalls, and top-ups to the cash target
    need = np.where(foreign, np.maximum(-cash.min(axis=2), 0.0), 0.0)
    want_final = ctarget * total[:, None] / np.where(rate > 0, rate, 1.0)
    desired = want_final - cash[:, :, D - 1]
    ts = np.asarray(topup_scale, dtype=float)
    ts = ts[:, None] if ts.ndim else ts
    topup = np.where(active, np.maximum(desired, 0.0) * ts, 0.0)
    buy_amt = _round_up(np.where(need > 0, np.maximum(need, topup), topup), minor[None, :])
    buy_amt = np.where(first_ok < D, buy_amt, 0.0)  # no good day on the grid: nothing to deal
    short_day = np.argmax(cash < -EPS, axis=2)
    in_time = fx_ok & (days[None, None, :] <= short_day[:, :, None]) & (need > 0)[:, :, None]
    buy_day = np.where(in_time.any(axis=2), D - 1 - np.argmax(in_time[:, :, ::-1], axis=2), np.minimum(first_ok, D - 1))
    base_pay = _round_up(buy_amt * rate, base_minor)
    bi, bc = np.nonzero(buy_amt > 0)
    delta = np.zeros((A, C, D))
    np.add.at(delta, (bi, bc, buy_day[bi, bc]), buy_amt[bi, bc])
    np.add.at(delta, (bi, base[bi], buy_day[bi, bc]), -base_pay[bi, bc])
    cash = cash + np.cumsum(delta, axis=2)
    parts.append((bi, bc, buy_day[bi, bc], buy_amt[bi, bc], base_pay[bi, bc], np.ones(len(bi), bool)))

    # 2. sweeps of surplus above the target, as it arrives
    keep = np.maximum(want_final, 0.0)
    rev_min = np.minimum.accumulate(cash[:, :, ::-1], axis=2)[:, :, ::-1]  # nondecreasing in d
    free = np.where(active[:, :, None], np.maximum(rev_min - keep[:, :, None], 0.0), 0.0)
    swept = np.zeros((A, C))
    sweep = np.zeros((A, C, D))
    for d in range(D):
        amount = np.where(fx_ok[:, :, d], _round_down(free[:, :, d] - swept, minor[None, :]), 0.0)
        amount = np.where((amount > 0) & (amount * rate >= acc.min_trade[:, None] - EPS)
                          & (_round_down(amount * rate, base_minor) > 0), amount, 0.0)
        sweep[:, :, d] = amount
        swept += amount
    si, sc, sd = np.nonzero(sweep > 0)
    sell_amt = sweep[si, sc, sd]
    base_get = _round_down(sell_amt * rate[si, sc], minor[base[si]])
    delta = np.zeros((A, C, D))
    np.add.at(delta, (si, sc, sd), -sell_amt)
    np.add.at(delta, (si, base[si], sd), base_get)
    cash = cash + np.cumsum(delta, axis=2)
    parts.append((si, sc, sd, sell_amt, base_get, np.zeros(len(si), bool)))

    # 3. base still short: sell foreign cash for value in time, currency by currency
    base_cash = cash[rows, base]  # (A, D)
    base_short = (base_cash < -EPS).any(axis=1) & out
    if base_short.any():
        short_at = np.argmax(base_cash < -EPS, axis=1)
        remaining = np.where(base_short, np.maximum(-base_cash.min(axis=1), 0.0), 0.0)
        for c in range(C):
            ok = fx_ok[:, c, :] & (days[None, :] <= short_at[:, None])
            day = np.where(ok.any(axis=1), D - 1 - np.argmax(ok[:, ::-1], axis=1), -1)
            avail = np.where(day >= 0, np.minimum.accumulate(cash[:, c, ::-1], axis=1)[:, ::-1][rows, np.maximum(day, 0)],
                             0.0)
            r = rate[:, c]
            amount = np.minimum(np.maximum(avail, 0.0), _round_up(remaining / np.where(r > 0, r, 1.0), minor[c]))
            amount = _round_down(np.where(base_short & (remaining > EPS) & (day >= 0), amount, 0.0), minor[c])
            get = _round_down(amount * r, minor[base])
            amount = np.where(get > 0, amount, 0.0)
            ri = np.nonzero(amount > 0)[0]
            if len(ri):
                from_day = days[None, :] >= day[ri][:, None]
                cash[ri, c, :] -= from_day * amount[ri, None]
                cash[ri, base[ri], :] += from_day * get[ri, None]
                remaining[ri] -= get[ri]
                parts.append((ri, np.full(len(ri), c), day[ri], amount[ri], get[ri], np.zeros(len(ri), bool)))

    ai, ci, vd, famt, bamt, is_buy = (np.concatenate([part[k] for part in parts]) for k in range(6))
    ai, ci, vd = ai.astype(np.int64), ci.astype(np.int64), vd.astype(np.int64)
    is_buy = is_buy.astype(bool)
    fx = FxOrders(
        account=ai,
        buy_ccy=np.where(is_buy, ci, base[ai]),
        sell_ccy=np.where(is_buy, base[ai], ci),
        buy_amount=np.where(is_buy, famt, bamt),
        sell_amount=np.where(is_buy, bamt, famt),
        rate=np.where(is_buy, rate[ai, ci], 1.0 / np.where(rate[ai, ci] > 0, rate[ai, ci], 1.0)),
        value_day=vd,
        kind=np.zeros(len(ai), dtype=np.int8),
    )
    order = np.lexsort((vd, ci, ai))
    fx = FxOrders(*(getattr(fx, f)[order] for f in ("account", "buy_ccy", "sell_ccy", "buy_amount",
                                                       "sell_amount", "rate", "value_day", "kind")))
    return cash, fx


def _relieve_lots(lots: TaxLots, acc: Accounts, sells: np.ndarray, share_base: np.ndarray, listings: Listings,
                  n_listings: int, p: Params) -> Any:
    """Allocate sell quantities to tax lots in the account's order; vectorised by group."""
    if len(lots.qty) == 0 or not (sells > 0).any():
        z = np.zeros(0, dtype=np.int64)
        return z, z, np.zeros(0), np.zeros(0)
    A, S = sells.shape
    slot = _slot_of(acc.slot_listing, lots.account, lots.listing, n_listings)
    has = slot >= 0
    li = np.nonzero(has)[0]
    la, ls = lots.account[li], slot[li]
    sell = sells[la, ls]
    li, la, ls, sell = li[sell > 0], la[sell > 0], ls[sell > 0], sell[sell > 0]
    if len(li) == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z, np.zeros(0), np.zeros(0)
    cost = lots.cost[li]
    price = share_base[la, ls]
    gain_ps = price - cost
    long_term = (p.trade_day - lots.acquired[li]) > p.long_term_days
    tax_ps = gain_ps * np.where(long_term, p.lt_rate, p.st_rate)
    method = acc.lot_method[la]
    rank = np.where(method == FIFO, lots.acquired[li].astype(float),
                    np.where(method == HIFO, -cost, tax_ps))
    group = la * S + ls
    order = np.lexsort((li, rank, group))
    li, la, ls, group, sell, gain_ps = li[order], la[order], ls[order], group[order], sell[order], gain_ps[order]
    q = lots.qty[li]
    cum = np.cumsum(q)
    start = np.r_[True, group[1:] != group[:-1]]
    offset = np.maximum.accumulate(np.where(start, cum - q, 0.0))
    before = cum - q - offset
    relieved = np.clip(sell - before, 0.0, q)
    take = relieved > EPS
    return li[take], group[take], relieved[take], relieved[take] * gain_ps[take]


def _hedge(acc: Accounts, currencies: Currencies, fx_to_base: np.ndarray, new_qty: np.ndarray,
           share_local: np.ndarray, ccy: np.ndarray, cash: np.ndarray, p: Params) -> Any:
    """FX forwards keeping hedge_ratio of each foreign exposure sold forward against base."""
    A, C, D = cash.shape
    rows = np.arange(A)
    if not (acc.hedge_ratio > 0).any() and not (acc.forward_notional != 0).any():
        return _empty_fx()
    local = new_qty * share_local
    exposure = np.bincount((rows[:, None] * C + ccy).ravel(), weights=local.ravel(), minlength=A * C).reshape(A, C)
    exposure += cash[:, :, D - 1]
    foreign = np.ones((A, C), dtype=bool)
    foreign[rows, acc.base] = False
    wanted = -acc.hedge_ratio[:, None] * exposure  # foreign sold forward is negative
    current = acc.forward_notional
    rolling = (acc.forward_maturity <= p.roll_window) & (current != 0)
    gap = wanted - current
    adjust = np.abs(gap) > acc.hedge_band[:, None] * np.abs(exposure) + EPS
    amount = np.where(rolling, wanted, np.where(adjust, gap, 0.0))
    amount = np.where(foreign, amount, 0.0)
    minor = currencies.minor_units[None, :]
    amount = np.sign(amount) * _round_down(np.abs(amount), minor)
    ai, ci = np.nonzero(amount != 0)
    amt = amount[ai, ci]
    rate = fx_to_base[ai, ci]
    base = acc.base[ai]
    buy = amt > 0
    base_minor = currencies.minor_units[base]
    base_amt = _round_down(np.abs(amt) * rate, base_minor)
    return FxOrders(
        account=ai, buy_ccy=np.where(buy, ci, base), sell_ccy=np.where(buy, base, ci),
        buy_amount=np.where(buy, amt, base_amt), sell_amount=np.where(buy, base_amt, -amt),
        rate=np.where(buy, rate, 1.0 / rate), value_day=np.full(len(ai), p.forward_day),
        kind=np.where(rolling[ai, ci], 2, 1).astype(np.int8),
    )


def _empty_fx() -> FxOrders:
    z = np.zeros(0, dtype=np.int64)
    return FxOrders(z, z, z, np.zeros(0), np.zeros(0), np.zeros(0), z, z.astype(np.int8))
