"""Property-based tests of the rebalancing engine's invariants (no database)."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trading.rebalancing.engine import Accounts, LossSales, Params, TaxLots, rebalance

from .engine_builders import currencies, listings

D = 8
CODES = ["GBP", "USD", "JPY", "EUR"]
FX = [1.25, 1.0, 1 / 150, 1.08]
MINOR = [2, 2, 0, 2]


@st.composite
def books(draw, generous_cash=False, restrictions=True):
    n_ccy = draw(st.integers(1, 4))
    # holidays and spot lags (T+1 or T+2 per currency; a pair values from the later of its two);
    # a book where cash is to allow every trade keeps to T+2 and open days, so FX can be in time
    closed = draw(st.lists(st.tuples(st.integers(0, n_ccy - 1), st.integers(1, D - 1)),
                           max_size=0 if generous_cash else 3))
    spot = [2] * n_ccy if generous_cash else [draw(st.sampled_from([1, 2, 2])) for _ in range(n_ccy)]
    cur = currencies(CODES[:n_ccy], FX[:n_ccy], spot_day=np.array(spot), days=D, minor=MINOR[:n_ccy],
                     closed=[(CODES[c], d) for c, d in closed])
    n_l = draw(st.integers(2, 7))
    rows = []
    for i in range(n_l):
        c = draw(st.integers(0, n_ccy - 1))
        unit = draw(st.sampled_from([1.0, 1.0, 100.0]))
        price = draw(st.floats(1, 400)) * (150 if CODES[c] == "JPY" else 1) * unit
        rows.append(dict(
            price=round(price, 2), ccy=c, unit=unit,
            lot=draw(st.sampled_from([1.0, 1.0, 10.0, 100.0] if not generous_cash else [1.0, 5.0])),
            frac=draw(st.booleans()), underlying=draw(st.integers(0, max(n_l - 2, 0))),
            ratio=draw(st.sampled_from([1.0, 1.0, 2.0, 0.5])),
            settle=draw(st.integers(2, 3) if generous_cash else st.integers(0, 3)),
        ))
    for r in rows:  # substitutes share the underlying
        same = [j for j, o in enumerate(rows) if o["underlying"] == r["underlying"] and o is not r]
        r["substitute"] = same[0] if same else -1
    lst = listings(rows)
    if generous_cash:  # small lots relative to the account so bands are reachable
        lst.price = np.minimum(lst.price, 50.0 * lst.price_unit / np.asarray(FX[:n_ccy])[lst.currency] * FX[1])

    n_a = draw(st.integers(1, 5))
    slots = np.tile(np.arange(n_l), (n_a, 1))
    qty = np.array([[draw(st.sampled_from([0, 0, 1, 7, 100, 250, 1000])) for _ in range(n_l)] for _ in range(n_a)],
                   dtype=float)
    raw = np.array([[draw(st.sampled_from([0.0, 0.0, 1.0, 2.0, 3.0])) for _ in range(n_l)] for _ in range(n_a)])
    raw_sum = raw.sum(axis=1, keepdims=True)
    target = np.where(raw_sum > 0, raw / np.where(raw_sum > 0, raw_sum, 1) * 0.95, 0.0)
    base = np.array([draw(st.integers(0, n_ccy - 1)) for _ in range(n_a)])
    scale = 1e7 if generous_cash else 1e5
    settled = np.array([[draw(st.floats(0, 1)) * scale / FX[c] for c in range(n_ccy)] for _ in range(n_a)])
    if generous_cash:
        settled[np.arange(n_a), base] += 5e7 / np.asarray(FX)[base]
    cash = np.repeat(settled[:, :, None], D, axis=2)
    for a in range(n_a):
        for _ in range(0 if generous_cash else draw(st.integers(0, 2))):
            c, d = draw(st.integers(0, n_ccy - 1)), draw(st.integers(1, D - 1))
            cash[a, c, d:] += draw(st.floats(0, scale)) / FX[c]
    restricted = np.zeros((n_a, n_l), bool)
    ineligible = np.zeros((n_a, n_l), bool)
    if restrictions:
        restricted = np.array([[draw(st.integers(0, 5)) == 0 for _ in range(n_l)] for _ in range(n_a)])
        ineligible = np.array([[draw(st.integers(0, 5)) == 0 for _ in range(n_l)] for _ in range(n_a)])
    household = np.array([draw(st.integers(0, 2)) for _ in range(n_a)])
    us = np.array([draw(st.booleans()) for _ in range(n_a)]) if restrictions else np.zeros(n_a, bool)
    acc = Accounts(
        base=base, slot_listing=slots, qty=qty, target=target, cash=cash,
        restricted=restricted, ineligible=ineligible,
        band_abs=np.full(n_a, 0.02 if generous_cash else draw(st.sampled_from([0.0, 0.01, 0.05]))),
        band_rel=np.full(n_a, draw(st.sampled_from([0.0, 0.2]))),
        min_trade=np.full(n_a, 0.0 if generous_cash else draw(st.sampled_from([0.0, 50.0, 500.0]))),
        min_improvement=np.full(n_a, 0.0 if generous_cash else draw(st.sampled_from([0.0, 0.5]))),
        household=household, us_taxpayer=us, lot_method=np.array([draw(st.integers(0, 2)) for _ in range(n_a)]),
    )
    # tax lots: each position split into up to three lots with random costs
    la, ll, lq, lc, ld = [], [], [], [], []
    for a in range(n_a):
        for j in range(n_l):
            q = qty[a, j]
            parts = draw(st.integers(1, 3))
            for k in range(parts):
                part = q // parts + (q % parts if k == 0 else 0)
                if part > 0:
                    la.append(a)
                    ll.append(j)
                    lq.append(part)
                    lc.append(draw(st.floats(0.1, 600)))
                    ld.append(739000 - draw(st.integers(0, 900)))
    lots = TaxLots(np.array(la, int), np.array(ll, int), np.array(lq, float), np.array(lc, float),
                   np.array(ld, int))
    n_hist = draw(st.integers(0, 3))
    hist = LossSales(np.array([draw(st.integers(0, 2)) for _ in range(n_hist)], dtype=np.int64),
                     np.array([draw(st.integers(0, n_l - 1)) for _ in range(n_hist)], dtype=np.int64),
                     np.array([739000 - draw(st.integers(0, 60)) for _ in range(n_hist)], dtype=np.int64))
    return lst, cur, acc, lots, hist


def run(book, **kw):
    lst, cur, acc, lots, hist = book
    return rebalance(lst, cur, acc, lots, hist, Params(trade_day=739000, **kw))


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(books(), st.sampled_from([0.0, 0.01]))
def test_no_currency_is_negative_on_any_value_date_after_the_trades_settle(book, buffer):
    result = run(book, price_buffer=buffer)
    assert (result.cash_after >= -1e-6).all()
    # the ladder is rebuilt independently from the orders and FX
    lst, cur, acc, _, _ = book
    A, C, Dd = acc.cash.shape
    ladder = acc.cash.copy()
    o = result.orders
    local = o.qty * lst.price[o.listing] / lst.price_unit[o.listing] * np.where(o.side > 0, 1 + buffer, 1.0)
    for i in range(len(o)):
        ladder[o.account[i], o.currency[i], o.settle_day[i]:] -= o.side[i] * local[i]
    f = result.fx
    for i in range(len(f)):
        ladder[f.account[i], f.buy_ccy[i], f.value_day[i]:] += f.buy_amount[i]
        ladder[f.account[i], f.sell_ccy[i], f.value_day[i]:] -= f.sell_amount[i]
    assert (ladder >= -1e-6).all()


@SETTINGS
@given(books())
def test_fx_never_values_before_the_pairs_spot_date_nor_on_a_day_either_currency_is_shut(book):
    _, cur, _, _, _ = book
    f = run(book).fx
    for i in range(len(f)):
        b, s_, d = int(f.buy_ccy[i]), int(f.sell_ccy[i]), int(f.value_day[i])
        assert d >= cur.pair_spot[b, s_], (d, cur.pair_spot[b, s_])
        assert cur.open[b, d] and cur.open[s_, d]


@SETTINGS
@given(books())
def test_surplus_foreign_cash_is_swept_back_to_base_down_to_its_target(book):
    """An out-of-band account ends with no more of a foreign currency than its cash target (0
    here) plus what is too small to trade, whenever the pair can still deal on the last day of the
    grid (later arrivals are swept by a later run)."""
    _, cur, acc, _, _ = book
    r = run(book)
    A, C, Dd = acc.cash.shape
    fx_to_base = cur.fx[None, :] / cur.fx[acc.base][:, None]
    for a in np.nonzero(r.out_of_band)[0]:
        b = int(acc.base[a])
        for c in range(C):
            if c == b or not (cur.open[b, Dd - 1] and cur.open[c, Dd - 1]):
                continue
            too_small = max(acc.min_trade[a] / fx_to_base[a, c], 1.0) + 10.0 ** -cur.minor_units[c]
            assert r.cash_after[a, c, Dd - 1] <= too_small + 1e-6, (a, c, r.cash_after[a, c, Dd - 1])


@SETTINGS
@given(books())
def test_order_quantities_are_whole_lots_unless_fractional_or_a_full_exit(book):
    lst, _, acc, _, _ = book
    o = run(book).orders
    for i in range(len(o)):
        lot = lst.lot_size[o.listing[i]]
        if lst.allows_fractional[o.listing[i]]:
            continue
        slot = list(acc.slot_listing[o.account[i]]).index(o.listing[i])
        full_exit = o.side[i] < 0 and abs(o.qty[i] - acc.qty[o.account[i], slot]) < 1e-9
        assert full_exit or abs(o.qty[i] / lot - round(o.qty[i] / lot)) < 1e-9, (o.qty[i], lot)
        assert o.qty[i] > 0


@SETTINGS
@given(books())
def test_restricted_and_ineligible_listings_are_never_bought(book):
    _, _, acc, _, _ = book
    o = run(book).orders
    for i in np.nonzero(o.side > 0)[0]:
        slot = list(acc.slot_listing[o.account[i]]).index(o.listing[i])
        assert not acc.restricted[o.account[i], slot]
        assert not acc.ineligible[o.account[i], slot]


@SETTINGS
@given(books())
def test_sells_come_before_buys(book):
    side = run(book).orders.side
    assert not (np.diff(side) < 0).any()


@SETTINGS
@given(books())
def test_no_us_taxpayer_buys_an_underlying_its_household_sold_at_a_loss_within_30_days(book):
    lst, _, acc, _, hist = book
    r = run(book)
    o = r.orders
    lost = {(int(h), int(u)) for h, u, d in zip(hist.household, hist.underlying, hist.day) if d >= 739000 - 30}
    for i in np.nonzero(o.loss_sale)[0]:
        if acc.us_taxpayer[o.account[i]]:
            lost.add((int(acc.household[o.account[i]]), int(lst.underlying[o.listing[i]])))
    for i in np.nonzero(o.side > 0)[0]:
        if acc.us_taxpayer[o.account[i]]:
            assert (int(acc.household[o.account[i]]), int(lst.underlying[o.listing[i]])) not in lost


@SETTINGS
@given(books())
def test_loss_sales_are_flagged_from_the_lots_relieved(book):
    lst, _, acc, lots, _ = book
    r = run(book)
    o, rel = r.orders, r.reliefs
    for i in np.nonzero(o.side < 0)[0]:
        mine = rel.order == i
        assert rel.qty[mine].sum() <= o.qty[i] + 1e-9
        assert o.loss_sale[i] == bool((rel.gain[mine] < -1e-9).any())
    assert (rel.qty <= lots.qty[rel.lot] + 1e-9).all()


@SETTINGS
@given(books(generous_cash=True, restrictions=False))
def test_out_of_band_accounts_end_inside_their_bands_when_cash_allows(book):
    lst, cur, acc, _, _ = book
    r = run(book)
    assert (r.buy_scale == 1.0).all()
    for a in np.nonzero(r.out_of_band)[0]:
        dev = np.abs(r.weights_after[a] - r.effective_target[a])
        # listings that cannot settle today's trade stay where they are
        tradable = lst.settle_day[acc.slot_listing[a]] >= 0
        assert (dev[tradable] <= r.band[a][tradable] + 1e-9).all(), (dev, r.band[a])
