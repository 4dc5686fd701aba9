"""A worked multi-currency rebalance, with the expected trades written out by hand.

A GBP-based account at two custodians: NORTHBANK settles New York and London, HARBOUR settles
Tokyo and Hong Kong. Trade date Monday 22 September 2025; Tuesday 23 September is a Japanese
holiday (Autumnal Equinox), so a Tokyo T+2 trade settles on Thursday 25 September and JPY
does not value on the 23rd.

FX (GBP per unit): USD 0.80, JPY 0.005, HKD 0.10.

| # | listing              | market | ccy | price          | lot | GBP per share | settles |
|---|----------------------|--------|-----|----------------|-----|---------------|---------|
| 0 | AAPL                 | XNYS   | USD | 200.00         | 1   | 160.00        | 23 Sep (T+1) |
| 1 | VOD (GBp quote)      | XLON   | GBP | 80 pence       | 1   | 0.80          | 24 Sep (T+2) |
| 2 | 7203 Toyota ordinary | XTKS   | JPY | 2,800          | 100 | 14.00         | 25 Sep (T+2, holiday) |
| 3 | 0005 HSBC            | XHKG   | HKD | 100.00         | 400 | 10.00         | 24 Sep (T+2) |
| 4 | TM Toyota ADR (x10)  | XNYS   | USD | 180.00         | 1   | 144.00        | 23 Sep (T+1) |

Holdings: AAPL 100 (16,000), VOD 10,000 (8,000), 7203 1,000 (14,000), 0005 800 (8,000),
GBP cash 24,000 settled. Total 70,000 GBP.

Model: AAPL 18%, VOD 12%, 7203 25%, 0005 27%. The account may not hold Tokyo ordinaries
(ineligible), so the ADR substitutes with the ratio applied: the same 1,250 Toyota shares'
worth of exposure = 0.25 x 70,000 / 14 = 1,250 ordinaries = 125 ADRs (18,000 GBP; the ADR's
premium makes that 25.71% of the account, and base cash absorbs the difference).

Bands 2% absolute / 20% relative; minimum trade 500 GBP; a trade must remove half of a
deviation. Lots: HIFO.

By hand:
- AAPL: target 0.18 x 70,000 = 12,600 GBP = 78.75 shares; holds 100 -> sell 21.25 -> nearest
  whole share: SELL 21 (4,200 USD, settles 23 Sep). HIFO relieves the 170 GBP lot: 21 x
  (160 - 170) = -210 GBP, a loss sale.
- VOD: target 8,400 GBP = 10,500 shares; buy 500 = 400 GBP < 500 minimum: no trade.
- 7203: ineligible, target 0: SELL 1,000 (2,800,000 JPY, settles 25 Sep).
- TM: wants 125 (22,500 USD, settles 23 Sep). But an FX deal never values before the pair's spot
  date on both calendars: GBP/USD spot is 24 Sep, a day after the ADR settles, so the only USD
  there on the 23rd is the AAPL sale's 4,200. The ADR buy is scaled down to what that pays for:
  4,200 / 180 = 23.3 -> BUY 23 (4,140 USD = 3,312 GBP, above the 500 minimum); 60 USD are left,
  worth 48 GBP: below the minimum trade, so not swept back.
- 0005: target 18,900 GBP = 1,890 shares; holds 800, wants 1,090 more; board lots of 400:
  BUY 800 (80,000 HKD, settles 24 Sep); the deviation falls from 1,090 to 290 shares (73%).
- FX: HKD short 80,000 on 24 Sep, GBP/HKD spot 24 Sep: BUY 80,000 HKD / SELL 8,000 GBP value 24 Sep.
  JPY surplus 2,800,000 arrives 25 Sep (GBP/JPY spot is also 25 Sep because of the holiday):
  SELL 2,800,000 JPY / BUY 14,000 GBP value 25 Sep.
- GBP ladder: 24,000 (22nd) -> 24,000 (23rd) -> 16,000 (24th) -> 30,000 (25th): never negative.
- Routing: AAPL and TM via NORTHBANK / ATLAS, 7203 and 0005 via HARBOUR / KOWLOON.
"""
from __future__ import annotations

import datetime as dt

import numpy as np

from trading.orders.routing import load_broker_master, route
from trading.rebalancing.calendars import currency_open_grid, day_index, fx_spot_date, settlement_date
from trading.rebalancing.engine import HIFO, Accounts, Currencies, Listings, Params, TaxLots, rebalance

TRADE = dt.date(2025, 9, 22)
D = 8
CCY = ["GBP", "USD", "JPY", "HKD"]
MARKETS = [("XNYS", "USD", 1), ("XLON", "GBP", 2), ("XTKS", "JPY", 2), ("XHKG", "HKD", 2), ("XNYS", "USD", 1)]


def settle_days():
    return np.array([day_index(TRADE, settlement_date(TRADE, mic=m, currency=c, cycle_days=n)) for m, c, n in MARKETS])


def book(gbp_cash=24_000.0, holdings=(100, 10_000, 1_000, 800, 0), target=(0.18, 0.12, 0.25, 0.27, 0.0)):
    cur = Currencies(
        codes=CCY, fx=np.array([1.0, 0.8, 0.005, 0.1]), minor_units=np.array([2, 2, 0, 2]),
        spot_day=np.array([day_index(TRADE, fx_spot_date(TRADE, c, "GBP")) for c in CCY]),
        open=currency_open_grid(TRADE, CCY, D),
    )
    lst = Listings(
        price=np.array([200.0, 80.0, 2800.0, 100.0, 180.0]),
        price_unit=np.array([1.0, 100.0, 1.0, 1.0, 1.0]),
        currency=np.array([1, 0, 2, 3, 1]),
        lot_size=np.array([1.0, 1.0, 100.0, 400.0, 1.0]),
        allows_fractional=np.zeros(5, bool),
        underlying=np.array([10, 11, 12, 13, 12]),
        ratio=np.array([1.0, 1.0, 1.0, 1.0, 10.0]),
        settle_day=settle_days(),
        substitute=np.array([-1, -1, 4, -1, 2]),
    )
    cash = np.zeros((1, 4, D))
    cash[0, 0, :] = gbp_cash
    acc = Accounts(
        base=np.array([0]), slot_listing=np.array([[0, 1, 2, 3, 4]]), qty=np.array([holdings], float),
        target=np.array([target]), cash=cash,
        ineligible=np.array([[False, False, True, False, False]]),
        band_abs=np.array([0.02]), band_rel=np.array([0.20]), min_trade=np.array([500.0]),
        min_improvement=np.array([0.5]), lot_method=np.array([HIFO]),
    )
    lots = TaxLots(
        account=np.array([0, 0, 0, 0]), listing=np.array([0, 0, 0, 2]),
        qty=np.array([60.0, 30.0, 10.0, 1000.0]), cost=np.array([60.0, 170.0, 150.0, 12.0]),
        acquired=np.array([d.toordinal() for d in (dt.date(2020, 1, 10), dt.date(2023, 5, 1), dt.date(2024, 2, 1),
                                                    dt.date(2022, 6, 1))]),
    )
    return lst, cur, acc, lots


def day(d: int) -> dt.date:
    return TRADE + dt.timedelta(days=d)


def trades(result):
    o = result.orders
    return [(int(o.listing[i]), "buy" if o.side[i] > 0 else "sell", float(o.qty[i]), round(float(o.value_local[i]), 2),
             day(int(o.settle_day[i]))) for i in range(len(o))]


def fx_trades(result, codes=CCY):
    f = result.fx
    return [(codes[f.buy_ccy[i]], round(float(f.buy_amount[i]), 2), codes[f.sell_ccy[i]],
             round(float(f.sell_amount[i]), 2), day(int(f.value_day[i]))) for i in range(len(f))]


def test_the_calendars_put_the_tokyo_trade_after_the_japanese_holiday():
    assert [day(int(d)) for d in settle_days()] == [
        dt.date(2025, 9, 23), dt.date(2025, 9, 24), dt.date(2025, 9, 25), dt.date(2025, 9, 24), dt.date(2025, 9, 23),
    ]
    assert fx_spot_date(TRADE, "JPY", "GBP") == dt.date(2025, 9, 25)
    assert fx_spot_date(TRADE, "USD", "GBP") == dt.date(2025, 9, 24)


def test_worked_example_proposes_the_trades_worked_out_by_hand():
    lst, cur, acc, lots = book()
    result = rebalance(lst, cur, acc, lots, params=Params(trade_day=TRADE.toordinal()))

    assert result.out_of_band.tolist() == [True]
    assert trades(result) == [
        (0, "sell", 21.0, 4_200.00, dt.date(2025, 9, 23)),      # AAPL, USD
        (2, "sell", 1_000.0, 2_800_000.00, dt.date(2025, 9, 25)),  # Toyota ordinary, JPY, after the holiday
        (3, "buy", 800.0, 80_000.00, dt.date(2025, 9, 24)),     # HSBC, two board lots of 400, HKD
        (4, "buy", 23.0, 4_140.00, dt.date(2025, 9, 23)),       # Toyota ADR, only what the 4,200 USD pay for
    ]
    assert fx_trades(result) == [  # none values before its pair's spot date
        ("GBP", 14_000.00, "JPY", 2_800_000.00, dt.date(2025, 9, 25)),
        ("HKD", 80_000.00, "GBP", 8_000.00, dt.date(2025, 9, 24)),
    ]
    gbp = result.cash_after[0, 0, :4].round(2).tolist()
    assert gbp == [24_000.00, 24_000.00, 16_000.00, 30_000.00]
    assert result.cash_after[0, 1, :4].round(2).tolist() == [0.00, 60.00, 60.00, 60.00]  # USD
    assert round(float(result.buy_scale[0]), 4) == round(4_200 / 22_500, 4)
    assert result.stats["fx_too_late"] == 1
    assert (result.cash_after >= -1e-9).all()
    assert len(result.forwards) == 0


def test_worked_example_relieves_the_highest_cost_lot_and_flags_the_loss():
    lst, cur, acc, lots = book()
    result = rebalance(lst, cur, acc, lots, params=Params(trade_day=TRADE.toordinal()))
    rel = result.reliefs
    aapl = rel.order == 0
    assert rel.lot[aapl].tolist() == [1]  # the 170 GBP lot of 2023
    assert rel.qty[aapl].tolist() == [21.0]
    assert round(float(result.orders.realized_gain[0]), 2) == -210.00
    assert bool(result.orders.loss_sale[0]) is True
    toyota = rel.order == 1
    assert round(float(rel.gain[toyota].sum()), 2) == 1_000 * (14.0 - 12.0)


def test_worked_example_routes_each_market_to_its_custodian_and_a_broker_that_settles_there():
    brokers = load_broker_master()
    custody = {"XNYS": ("NB-1001", "NORTHBANK"), "XLON": ("NB-1001", "NORTHBANK"),
               "XTKS": ("HB-77", "HARBOUR"), "XHKG": ("HB-77", "HARBOUR")}
    lst, cur, acc, lots = book()
    result = rebalance(lst, cur, acc, lots, params=Params(trade_day=TRADE.toordinal()))
    routes = [route(market=MARKETS[int(listing)][0], custody_accounts=custody, brokers=brokers)
              for listing in result.orders.listing]
    assert [(r.custody_account, r.broker) for r in routes] == [
        ("NB-1001", "ATLAS"), ("HB-77", "KOWLOON"), ("HB-77", "KOWLOON"), ("NB-1001", "ATLAS"),
    ]


def test_a_tokyo_sale_settling_after_the_holiday_does_not_fund_a_t_plus_1_adr_purchase():
    """Only 2,000 GBP is settled and no USD. Selling the 1,000 Toyota ordinaries raises 14,000 GBP,
    but only on 25 September; the ADR purchase settles on the 23rd, and GBP cannot become USD
    before the pair's spot date, the 24th. No USD is there in time: no ADR is bought (an FX deal
    for value on the 22nd or 23rd would be before spot)."""
    lst, cur, acc, lots = book(gbp_cash=2_000.0, holdings=(0, 0, 1_000, 0, 0), target=(0.0, 0.0, 0.9, 0.0, 0.0))
    result = rebalance(lst, cur, acc, lots, params=Params(trade_day=TRADE.toordinal()))
    assert trades(result) == [
        (2, "sell", 1_000.0, 2_800_000.00, dt.date(2025, 9, 25)),
    ]
    assert fx_trades(result) == [
        ("GBP", 14_000.00, "JPY", 2_800_000.00, dt.date(2025, 9, 25)),
    ]
    assert result.buy_scale[0] == 0.0
    assert result.cash_after[0, 0, :4].round(2).tolist() == [2_000.00, 2_000.00, 2_000.00, 16_000.00]


def test_with_usd_on_hand_the_adr_buy_is_cut_to_the_usd_there_on_its_settlement_day():
    """The same account with 20,000 USD settled (16,000 GBP): total 86,000 GBP.
    - AAPL: 0.18 x 86,000 = 15,480 GBP = 96.75 shares; sell 3 = 480 GBP < 500 minimum: no trade.
    - VOD: 0.12 x 86,000 = 10,320 GBP = 12,900 shares: BUY 2,900 (2,320 GBP, settles 24 Sep).
    - 7203: SELL 1,000 (2,800,000 JPY, 25 Sep).
    - TM: 0.25 x 86,000 / 14 = 1,535.7 ordinaries = 153.57 ADRs -> wants 153 (27,540 USD, 23 Sep);
      the USD there on the 23rd is the 20,000 held (no AAPL sale now): 20,000 / 27,540 of 153 =
      111.1 -> BUY 111 (19,980 USD); 20 USD left (16 GBP, below the minimum: not swept).
    - 0005: 0.27 x 86,000 = 23,220 GBP = 2,322 shares; holds 800, wants 1,522: BUY 1,200 (3 lots,
      120,000 HKD, 24 Sep); deviation 1,522 -> 322 shares (79% removed).
    - FX: BUY 120,000 HKD / SELL 12,000 GBP value 24 Sep; SELL 2,800,000 JPY / BUY 14,000 GBP 25 Sep.
    - GBP: 24,000 -> 24,000 -> 24,000 - 2,320 - 12,000 = 9,680 -> 23,680."""
    lst, cur, acc, lots = book()
    acc.cash[0, 1, :] = 20_000.0
    result = rebalance(lst, cur, acc, lots, params=Params(trade_day=TRADE.toordinal()))
    assert trades(result) == [
        (2, "sell", 1_000.0, 2_800_000.00, dt.date(2025, 9, 25)),
        (1, "buy", 2_900.0, 2_320.00, dt.date(2025, 9, 24)),
        (3, "buy", 1_200.0, 120_000.00, dt.date(2025, 9, 24)),
        (4, "buy", 111.0, 19_980.00, dt.date(2025, 9, 23)),
    ]
    assert fx_trades(result) == [
        ("GBP", 14_000.00, "JPY", 2_800_000.00, dt.date(2025, 9, 25)),
        ("HKD", 120_000.00, "GBP", 12_000.00, dt.date(2025, 9, 24)),
    ]
    assert result.cash_after[0, 0, :4].round(2).tolist() == [24_000.00, 24_000.00, 9_680.00, 23_680.00]
    assert result.cash_after[0, 1, 1].round(2) == 20.00
