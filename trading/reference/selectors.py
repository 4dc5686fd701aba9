"""Reads of the instrument and market master, in bulk where engines need them."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Max

from . import calendars, eligibility
from .exceptions import FxRateMissing, SettlementCycleMissing
from .models import Currency, EligibilityRule, FxRate, Instrument, Listing, Market, Price, SettlementCycle

# --- Settlement ------------------------------------------------------------------------------


def settlement_cycle(*, market: Market | int, instrument_type: str, on: dt.date) -> SettlementCycle:
    """The cycle in force on `on`: the instrument type's own row if any, else the market default."""
    market_id = market.pk if isinstance(market, Market) else market
    rows = list(
        SettlementCycle.objects.filter(
            market_id=market_id, instrument_type__in=[instrument_type, ""], effective_from__lte=on
        ).order_by("-effective_from")
    )
    for wanted in (instrument_type, ""):
        for row in rows:
            if row.instrument_type == wanted:
                return row
    raise SettlementCycleMissing(
        f"no settlement cycle for market {market_id} / {instrument_type or '*'} on {on}",
        detail={"market": market_id, "instrument_type": instrument_type, "on": on.isoformat()},
    )


def currency_calendars(codes: Iterable[str]) -> tuple[str, ...]:
    specs = dict(Currency.objects.filter(code__in=set(codes)).values_list("code", "holiday_calendar"))
    return tuple(specs.get(c, "") for c in codes)


@dataclass(frozen=True)
class SettlementDates:
    securities: dt.date
    cash: dt.date
    cycle: SettlementCycle


def settlement_dates(*, listing: Listing, trade_date: dt.date) -> SettlementDates:
    """Securities and cash settlement dates for a trade on `listing`: T+n sessions of the
    market's calendar that are also business days of the trading currency."""
    market = listing.market
    cycle = settlement_cycle(market=market, instrument_type=listing.instrument.instrument_type, on=trade_date)
    cal = currency_calendars([listing.trading_currency])
    securities = calendars.add_settlement_days(
        trade_date, cycle.days, calendar_code=market.calendar_code, currency_calendars=cal
    )
    cash = securities
    if cycle.cash_days is not None and cycle.cash_days != cycle.days:
        cash = calendars.add_settlement_days(
            trade_date, cycle.cash_days, calendar_code=market.calendar_code, currency_calendars=cal
        )
    return SettlementDates(securities=securities, cash=cash, cycle=cycle)


def fx_value_date(*, currency_a: str, currency_b: str, trade_date: dt.date, days: int | None = None) -> dt.date:
    """Spot value date for an FX deal: T+2, or T+1 for USD/CAD, over both currencies' holidays."""
    if days is None:
        days = 1 if {currency_a, currency_b} == {"USD", "CAD"} else 2
    return calendars.fx_value_date(trade_date, calendars=currency_calendars([currency_a, currency_b]), days=days)


# --- Prices and FX ---------------------------------------------------------------------------


@dataclass(frozen=True)
class QuotedPrice:
    listing_id: int
    price_date: dt.date
    as_of: dt.datetime
    price: Decimal  # as quoted, e.g. 1234.5 (GBp)
    price_unit: str
    price_divisor: Decimal
    currency: str  # ISO, e.g. GBP
    source: str

    @property
    def in_currency(self) -> Decimal:
        """Price per unit in `currency` (1234.5 GBp -> 12.345 GBP)."""
        return self.price / self.price_divisor


def latest_prices(*, listing_ids: Iterable[int], on: dt.date, price_type: str = "close") -> dict[int, QuotedPrice]:
    """The newest price on or before `on` for each listing: one grouped query for each
    listing's latest date (index on listing, -price_date), one for the rows of those dates;
    among several sources on that date the latest stamped wins."""
    ids = list(set(listing_ids))
    latest = dict(
        Price.objects.filter(listing_id__in=ids, price_date__lte=on, price_type=price_type)
        .values_list("listing_id").annotate(d=Max("price_date")).order_by()
    )
    if not latest:
        return {}
    rows = (
        Price.objects.filter(listing_id__in=list(latest), price_date__in=set(latest.values()), price_type=price_type)
        .order_by("as_of", "pk")
        .values_list("listing_id", "price_date", "as_of", "price", "price_unit", "price_divisor", "currency", "source")
    )
    return {r[0]: QuotedPrice(*r) for r in rows if latest[r[0]] == r[1]}


@dataclass(frozen=True)
class Rate:
    rate: Decimal  # units of target per one unit of the currency
    source: str
    as_of: dt.datetime | None
    rate_date: dt.date | None


def fx_rates_to(*, target: str, currencies: Iterable[str], on: dt.date, pivot: str = "USD") -> dict[str, Rate]:
    """How many units of `target` one unit of each currency buys on `on` (newest rate on or
    before it), using a direct rate, its inverse, or a cross through `pivot`."""
    wanted = set(currencies) | {target}
    involved = wanted | {pivot}
    latest = {
        (b, q): d for b, q, d in
        FxRate.objects.filter(base_currency__in=involved, quote_currency__in=involved, rate_date__lte=on)
        .values_list("base_currency", "quote_currency").annotate(d=Max("rate_date")).order_by()
    }
    rows = (
        FxRate.objects.filter(base_currency__in=involved, quote_currency__in=involved,
                              rate_date__in=set(latest.values()))
        .order_by("as_of", "pk")
        .values_list("base_currency", "quote_currency", "rate", "source", "as_of", "rate_date")
    ) if latest else []
    pairs: dict[tuple[str, str], Rate] = {}
    for base, quote, rate, source, as_of, rate_date in rows:
        if latest.get((base, quote)) != rate_date:
            continue
        pairs[(base, quote)] = Rate(rate, source, as_of, rate_date)
        pairs.setdefault((quote, base), Rate(Decimal(1) / rate, source, as_of, rate_date))

    def direct(a: str, b: str) -> Rate | None:
        if a == b:
            return Rate(Decimal(1), "identity", None, None)
        return pairs.get((a, b))

    out: dict[str, Rate] = {}
    for ccy in wanted:
        rate = direct(ccy, target)
        if rate is None:
            leg1, leg2 = direct(ccy, pivot), direct(pivot, target)
            if leg1 is None or leg2 is None:
                raise FxRateMissing(
                    f"no {ccy}/{target} rate on or before {on}", detail={"from": ccy, "to": target, "on": on.isoformat()}
                )
            rate = Rate(leg1.rate * leg2.rate, f"{leg1.source}x{leg2.source}", leg1.as_of, leg1.rate_date)
        out[ccy] = rate
    return out


# --- Eligibility -----------------------------------------------------------------------------


def eligibility_rules(*, on: dt.date | None = None) -> list[eligibility.Rule]:
    qs = EligibilityRule.objects.all()
    if on is not None:
        qs = qs.filter(effective_from__lte=on)
    return [
        eligibility.Rule(
            code=r.code,
            tag=r.tag,
            description=r.description,
            source=r.source,
            effective_from=r.effective_from,
            effective_to=r.effective_to,
            applies_to_booking_jurisdictions=frozenset(r.applies_to_booking_jurisdictions),
            allowed_investor_types=frozenset(r.allowed_investor_types),
            allowed_booking_jurisdictions=frozenset(r.allowed_booking_jurisdictions),
            allowed_booking_centre_kinds=frozenset(r.allowed_booking_centre_kinds),
            us_persons_allowed=r.us_persons_allowed,
        )
        for r in qs
    ]


def instrument_tags(*, instrument_ids: Sequence[int]) -> list[list[str]]:
    """Eligibility tags for each instrument id, in the order given."""
    tags = dict(Instrument.objects.filter(pk__in=set(instrument_ids)).values_list("pk", "eligibility_tags"))
    return [list(tags.get(pk) or []) for pk in instrument_ids]


def primary_listings(*, instrument_ids: Iterable[int]) -> dict[int, int]:
    """instrument id -> its primary listing id (or, failing that, its lowest listing id)."""
    out: dict[int, int] = {}
    rows = Listing.objects.filter(instrument_id__in=set(instrument_ids), is_active=True).order_by(
        "instrument_id", "-is_primary", "pk"
    )
    for instrument_id, listing_id in rows.values_list("instrument_id", "pk"):
        out.setdefault(instrument_id, listing_id)
    return out


# --- Trading sessions --------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    mic: str
    day: dt.date
    opens_at: dt.datetime  # UTC
    closes_at: dt.datetime  # UTC


def market_session(*, market: Market, day: dt.date) -> Session | None:
    """The market's continuous session on `day` in UTC (its local hours in its own time zone),
    or None when the exchange calendar has no session that day."""
    import zoneinfo

    if not calendars.is_exchange_session(day, market.calendar_code):
        return None
    tz = zoneinfo.ZoneInfo(market.time_zone)
    opens = dt.datetime.combine(day, market.open_time, tzinfo=tz).astimezone(dt.UTC)
    closes = dt.datetime.combine(day, market.close_time, tzinfo=tz).astimezone(dt.UTC)
    return Session(market.mic, day, opens, closes)


def market_is_open(*, market: Market, at: dt.datetime) -> bool:
    """Whether `at` (aware) falls in the market's continuous session of that local day."""
    import zoneinfo

    local_day = at.astimezone(zoneinfo.ZoneInfo(market.time_zone)).date()
    session = market_session(market=market, day=local_day)
    return session is not None and session.opens_at <= at < session.closes_at


def identifier_table(*, instrument_ids: Iterable[int] | None = None) -> list[tuple[str, str, int, Decimal]]:
    """Every identifier that names an instrument, for matching custodian files: (kind, value,
    instrument id, quantity factor). ISIN, CUSIP, SEDOL and FIGI of the instrument (factor 1), the
    exchange-level FIGI, SEDOL and "MIC:ticker" of each listing (factor 1)."""
    instruments = Instrument.objects.all()
    listings = Listing.objects.all()
    if instrument_ids is not None:
        ids = set(instrument_ids)
        instruments = instruments.filter(pk__in=ids)
        listings = listings.filter(instrument_id__in=ids)
    one = Decimal(1)
    out: list[tuple[str, str, int, Decimal]] = []
    for pk, isin, cusip, sedol, figi in instruments.values_list("pk", "isin", "cusip", "sedol", "figi"):
        out += [(kind, value, pk, one) for kind, value in (("ISIN", isin), ("CUSIP", cusip), ("SEDOL", sedol), ("FIGI", figi)) if value]
    for inst, mic, ticker, sedol, figi in listings.values_list("instrument_id", "market__mic", "ticker", "sedol", "figi"):
        out.append(("TICKER", f"{mic}:{ticker}", inst, one))
        out += [(kind, value, inst, one) for kind, value in (("SEDOL", sedol), ("FIGI", figi)) if value]
    return sorted(set(out))
