"""Projected cash across markets with different cycles and holidays; valuation in base
currency with GBp prices; the daily return split into local and currency parts."""
import datetime as dt
from decimal import Decimal

import pytest

from accounts import selectors, services
from accounts.performance import split_return
from tests.accounts.conftest import fund
from trading.reference.services import fx_rates_upsert, prices_upsert

pytestmark = pytest.mark.django_db
TUE, WED, THU, FRI = (dt.date(2026, 11, d) for d in (24, 25, 26, 27))  # Thanksgiving is Thu 26


def trade(account, custody, listing, side, qty, price, day):
    return services.trade_book(account=account, custody_account=custody, listing=listing, side=side,
                               quantity=Decimal(qty), price=Decimal(price), trade_date=day)


def test_projected_cash_follows_t_plus_1_and_t_plus_2_markets_across_thanksgiving(booked, ref):
    """Tue: sell Apple (US, T+1 -> Wed), buy Vodafone in London (T+2 -> Thu, London is open),
    sell USD for GBP spot (T+2 would be Thu, a USD holiday -> Fri). Wed: buy Toyota ADRs in
    New York (T+1 skips Thanksgiving -> Fri). GBP dips below zero on Thursday: the FX arrives a
    day after the London purchase settles."""
    account, custody = booked
    fund(account, custody["us"], "USD", "10000", day=dt.date(2026, 11, 2))
    fund(account, custody["eu"], "GBP", "5000", day=dt.date(2026, 11, 2))
    trade(account, custody["us"], ref.listings["AAPL"], "buy", 100, "250", dt.date(2026, 11, 2))
    trade(account, custody["us"], ref.listings["AAPL"], "sell", 100, "270", TUE)
    trade(account, custody["eu"], ref.listings["VOD.L"], "buy", 20000, "92.5", TUE)
    fx = services.fx_spot_book(account=account, custody_account=custody["eu"], sell_currency="USD",
                               sell_amount=Decimal(20000), buy_currency="GBP", rate=Decimal("0.76"), trade_date=TUE)
    assert fx.settle_date == FRI
    trade(account, custody["us"], ref.listings["TM"], "buy", 10, "207", WED)

    rows = selectors.projected_cash(account=account, as_of=WED)
    gbp = [(r.value_date, r.flow, r.balance) for r in rows if r.currency == "GBP"]
    usd = [(r.value_date, r.flow, r.balance) for r in rows if r.currency == "USD"]
    assert gbp == [(WED, Decimal(5000), Decimal(5000)),
                   (THU, Decimal("-18500.00"), Decimal("-13500.00")),
                   (FRI, Decimal("15200.00"), Decimal("1700.00"))]
    # Apple proceeds settled Wed (already in the settled balance); ADR purchase and FX out on Fri
    assert usd == [(WED, Decimal(10000) - 25000 + 27000, Decimal(12000)),
                   (FRI, Decimal("-22070.00"), Decimal("-10070.00"))]


def test_a_withdrawal_that_would_overdraw_projected_cash_is_refused(booked, ref):
    from onboarding.exceptions import ValidationFailed

    account, custody = booked
    fund(account, custody["us"], "USD", "10000", day=dt.date(2026, 11, 2))
    trade(account, custody["us"], ref.listings["AAPL"], "buy", 30, "270", TUE)  # settles Wed
    with pytest.raises(ValidationFailed):
        services.cash_withdraw(account=account, custody_account=custody["us"], currency="USD",
                               amount=Decimal(5000), value_date=TUE)
    services.cash_withdraw(account=account, custody_account=custody["us"], currency="USD",
                           amount=Decimal(1900), value_date=TUE)


def test_valuation_divides_pence_prices_and_converts_to_base(booked, ref):
    account, custody = booked
    fund(account, custody["eu"], "GBP", "20000", day=dt.date(2026, 11, 2))
    fund(account, custody["us"], "USD", "30000", day=dt.date(2026, 11, 2))
    trade(account, custody["eu"], ref.listings["VOD.L"], "buy", 10000, "90", dt.date(2026, 11, 16))
    trade(account, custody["us"], ref.listings["AAPL"], "buy", 100, "260", dt.date(2026, 11, 16))
    val = selectors.valuation(account=account, on=dt.date(2026, 11, 20))
    vod = next(line for line in val.lines if line.instrument_id == ref.instruments["VOD"].pk)
    assert (vod.price, vod.price_unit, vod.currency, vod.local_value) == (Decimal("92.36"), "GBp", "GBP", Decimal("9236.00"))
    assert vod.base_value == Decimal("9236.00")
    aapl = next(line for line in val.lines if line.instrument_id == ref.instruments["AAPL"].pk)
    assert aapl.local_value == Decimal("27149.00")
    assert aapl.base_value == (Decimal(27149) / Decimal("1.3080")).quantize(Decimal("0.01"))
    assert aapl.fx_source == "WMR_4PM_LONDON" and aapl.price_source == "DEMO_CLOSE"
    usd_cash = next(line for line in val.lines if line.kind == "cash" and line.currency == "USD")
    assert usd_cash.local_value == Decimal("4000.00")
    assert val.total_base == sum(line.base_value for line in val.lines)
    assert val.cash_base + val.securities_base == val.total_base


def test_the_daily_return_splits_into_local_and_currency_parts(booked, ref):
    """A GBP account holds Apple (USD) and Vodafone (GBp). Apple +10% in dollars while the
    dollar loses 3.85% against sterling; Vodafone -5% in pence."""
    account, custody = booked
    fund(account, custody["eu"], "GBP", "10000", day=dt.date(2026, 11, 2))
    fund(account, custody["us"], "USD", "20000", day=dt.date(2026, 11, 2))
    trade(account, custody["us"], ref.listings["AAPL"], "buy", 100, "100", dt.date(2026, 11, 16))
    trade(account, custody["eu"], ref.listings["VOD.L"], "buy", 10000, "100", dt.date(2026, 11, 16))
    mon, tue = dt.date(2026, 11, 23), dt.date(2026, 11, 24)
    stamp = dt.datetime(2026, 11, 24, 21, tzinfo=dt.UTC)
    prices_upsert(rows=[
        {"listing_id": ref.listings["AAPL"].pk, "price_date": mon, "as_of": stamp, "price": "100"},
        {"listing_id": ref.listings["AAPL"].pk, "price_date": tue, "as_of": stamp, "price": "110"},
        {"listing_id": ref.listings["VOD.L"].pk, "price_date": mon, "as_of": stamp, "price": "100"},
        {"listing_id": ref.listings["VOD.L"].pk, "price_date": tue, "as_of": stamp, "price": "95"},
    ], source="TEST")
    fx_rates_upsert(rows=[
        {"base_currency": "GBP", "quote_currency": "USD", "rate_date": mon, "as_of": stamp, "rate": "1.25"},
        {"base_currency": "GBP", "quote_currency": "USD", "rate_date": tue, "as_of": stamp, "rate": "1.30"},
    ], source="TEST")
    split = selectors.period_return(account=account, start=mon, end=tue)
    # start (GBP): Apple 10000 USD = 8000; Vodafone 10000 GBP; USD cash 10000 = 8000; GBP cash 0
    w_aapl, w_vod, w_usd = 8000 / 26000, 10000 / 26000, 8000 / 26000
    fx_move = 1.25 / 1.30 - 1
    assert split.local == pytest.approx(w_aapl * 0.10 + w_vod * -0.05)
    assert split.currency == pytest.approx(w_aapl * fx_move * 1.10 + w_usd * fx_move)
    assert split.local + split.currency == pytest.approx(split.total)
    end_value = 11000 / 1.30 + 9500 + 10000 / 1.30
    assert split.total == pytest.approx(end_value / 26000 - 1)
    assert selectors.daily_return(account=account, day=tue) == split


def test_local_and_currency_parts_always_add_up_to_the_total():
    import numpy as np

    rng = np.random.default_rng(7)
    for _ in range(50):
        n = rng.integers(1, 20)
        result = split_return(rng.uniform(0, 1e6, n), rng.uniform(1, 100, n), rng.uniform(1, 100, n),
                              rng.uniform(0.5, 2, n), rng.uniform(0.5, 2, n))
        assert result.local + result.currency == pytest.approx(result.total, rel=1e-9, abs=1e-12)


def test_a_household_is_valued_across_accounts_in_different_base_currencies(firm, owner, custodians, ref):
    from tests.accounts.conftest import make_account

    family = services.household_create(firm=firm, name="Smith family")
    gbp, cg = make_account(firm, owner, custodians, number="H-1", household=family)
    usd, cu = make_account(firm, owner, custodians, number="H-2", base="USD", household=family)
    fund(gbp, cg["eu"], "GBP", "1000")
    fund(usd, cu["us"], "USD", "1308")
    val = selectors.household_valuation(household=family, on=dt.date(2026, 11, 20), currency="USD")
    assert val.by_account == {gbp.pk: Decimal("1308.00"), usd.pk: Decimal("1308.00")}
    assert val.total == Decimal("2616.00")
