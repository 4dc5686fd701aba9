"""Business days for settlement and FX value dates. Plain Python: codes and dates in, dates out.

A settlement business day is an exchange session (exchange_calendars) that is also a business
day of the settlement currency (the `holidays` package: "financial:ECB", "country:GB-ENG", ...).
US equities do not settle on Columbus Day although NYSE trades; a T+2 Hong Kong trade skips
Chinese New Year. Where exchange_calendars has no data (unknown code, or a date past the
calendar's recorded holidays) weekdays stand in for sessions.
"""
from __future__ import annotations

import datetime as dt
import warnings
from functools import lru_cache

import holidays

_CAL_START = "2010-01-01"
_CAL_END = "2030-12-31"
_MAX_SCAN = 60


@lru_cache(maxsize=64)
def _exchange_sessions(calendar_code: str) -> tuple[frozenset[dt.date], dt.date, dt.date] | None:
    """(sessions, first, last) for an exchange_calendars code, or None when unknown."""
    if not calendar_code:
        return None
    import exchange_calendars as xc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cal = xc.get_calendar(calendar_code, start=_CAL_START, end=_CAL_END)
        except ValueError:
            try:
                cal = xc.get_calendar(calendar_code, start=_CAL_START)
            except Exception:  # noqa: BLE001 - unknown code: fall back to weekdays
                return None
        except Exception:  # noqa: BLE001
            return None
    sessions = frozenset(ts.date() for ts in cal.sessions)
    return sessions, cal.first_session.date(), cal.last_session.date()


@lru_cache(maxsize=256)
def _holiday_calendar(spec: str, year: int) -> frozenset[dt.date]:
    """Holidays of one year for a spec "financial:ECB" or "country:GB-ENG" ("" = none)."""
    if not spec:
        return frozenset()
    kind, _, code = spec.partition(":")
    if kind == "financial":
        cal = holidays.financial_holidays(code, years=year)
    elif kind == "country":
        country, _, subdiv = code.partition("-")
        cal = holidays.country_holidays(country, subdiv=subdiv or None, years=year)
    else:
        raise ValueError(f"unknown holiday calendar spec {spec!r}")
    return frozenset(cal.keys())


def is_currency_business_day(day: dt.date, holiday_calendar: str) -> bool:
    return day.weekday() < 5 and day not in _holiday_calendar(holiday_calendar, day.year)


def is_exchange_session(day: dt.date, calendar_code: str) -> bool:
    data = _exchange_sessions(calendar_code)
    if data is None:
        return day.weekday() < 5
    sessions, first, last = data
    if first <= day <= last:
        return day in sessions
    return day.weekday() < 5


def is_settlement_day(day: dt.date, *, calendar_code: str, currency_calendars: tuple[str, ...] = ()) -> bool:
    return is_exchange_session(day, calendar_code) and all(
        is_currency_business_day(day, spec) for spec in currency_calendars
    )


def add_settlement_days(
    trade_date: dt.date, days: int, *, calendar_code: str, currency_calendars: tuple[str, ...] = ()
) -> dt.date:
    """The date `days` settlement business days after `trade_date` (T+0 is the trade date, or
    the next settlement day if the trade date is not one)."""
    day = trade_date
    if days == 0:
        for _ in range(_MAX_SCAN):
            if is_settlement_day(day, calendar_code=calendar_code, currency_calendars=currency_calendars):
                return day
            day += dt.timedelta(days=1)
        raise ValueError(f"no settlement day within {_MAX_SCAN} days of {trade_date}")
    counted = 0
    for _ in range(days * _MAX_SCAN):
        day += dt.timedelta(days=1)
        if is_settlement_day(day, calendar_code=calendar_code, currency_calendars=currency_calendars):
            counted += 1
            if counted == days:
                return day
    raise ValueError(f"cannot find T+{days} from {trade_date}")


def fx_value_date(trade_date: dt.date, *, calendars: tuple[str, ...], days: int = 2) -> dt.date:
    """Spot value date for an FX deal: `days` days that are business days in every currency's
    calendar (T+2 for most pairs, T+1 for USD/CAD; pass days=0 for same-day value)."""
    day = trade_date
    counted = 0
    for _ in range(max(days, 1) * _MAX_SCAN):
        if days == 0 and all(is_currency_business_day(day, spec) for spec in calendars):
            return day
        day += dt.timedelta(days=1)
        if days and all(is_currency_business_day(day, spec) for spec in calendars):
            counted += 1
            if counted == days:
                return day
    raise ValueError(f"cannot find a value date from {trade_date}")
