"""Business-day arithmetic for settlement and FX value dates (no ORM).

A settlement date counts days that are both sessions of the exchange (exchange_calendars)
and good days of the settlement currency (holidays: the currency's payment calendar).
The engine receives the results as day indices on a calendar grid starting at the trade date.
"""
from __future__ import annotations

import datetime as dt
from functools import lru_cache

import exchange_calendars as xcals
import holidays
import numpy as np

# the payment calendar used for each currency (holidays country or financial market code)
CURRENCY_CALENDAR = {
    "USD": ("financial", "XFED"), "EUR": ("financial", "XECB"), "GBP": ("country", "GB"),
    "JPY": ("country", "JP"), "HKD": ("country", "HK"), "CHF": ("country", "CH"),
    "CAD": ("country", "CA"), "AUD": ("country", "AU"), "SGD": ("country", "SG"),
    "SEK": ("country", "SE"), "NOK": ("country", "NO"), "DKK": ("country", "DK"),
    "NZD": ("country", "NZ"), "ZAR": ("country", "ZA"), "CNY": ("country", "CN"), "INR": ("country", "IN"),
}
# FX spot lag in business days against USD (CAD, and the usual T+1 pairs, settle T+1)
SPOT_LAG = {"CAD": 1, "TRY": 1, "RUB": 1, "PHP": 1}


@lru_cache(maxsize=64)
def _currency_holidays(currency: str, year: int) -> frozenset[dt.date]:
    kind, code = CURRENCY_CALENDAR.get(currency, ("country", ""))
    if not code:
        return frozenset()
    if kind == "financial":
        cal = holidays.financial_holidays(code, years=[year])
    else:
        cal = holidays.country_holidays(code, years=[year])
    return frozenset(cal.keys())


def currency_open(currency: str, day: dt.date) -> bool:
    return day.weekday() < 5 and day not in _currency_holidays(currency, day.year)


@lru_cache(maxsize=64)
def _calendar(mic: str):
    return xcals.get_calendar(mic)


def exchange_open(mic: str, day: dt.date) -> bool:
    cal = _calendar(mic)
    ts = day.isoformat()
    if ts < cal.first_session.date().isoformat() or ts > cal.last_session.date().isoformat():
        return day.weekday() < 5
    return bool(cal.is_session(ts))


def settlement_date(trade_date: dt.date, *, mic: str, currency: str, cycle_days: int) -> dt.date:
    """trade date + cycle business days, a business day being an exchange session and a good
    day for the settlement currency."""
    day, counted = trade_date, 0
    while counted < cycle_days:
        day += dt.timedelta(days=1)
        if exchange_open(mic, day) and currency_open(currency, day):
            counted += 1
    return day


def fx_spot_date(trade_date: dt.date, currency: str, base: str = "USD") -> dt.date:
    lag = max(SPOT_LAG.get(currency, 2), 1) if currency != base else 0
    day, counted = trade_date, 0
    while counted < lag:
        day += dt.timedelta(days=1)
        if currency_open(currency, day) and currency_open(base, day):
            counted += 1
    return day


def day_index(trade_date: dt.date, day: dt.date) -> int:
    return (day - trade_date).days


def currency_open_grid(trade_date: dt.date, currencies: list[str], days: int) -> np.ndarray:
    """(C, D) bool: currency c settles on trade_date + d."""
    grid = np.zeros((len(currencies), days), dtype=bool)
    for i, ccy in enumerate(currencies):
        for d in range(days):
            grid[i, d] = currency_open(ccy, trade_date + dt.timedelta(days=d))
    return grid
