"""The engine's rules, one at a time, on small hand-made books (no database)."""
from __future__ import annotations

import numpy as np

from trading.rebalancing.engine import FIFO, HIFO, LOWEST_TAX, LossSales, Params, TaxLots, rebalance

from .engine_builders import accounts, cash_ladder, currencies, listings

DAY = 739000


def usd_only():
    return currencies(["USD"], [1.0])


def test_a_us_household_does_not_buy_back_what_one_of_its_accounts_sells_at_a_loss():
    """Account 0 must sell its ordinary (ineligible now) at a loss; account 1 in the same
    household would buy the ADR of the same company (substantially identical): blocked. Account
    2, same household but not a US taxpayer, may buy it."""
    cur = usd_only()
    lst = listings([dict(price=10.0, ccy=0, underlying=7, settle=1),  # ordinary
                    dict(price=40.0, ccy=0, underlying=7, ratio=4.0, settle=1)])  # ADR of 4 ordinaries
    acc = accounts(
        [0, 0, 0], [[0, 1]] * 3, [[1000, 0], [0, 0], [0, 0]], [[0.0, 0.0], [0.0, 0.5], [0.0, 0.5]],
        cash_ladder([[0.0], [20_000.0], [20_000.0]]),
        household=np.array([5, 5, 5]), us_taxpayer=np.array([True, True, False]),
    )
    lots = TaxLots(np.array([0]), np.array([0]), np.array([1000.0]), np.array([15.0]), np.array([DAY - 100]))
    r = rebalance(lst, cur, acc, lots, params=Params(trade_day=DAY))
    o = r.orders
    got = sorted(zip(o.account.tolist(), o.listing.tolist(), o.side.tolist(), o.qty.tolist()))
    assert got == [(0, 0, -1, 1000.0), (2, 1, 1, 250.0)]
    assert bool(o.loss_sale[0]) and round(float(o.realized_gain[0]), 2) == -5000.0
    assert r.wash_blocked[1, 1]


def test_a_loss_sale_29_days_ago_blocks_the_purchase_and_one_31_days_ago_does_not():
    cur = usd_only()
    lst = listings([dict(price=10.0, ccy=0, underlying=3, settle=1)])
    acc = accounts([0], [[0]], [[0]], [[0.9]], cash_ladder([[10_000.0]]), household=np.array([1]),
                   us_taxpayer=np.array([True]))
    recent = LossSales(np.array([1]), np.array([3]), np.array([DAY - 29]))
    old = LossSales(np.array([1]), np.array([3]), np.array([DAY - 31]))
    assert len(rebalance(lst, cur, acc, loss_sales=recent, params=Params(trade_day=DAY)).orders) == 0
    assert rebalance(lst, cur, acc, loss_sales=old, params=Params(trade_day=DAY)).orders.qty.tolist() == [900.0]


def _lot_choice(method):
    cur = usd_only()
    lst = listings([dict(price=100.0, ccy=0, settle=1)])
    acc = accounts([0], [[0]], [[300]], [[0.0]], cash_ladder([[0.0]]), lot_method=np.array([method]))
    # oldest: cheap (big gain, long term); middle: dear (loss); newest: small gain, short term
    lots = TaxLots(np.zeros(3, int), np.zeros(3, int), np.array([100.0, 100.0, 100.0]),
                   np.array([20.0, 130.0, 95.0]), np.array([DAY - 2000, DAY - 900, DAY - 10]))
    acc.target[:] = 0.0
    acc.qty[:] = 300
    # sell only 100 of 300: target one third
    acc.target[0, 0] = 200 * 100.0 / 30_000.0
    r = rebalance(lst, cur, acc, lots, params=Params(trade_day=DAY))
    assert r.orders.qty.tolist() == [100.0]
    return r.reliefs.lot.tolist()


def test_lots_are_relieved_first_in_first_out_highest_cost_or_lowest_tax():
    assert _lot_choice(FIFO) == [0]
    assert _lot_choice(HIFO) == [1]
    assert _lot_choice(LOWEST_TAX) == [1]  # the loss saves the most tax


def test_lowest_tax_prefers_a_long_term_gain_to_a_larger_short_term_one():
    cur = usd_only()
    lst = listings([dict(price=100.0, ccy=0, settle=1)])
    acc = accounts([0], [[0]], [[200]], [[0.5]], cash_ladder([[0.0]]), lot_method=np.array([LOWEST_TAX]))
    # long-term gain 30 x 0.20 = 6 a share; short-term gain 25 x 0.37 = 9.25 a share
    lots = TaxLots(np.zeros(2, int), np.zeros(2, int), np.array([100.0, 100.0]), np.array([70.0, 75.0]),
                   np.array([DAY - 800, DAY - 30]))
    r = rebalance(lst, cur, acc, lots, params=Params(trade_day=DAY))
    assert r.reliefs.lot.tolist() == [0]


def test_restricted_listings_are_sold_down_and_their_weight_stays_in_cash():
    cur = usd_only()
    lst = listings([dict(price=50.0, ccy=0, settle=1), dict(price=20.0, ccy=0, settle=1)])
    acc = accounts([0], [[0, 1]], [[100, 0]], [[0.5, 0.5]], cash_ladder([[5_000.0]]),
                   restricted=np.array([[True, False]]))
    r = rebalance(lst, cur, acc, params=Params(trade_day=DAY))
    got = list(zip(r.orders.listing.tolist(), r.orders.side.tolist(), r.orders.qty.tolist()))
    assert got == [(0, -1, 100.0), (1, 1, 250.0)]


def test_trades_below_the_minimum_value_or_improvement_are_dropped():
    cur = usd_only()
    lst = listings([dict(price=100.0, ccy=0, settle=1, lot=1), dict(price=1000.0, ccy=0, settle=1, lot=10)])
    # listing 0 is 4 shares under target (400 < 500 minimum); listing 1 is 15 shares under target
    # but lots of 10 only remove 10 of 15 (67%), under an 80% improvement rule
    acc = accounts([0], [[0, 1]], [[96, 0]], [[0.1, 0.15]], cash_ladder([[90_400.0]]),
                   min_trade=np.array([500.0]), min_improvement=np.array([0.8]))
    r = rebalance(lst, cur, acc, params=Params(trade_day=DAY))
    assert len(r.orders) == 0 and r.out_of_band[0]


def test_accounts_inside_their_bands_are_left_alone():
    cur = usd_only()
    lst = listings([dict(price=100.0, ccy=0, settle=1)])
    acc = accounts([0], [[0]], [[590]], [[0.6]], cash_ladder([[41_000.0]]), band_abs=np.array([0.02]),
                   band_rel=np.array([0.0]))
    r = rebalance(lst, cur, acc, params=Params(trade_day=DAY))
    assert not r.out_of_band[0] and len(r.orders) == 0 and len(r.fx) == 0


def test_hedge_forwards_sell_the_hedged_share_of_foreign_exposure_and_roll_maturing_ones():
    cur = currencies(["GBP", "USD"], [1.25, 1.0])
    lst = listings([dict(price=100.0, ccy=1, settle=1)])
    cash = cash_ladder([[1_000.0, 0.0]], days=8)
    # 1,000 shares at 100 USD = 100,000 USD exposure; hedge half
    acc = accounts([0], [[0]], [[1000]], [[0.98]], cash, hedge_ratio=np.array([0.5]), hedge_band=np.array([0.05]),
                   band_abs=np.array([0.5]))
    r = rebalance(lst, cur, acc, params=Params(trade_day=DAY))
    f = r.forwards
    assert (f.sell_ccy.tolist(), f.sell_amount.tolist(), f.buy_ccy.tolist(), f.buy_amount.tolist()) == (
        [1], [50_000.0], [0], [40_000.0])
    assert f.kind.tolist() == [1]
    # already hedged within the band: nothing; maturing in 3 days: rolled in full
    acc.forward_notional = np.array([[0.0, -48_000.0]])
    assert len(rebalance(lst, cur, acc, params=Params(trade_day=DAY)).forwards) == 0
    acc.forward_maturity = np.array([[1 << 30, 3]])
    rolled = rebalance(lst, cur, acc, params=Params(trade_day=DAY)).forwards
    assert rolled.kind.tolist() == [2] and rolled.sell_amount.tolist() == [50_000.0]


def test_a_frozen_restricted_holding_is_neither_bought_nor_sold_and_does_not_count_as_drift():
    cur = usd_only()
    lst = listings([dict(price=50.0, ccy=0, settle=1), dict(price=20.0, ccy=0, settle=1)])
    # 40% in a frozen line the model does not hold; the rest follows the model
    acc = accounts([0], [[0, 1]], [[800, 3000]], [[0.0, 0.98]], cash_ladder([[0.0]]),
                   restricted=np.array([[True, False]]), frozen=np.array([[True, False]]))
    r = rebalance(lst, cur, acc, params=Params(trade_day=DAY))
    assert 0 not in r.orders.listing.tolist()
    assert r.effective_target[0, 0] == 0.4


def _fx(r, codes):
    f = r.fx
    return [(codes[f.buy_ccy[i]], round(float(f.buy_amount[i]), 2), codes[f.sell_ccy[i]],
             round(float(f.sell_amount[i]), 2), int(f.value_day[i])) for i in range(len(f))]


def test_base_cash_short_before_spot_is_not_met_by_fx_for_value_before_spot_the_buy_is_cut():
    """USD account: 1,000 USD and 200,000 JPY (100 JPY a dollar, so 2,000 USD); USD/JPY spot is
    day 2. The model wants 90% in a US share at 10 USD settling on day 1: 0.9 x 3,000 = 2,700
    USD = 270 shares. JPY cannot become USD before day 2, so only the 1,000 USD there on day 1
    pay: 100 shares. The JPY (target 0) is swept back on day 2, spot: 2,000 USD."""
    cur = currencies(["USD", "JPY"], [1.0, 0.01], spot_day=np.array([0, 2]), minor=[2, 0])
    lst = listings([dict(price=10.0, ccy=0, settle=1)])
    acc = accounts([0], [[0]], [[0]], [[0.9]], cash_ladder([[1_000.0, 200_000.0]]))
    r = rebalance(lst, cur, acc, params=Params(trade_day=DAY))
    assert list(zip(r.orders.side.tolist(), r.orders.qty.tolist(), r.orders.settle_day.tolist())) == [(1, 100.0, 1)]
    assert _fx(r, cur.codes) == [("USD", 2_000.00, "JPY", 200_000.00, 2)]
    assert r.cash_after[0, 0, :3].round(2).tolist() == [1_000.00, 0.00, 2_000.00]
    assert r.buy_scale[0] < 1.0


def test_surplus_foreign_cash_is_swept_back_as_each_sale_settles():
    """USD account holding 100 each of two EUR shares at 10 EUR (1 EUR = 2 USD), both now out of
    the model. The sales settle on days 2 and 4 (spot is day 2): 1,000 EUR swept on day 2 and
    1,000 EUR on day 4, 2,000 USD each, rather than one deal when the last sale settles."""
    cur = currencies(["USD", "EUR"], [1.0, 2.0], spot_day=np.array([0, 2]))
    lst = listings([dict(price=10.0, ccy=1, settle=2), dict(price=10.0, ccy=1, settle=4)])
    acc = accounts([0], [[0, 1]], [[100, 100]], [[0.0, 0.0]], cash_ladder([[0.0, 0.0]]))
    r = rebalance(lst, cur, acc, params=Params(trade_day=DAY))
    assert sorted(r.orders.qty.tolist()) == [100.0, 100.0] and (r.orders.side < 0).all()
    assert _fx(r, cur.codes) == [("USD", 2_000.00, "EUR", 1_000.00, 2), ("USD", 2_000.00, "EUR", 1_000.00, 4)]
    assert r.cash_after[0, 1, :].round(2).tolist() == [0.0] * 8
    assert r.cash_after[0, 0, :5].round(2).tolist() == [0.00, 0.00, 2_000.00, 2_000.00, 4_000.00]


def test_a_foreign_shortfall_and_a_later_surplus_make_a_buy_then_a_sweep():
    """USD account, 3,000 USD. Sells 100 EUR shares at 10 EUR settling day 4 and buys 100 of
    another at 10 EUR settling day 2 (1 EUR = 2 USD; spot day 2). EUR is short 1,000 on day 2:
    bought for value day 2 (2,000 USD); the 1,000 EUR from the sale on day 4 go back to USD."""
    cur = currencies(["USD", "EUR"], [1.0, 2.0], spot_day=np.array([0, 2]))
    lst = listings([dict(price=10.0, ccy=1, settle=4), dict(price=10.0, ccy=1, settle=2)])
    # total 3,000 + 2,000 = 5,000 USD; second share's target 2,000 USD = 100 shares
    acc = accounts([0], [[0, 1]], [[100, 0]], [[0.0, 0.4]], cash_ladder([[3_000.0, 0.0]]))
    r = rebalance(lst, cur, acc, params=Params(trade_day=DAY))
    assert sorted(zip(r.orders.listing.tolist(), r.orders.side.tolist(), r.orders.qty.tolist())) == [
        (0, -1, 100.0), (1, 1, 100.0)]
    assert _fx(r, cur.codes) == [("EUR", 1_000.00, "USD", 2_000.00, 2), ("USD", 2_000.00, "EUR", 1_000.00, 4)]
    assert r.cash_after[0, 0, :5].round(2).tolist() == [3_000.00, 3_000.00, 1_000.00, 1_000.00, 3_000.00]


def _trades(r):
    o = r.orders
    return sorted(zip(o.listing.tolist(), o.side.tolist(), o.qty.tolist()))


def test_trading_only_the_lines_out_of_band_leaves_the_lines_inside_alone():
    """Three USD shares at 10, targets 30% each and 10% cash, bands 2 points (no relative band).
    Holdings 400 / 310 / 190 shares and 1,000 USD: weights 40% / 31% / 19% / 10% of 10,000.
    Whole account: sell 100 of the first, sell 10 of the second, buy 110 of the third.
    Only lines out of band: the second (1 point off) is left: sell 100, buy 110."""
    cur = usd_only()
    lst = listings([dict(price=10.0, ccy=0, settle=1)] * 3)
    base = dict(band_abs=np.array([0.02]), band_rel=np.array([0.0]))
    args = ([0], [[0, 1, 2]], [[400, 310, 190]], [[0.3, 0.3, 0.3]], cash_ladder([[1_000.0]]))
    whole = rebalance(lst, cur, accounts(*args, **base), params=Params(trade_day=DAY))
    assert _trades(whole) == [(0, -1, 100.0), (1, -1, 10.0), (2, 1, 110.0)]
    only = rebalance(lst, cur, accounts(*args, lines_only=np.array([True]), **base), params=Params(trade_day=DAY))
    assert _trades(only) == [(0, -1, 100.0), (2, 1, 110.0)]
    assert only.cash_after[0, 0, -1] == 900.0  # 1,000 + 1,000 - 1,100


def test_with_cash_out_of_band_only_the_lines_that_bring_it_back_trade():
    """Targets 30% / 30% / 30% / cash 10%; bands 2 points or half the target (lines 15 points,
    cash 5). Holdings 252 / 252 / 396 at 10 USD and 3,000 USD: 21% / 21% / 33% / 25% of 12,000.
    Every line is inside its band, cash is 15 points over. Targets 3,600 USD = 360 shares.
    Whole account: buy 108, buy 108, sell 36. Only lines out of band: cash is high, so the
    underweight lines are bought (108 each) and the overweight third is not sold: 840 USD left."""
    cur = usd_only()
    lst = listings([dict(price=10.0, ccy=0, settle=1)] * 3)
    base = dict(band_abs=np.array([0.02]), band_rel=np.array([0.5]))
    args = ([0], [[0, 1, 2]], [[252, 252, 396]], [[0.3, 0.3, 0.3]], cash_ladder([[3_000.0]]))
    whole = rebalance(lst, cur, accounts(*args, **base), params=Params(trade_day=DAY))
    assert _trades(whole) == [(0, 1, 108.0), (1, 1, 108.0), (2, -1, 36.0)]
    only = rebalance(lst, cur, accounts(*args, lines_only=np.array([True]), **base), params=Params(trade_day=DAY))
    assert _trades(only) == [(0, 1, 108.0), (1, 1, 108.0)]
    assert only.cash_after[0, 0, -1] == 840.0
