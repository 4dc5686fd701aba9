"""Writes to the instrument and market master: rule-file loaders, instrument and listing
creation with identifier validation, bulk price and FX loads, ADR ratio changes."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from onboarding.audit import record_event
from onboarding.exceptions import ValidationFailed
from onboarding.models import User

from .exceptions import ReferenceDataError
from .models import (
    Currency,
    EligibilityRule,
    FxRate,
    Instrument,
    InstrumentType,
    Issuer,
    Listing,
    Market,
    Price,
    SettlementCycle,
)
from .yamlio import LINE_KEY, fail, read_rule_file

APP_DIR = Path(__file__).resolve().parent
MARKETS_FILE = APP_DIR / "markets.yaml"
SETTLEMENT_CYCLES_FILE = APP_DIR / "settlement_cycles.yaml"
ELIGIBILITY_FILE = APP_DIR / "eligibility.yaml"


def _clean(path: Path, record: dict[str, Any], obj: Any, exclude: Iterable[str] = ()) -> None:
    try:
        obj.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise fail(path, record, field, "; ".join(messages)) from exc


def _require(path: Path, record: dict[str, Any], *fields: str) -> None:
    for name in fields:
        if record.get(name) in (None, ""):
            raise fail(path, record, name, "is required")


def _date(path: Path, record: dict[str, Any], name: str, *, required: bool = True) -> dt.date | None:
    value = record.get(name)
    if value in (None, "") and not required:
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise fail(path, record, name, f"{value!r} is not a date (YYYY-MM-DD)") from exc


# --- Rule-file loaders ----------------------------------------------------------------------


@transaction.atomic
def markets_load(*, path: Path | str = MARKETS_FILE) -> dict[str, int]:
    """Load currencies and markets. The whole file is checked before anything is written."""
    path = Path(path)
    data = read_rule_file(path)
    currencies: list[Currency] = []
    for record in data.get("currencies") or []:
        _require(path, record, "code", "name", "source")
        obj = Currency(**{k: v for k, v in record.items() if k != LINE_KEY})
        _clean(path, record, obj)
        currencies.append(obj)
    markets: list[Market] = []
    seen: set[str] = set()
    known = {c.code for c in currencies} | set(Currency.objects.values_list("code", flat=True))
    for record in data["rules"]:
        _require(path, record, "mic", "name", "country", "time_zone", "open_time", "close_time", "settlement_currency", "source")
        if record["mic"] in seen:
            raise fail(path, record, "mic", f"{record['mic']} appears twice")
        seen.add(record["mic"])
        if record["settlement_currency"] not in known:
            raise fail(path, record, "settlement_currency", f"{record['settlement_currency']} is not in currencies")
        try:
            import zoneinfo

            zoneinfo.ZoneInfo(record["time_zone"])
        except Exception as exc:
            raise fail(path, record, "time_zone", f"{record['time_zone']!r} is not an IANA time zone") from exc
        fields = {k: v for k, v in record.items() if k != LINE_KEY}
        for name in ("open_time", "close_time"):
            try:
                fields[name] = dt.time.fromisoformat(str(fields[name]))
            except ValueError as exc:
                raise fail(path, record, name, f"{fields[name]!r} is not HH:MM") from exc
        market = Market(**fields)
        _clean(path, record, market)
        markets.append(market)
    Currency.objects.bulk_create(
        currencies, update_conflicts=True, unique_fields=["code"], update_fields=["name", "holiday_calendar", "source"]
    )
    Market.objects.bulk_create(
        markets,
        update_conflicts=True,
        unique_fields=["mic"],
        update_fields=[
            "name", "country", "time_zone", "open_time", "close_time", "calendar_code",
            "settlement_currency", "is_otc", "source",
        ],
    )
    return {"currencies": len(currencies), "markets": len(markets)}


@transaction.atomic
def settlement_cycles_load(*, path: Path | str = SETTLEMENT_CYCLES_FILE) -> dict[str, int]:
    """Load settlement cycles; a market must already exist. Rows are keyed by market,
    instrument type and effective date, so reloading updates in place."""
    path = Path(path)
    data = read_rule_file(path)
    version = str(data.get("version", ""))
    markets = dict(Market.objects.values_list("mic", "id"))
    types = set(InstrumentType.values) | {""}
    rows: list[SettlementCycle] = []
    seen: set[tuple[Any, ...]] = set()
    for record in data["rules"]:
        _require(path, record, "market", "source")
        if record["market"] not in markets:
            raise fail(path, record, "market", f"unknown market {record['market']!r}")
        itype = record.get("instrument_type") or ""
        if itype not in types:
            raise fail(path, record, "instrument_type", f"{itype!r} is not one of {sorted(types - {''})}")
        for name in ("days", "cash_days"):
            value = record.get(name)
            if name == "cash_days" and value is None:
                continue
            if not isinstance(value, int) or not 0 <= value <= 10:
                raise fail(path, record, name, f"{value!r} must be a whole number of days between 0 and 10")
        effective_from = _date(path, record, "effective_from")
        key = (record["market"], itype, effective_from)
        if key in seen:
            raise fail(path, record, "effective_from", f"duplicate rule for {key[0]} {key[1] or '*'} from {key[2]}")
        seen.add(key)
        rows.append(
            SettlementCycle(
                market_id=markets[record["market"]],
                instrument_type=itype,
                days=record["days"],
                cash_days=record.get("cash_days"),
                effective_from=effective_from,
                source=record["source"],
                version=version,
            )
        )
    SettlementCycle.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["market", "instrument_type", "effective_from"],
        update_fields=["days", "cash_days", "source", "version"],
    )
    return {"settlement_cycles": len(rows)}


_LIST_FIELDS = (
    "applies_to_booking_jurisdictions",
    "allowed_investor_types",
    "allowed_booking_jurisdictions",
    "allowed_booking_centre_kinds",
)


@transaction.atomic
def eligibility_rules_load(*, path: Path | str = ELIGIBILITY_FILE) -> dict[str, int]:
    from .models import BookingCentreKind, InvestorType

    path = Path(path)
    data = read_rule_file(path)
    version = str(data.get("version", ""))
    rows: list[EligibilityRule] = []
    seen: set[tuple[Any, ...]] = set()
    for record in data["rules"]:
        _require(path, record, "code", "tag", "description", "source")
        for name in _LIST_FIELDS:
            value = record.get(name, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise fail(path, record, name, "must be a list of codes")
        bad = set(record.get("allowed_investor_types", [])) - set(InvestorType.values)
        if bad:
            raise fail(path, record, "allowed_investor_types", f"unknown investor types {sorted(bad)}")
        bad = set(record.get("allowed_booking_centre_kinds", [])) - set(BookingCentreKind.values)
        if bad:
            raise fail(path, record, "allowed_booking_centre_kinds", f"unknown kinds {sorted(bad)}")
        us_allowed = record.get("us_persons_allowed", True)
        if not isinstance(us_allowed, bool):
            raise fail(path, record, "us_persons_allowed", "must be true or false")
        effective_from = _date(path, record, "effective_from")
        effective_to = _date(path, record, "effective_to", required=False)
        if effective_to and effective_to <= effective_from:
            raise fail(path, record, "effective_to", "must be after effective_from")
        key = (record["code"], effective_from)
        if key in seen:
            raise fail(path, record, "code", f"duplicate rule {record['code']} from {effective_from}")
        seen.add(key)
        rows.append(
            EligibilityRule(
                code=record["code"],
                tag=record["tag"],
                description=record["description"],
                us_persons_allowed=us_allowed,
                effective_from=effective_from,
                effective_to=effective_to,
                source=record["source"],
                version=version,
                **{name: record.get(name, []) for name in _LIST_FIELDS},
            )
        )
    EligibilityRule.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["code", "effective_from"],
        update_fields=["tag", "description", "us_persons_allowed", "effective_to", "source", "version", *_LIST_FIELDS],
    )
    return {"eligibility_rules": len(rows)}


def reference_load_all() -> dict[str, int]:
    """Load every rule file shipped with the app (markets first)."""
    with transaction.atomic():
        result = markets_load()
        result.update(settlement_cycles_load())
        result.update(eligibility_rules_load())
    return result


@transaction.atomic
def rule_row_save(*, obj: Any, actor: User | None = None, changed_fields: Iterable[str] = ()) -> Any:
    """Save a settlement cycle or eligibility rule edited by hand (the admin), with an audit
    event naming what changed. Rows still need a source and an effective date."""
    if not getattr(obj, "source", ""):
        raise ValidationFailed("a rule needs its source", detail={"source": "required"})
    _validated(obj)
    created = obj.pk is None
    obj.save()
    record_event(subject=obj, event_type="reference.rule_created" if created else "reference.rule_changed",
                 actor=actor, firm=None, detail={"fields": sorted(changed_fields), "rule": str(obj)})
    return obj


# --- Instruments and listings ------------------------------------------------------------


def _validated(obj: Any) -> Any:
    try:
        obj.full_clean()
    except ValidationError as exc:
        raise ValidationFailed(
            f"{obj._meta.verbose_name} is not valid", detail={k: v for k, v in exc.message_dict.items()}
        ) from exc
    return obj


@transaction.atomic
def issuer_create(*, name: str, country: str, lei: str = "") -> Issuer:
    issuer = _validated(Issuer(name=name, country=country, lei=lei))
    issuer.save()
    return issuer


@transaction.atomic
def instrument_create(*, name: str, instrument_type: str, isin: str, currency: str, **fields: Any) -> Instrument:
    """Create an instrument; ISIN, CUSIP, SEDOL and FIGI are checked with python-stdnum."""
    instrument = _validated(
        Instrument(name=name, instrument_type=instrument_type, isin=isin, currency=currency, **fields)
    )
    instrument.save()
    return instrument


@transaction.atomic
def listing_create(*, instrument: Instrument, market: Market, ticker: str, trading_currency: str, price_unit: str = "", **fields: Any) -> Listing:
    listing = _validated(
        Listing(
            instrument=instrument,
            market=market,
            ticker=ticker,
            trading_currency=trading_currency,
            price_unit=price_unit or trading_currency,
            **fields,
        )
    )
    listing.save()
    return listing


@transaction.atomic
def adr_ratio_change(*, instrument: Instrument, new_ratio: Decimal, effective_date: dt.date, actor: User | None = None,
                     reason: str = "") -> Instrument:
    """Change the number of ordinaries per depositary receipt. The holders' quantity change is
    booked in accounts (TransactionKind.ADR_RATIO_CHANGE); this changes the master."""
    instrument = Instrument.objects.select_for_update().get(pk=instrument.pk)
    if not instrument.underlying_id:
        raise ValidationFailed("only a depositary receipt or local line has a ratio", detail={"isin": instrument.isin})
    if new_ratio <= 0:
        raise ValidationFailed("the ratio must be positive", detail={"ratio": str(new_ratio)})
    old = instrument.underlying_ratio
    instrument.underlying_ratio = new_ratio
    instrument.save(update_fields=["underlying_ratio"])
    record_event(
        subject=instrument,
        event_type="instrument.ratio_changed",
        actor=actor,
        reason=reason,
        detail={"old_ratio": str(old), "new_ratio": str(new_ratio), "effective_date": effective_date.isoformat()},
    )
    return instrument


# --- Prices and FX ----------------------------------------------------------------------------


def _decimal(value: Any, what: str) -> Decimal:
    try:
        result = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValidationFailed(f"{what}: {value!r} is not a number") from exc
    if not result.is_finite() or result <= 0:
        raise ValidationFailed(f"{what}: {value!r} must be a positive number")
    return result


def _unit_slip(new: Decimal, previous: Decimal) -> bool:
    """A price about 100 times (or a hundredth of) the previous one: pence loaded as pounds or
    the reverse, the classic GBp / ZAc error."""
    ratio = new / previous
    return Decimal(50) <= ratio <= Decimal(200) or Decimal(1) / 200 <= ratio <= Decimal(1) / 50


@transaction.atomic
def prices_upsert(*, rows: Iterable[dict[str, Any]], source: str, allow_unit_jumps: bool = False) -> int:
    """Load prices in bulk: rows of {listing_id, price_date, as_of, price[, price_type]} quoted
    in the listing's price unit. Unit, divisor and currency are copied from the listing. A price
    about 100x away from the listing's previous one is refused as a likely unit slip (GBp vs
    GBP) unless `allow_unit_jumps`; nothing is loaded then."""
    rows = list(rows)
    listings = {
        pk: (unit, divisor, ccy)
        for pk, unit, divisor, ccy in Listing.objects.filter(pk__in={r["listing_id"] for r in rows}).values_list(
            "pk", "price_unit", "price_divisor", "trading_currency"
        )
    }
    objs = []
    for i, r in enumerate(rows, start=1):
        if r["listing_id"] not in listings:
            raise ValidationFailed(f"row {i}: unknown listing {r['listing_id']}")
        unit, divisor, ccy = listings[r["listing_id"]]
        objs.append(
            Price(
                listing_id=r["listing_id"],
                price_date=r["price_date"],
                as_of=r["as_of"],
                price_type=r.get("price_type", "close"),
                price=_decimal(r["price"], f"row {i} price"),
                price_unit=unit,
                price_divisor=divisor,
                currency=ccy,
                source=source,
            )
        )
    if not allow_unit_jumps and objs:
        from .selectors import latest_prices

        first_day = min(o.price_date for o in objs)
        previous = latest_prices(listing_ids={o.listing_id for o in objs}, on=first_day - dt.timedelta(days=1))
        for i, obj in enumerate(objs, start=1):
            before = previous.get(obj.listing_id)
            if before is not None and obj.price_type == "close" and _unit_slip(obj.price, before.price):
                raise ValidationFailed(
                    f"row {i}: price {obj.price} {obj.price_unit} for listing {obj.listing_id} is about 100x the "
                    f"previous {before.price} ({before.price_date}): a unit slip (GBp vs GBP)?",
                    detail={"row": i, "listing": obj.listing_id, "price": str(obj.price), "previous": str(before.price)},
                )
    Price.objects.bulk_create(
        objs,
        update_conflicts=True,
        unique_fields=["listing", "price_date", "price_type", "source"],
        update_fields=["price", "as_of", "price_unit", "price_divisor", "currency"],
        batch_size=5000,
    )
    return len(objs)


@transaction.atomic
def fx_rates_upsert(*, rows: Iterable[dict[str, Any]], source: str) -> int:
    """Load FX rates in bulk: rows of {base_currency, quote_currency, rate_date, as_of, rate}."""
    objs = []
    for i, r in enumerate(rows, start=1):
        if r["base_currency"] == r["quote_currency"]:
            raise ValidationFailed(f"row {i}: base and quote currency are both {r['base_currency']}")
        objs.append(
            FxRate(
                base_currency=r["base_currency"],
                quote_currency=r["quote_currency"],
                rate_date=r["rate_date"],
                as_of=r["as_of"],
                rate=_decimal(r["rate"], f"row {i} rate"),
                source=source,
            )
        )
    FxRate.objects.bulk_create(
        objs,
        update_conflicts=True,
        unique_fields=["base_currency", "quote_currency", "rate_date", "source"],
        update_fields=["rate", "as_of"],
        batch_size=5000,
    )
    return len(objs)


__all__ = [
    "ReferenceDataError",
    "adr_ratio_change",
    "eligibility_rules_load",
    "fx_rates_upsert",
    "instrument_create",
    "issuer_create",
    "listing_create",
    "markets_load",
    "prices_upsert",
    "reference_load_all",
    "settlement_cycles_load",
]
