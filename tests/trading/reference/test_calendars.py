"""Settlement dates follow the market's cycle, its exchange calendar and its currency's holidays."""
import datetime as dt

import pytest

from trading.reference import calendars
from trading.reference.selectors import fx_value_date, settlement_dates

pytestmark = pytest.mark.django_db


def test_a_us_trade_on_the_wednesday_before_thanksgiving_settles_on_friday(ref):
    # 2026-11-25 Wed; Thu 26 Thanksgiving (NYSE closed) -> T+1 is Fri 27
    dates = settlement_dates(listing=ref.listings["AAPL"], trade_date=dt.date(2026, 11, 25))
    assert dates.securities == dt.date(2026, 11, 27)
    assert dates.cycle.days == 1


def test_us_trades_do_not_settle_on_columbus_day_although_nyse_is_open():
    assert calendars.is_exchange_session(dt.date(2026, 10, 12), "XNYS")
    settle = calendars.add_settlement_days(
        dt.date(2026, 10, 9), 1, calendar_code="XNYS", currency_calendars=("financial:FED",)
    )
    assert settle == dt.date(2026, 10, 13)


def test_a_hong_kong_trade_before_chinese_new_year_settles_after_it(ref):
    # 2026-02-16 Mon; HKEX closed 17-19 Feb (Lunar New Year) -> T+2 is Mon 23 Feb
    dates = settlement_dates(listing=ref.listings["0005.HK"], trade_date=dt.date(2026, 2, 16))
    assert dates.securities == dt.date(2026, 2, 23)


def test_a_london_trade_settles_t_plus_2_now_and_t_plus_1_from_october_2027(ref):
    assert settlement_dates(listing=ref.listings["VOD.L"], trade_date=dt.date(2026, 11, 20)).securities == dt.date(2026, 11, 24)
    assert settlement_dates(listing=ref.listings["VOD.L"], trade_date=dt.date(2027, 10, 11)).securities == dt.date(2027, 10, 12)


def test_a_stock_connect_a_share_settles_securities_t_plus_0_and_cash_t_plus_1(ref):
    dates = settlement_dates(listing=ref.listings["600519.SS"], trade_date=dt.date(2026, 11, 23))
    assert dates.securities == dt.date(2026, 11, 23)
    assert dates.cash == dt.date(2026, 11, 24)


def test_fx_spot_value_date_skips_a_holiday_in_either_currency(ref):
    # EUR/USD dealt Fri 2026-11-06: T+2 -> Tue 10 Nov, but Veterans Day (11th) is not in the way
    assert fx_value_date(currency_a="EUR", currency_b="USD", trade_date=dt.date(2026, 11, 6)) == dt.date(2026, 11, 10)
    # dealt Mon 9 Nov: T+2 would be Wed 11 Nov, a Fedwire holiday -> Thu 12 Nov
    assert fx_value_date(currency_a="EUR", currency_b="USD", trade_date=dt.date(2026, 11, 9)) == dt.date(2026, 11, 12)
    # USD/CAD is T+1
    assert fx_value_date(currency_a="USD", currency_b="CAD", trade_date=dt.date(2026, 11, 5)) == dt.date(2026, 11, 6)


def test_sessions_are_local_hours_in_utc_and_absent_on_holidays(ref):
    from trading.reference.selectors import market_is_open, market_session

    xlon, xnys, xtks = ref.markets["XLON"], ref.markets["XNYS"], ref.markets["XTKS"]
    session = market_session(market=xlon, day=dt.date(2026, 7, 1))  # BST: 08:00 London = 07:00 UTC
    assert session.opens_at == dt.datetime(2026, 7, 1, 7, 0, tzinfo=dt.UTC)
    assert market_session(market=xnys, day=dt.date(2026, 11, 26)) is None  # Thanksgiving
    assert market_is_open(market=xtks, at=dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.UTC))  # 10:00 Tokyo
    assert not market_is_open(market=xtks, at=dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC))  # Labour Thanksgiving
