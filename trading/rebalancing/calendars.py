"""Settlement and FX value dates as engine day indices, for callers without the database
(the worked example, property tests). No ORM: the business-day rules are those of
`trading.reference.calendars` (exchange sessions from exchange_calendars, currency holidays
from `holidays`); the loader gets the same answers from the reference selectors, which read
each currency's calendar spec from the database (markets.yaml)."""
from __future__ import annotations

import datetime as dt

import numpy as np

from trading.reference import calendars as refcal

# the currency holiday calendars of trading/reference/markets.yaml
CURRENCY_CALENDAR = {
    "USD": "financial:FED", "EUR": "financial:ECB", "GBP": "country:GB-ENG", "CHF": "country:CH",
    "JPY": "country:JP", "HKD": "country:HK", "CNY": "country:CN", "CAD": "country:CA",
}
# FX spot lag in business days (T+1 for USD/CAD, else T+2)
T_PLUS_1_PAIRS = {frozenset({"USD", "CAD"})}


def currency_open(currency: str, day: dt.date) -> bool:
    return refcal.is_currency_business_day(day, CURRENCY_CALENDAR.get(currency, ""))


def settlement_date(trade_date: dt.date, *, mic: str, currency: str, cycle_days: int) -> dt.date:
    """trade date + cycle settlement days: exchange sessions that are also good days for the
    settlement currency."""
    return refcal.add_settlement_days(trade_date, cycle_days, calendar_code=mic,
                                      currency_calendars=(CURRENCY_CALENDAR.get(currency, ""),))


def fx_spot_date(trade_date: dt.date, currency: str, base: str = "USD") -> dt.date:
    if currency == base:
        return trade_date
    days = 1 if frozenset({currency, base}) in T_PLUS_1_PAIRS else 2
    specs = (CURRENCY_CALENDAR.get(currency, ""), CURRENCY_CALENDAR.get(base, ""))
    return refcal.fx_value_date(trade_date, calendars=specs, days=days)


def day_index(trade_date: dt.date, day: dt.date) -> int:
    return (day - trade_date).days


def currency_open_grid(trade_date: dt.date, currencies: list[str], days: int) -> np.ndarray:
    """(C, D) bool: currency c settles on trade_date + d."""
    return np.array([[currency_open(c, trade_date + dt.timedelta(days=d)) for d in range(days)] for c in currencies],
                    dtype=bool)
