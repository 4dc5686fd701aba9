"""Realistic reference data for the demo seed and for tests.

`reference_demo()` loads the shipped rule files (markets, currencies, settlement cycles,
eligibility) and creates a handful of issuers, instruments and listings that exercise the
awkward cases: a GBp line (Vodafone, HSBC on XLON), an ADR with a ratio (Vodafone ADR 10:1,
Toyota ADR 10:1), one instrument listed in London and Hong Kong (HSBC), an F-share (Nestle
NSRGF on OTC Markets) beside a sponsored Level 1 ADR, a Stock Connect A-share, a UCITS ETF
quoted in USD in London, a US ETF without a PRIIPs KID and a Reg S professional-only bond
quoted in percent of nominal. Prices and FX rates are stamped with a source and a time.

Idempotent: running it twice leaves one copy of everything.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction

from .models import Instrument, Issuer, Listing, Market
from .services import fx_rates_upsert, prices_upsert, reference_load_all

DEMO_PRICE_DATE = dt.date(2026, 11, 20)
DEMO_PRICE_SOURCE = "DEMO_CLOSE"
DEMO_FX_SOURCE = "WMR_4PM_LONDON"
HISTORY_DAYS = 21

# issuer key -> (name, country, LEI or "")
ISSUERS = {
    "apple": ("Apple Inc.", "US", "HWUPKR0MPOU8FGXBT394"),
    "vodafone": ("Vodafone Group Plc", "GB", "213800TB53ELEUKM7Q61"),
    "hsbc": ("HSBC Holdings plc", "GB", "MLU0ZO3ML4LN2LL2TL39"),
    "toyota": ("Toyota Motor Corporation", "JP", "5493006W3QUS5LMH6R84"),
    "sap": ("SAP SE", "DE", "529900D6BF99LW9R2E68"),
    "nestle": ("Nestle S.A.", "CH", "KY37LUS27QQX7BB93L28"),
    "blackrock_ie": ("iShares VII plc", "IE", ""),
    "ssga": ("SPDR S&P 500 ETF Trust", "US", ""),
    "moutai": ("Kweichow Moutai Co., Ltd.", "CN", ""),
    "demo_bond": ("Meridian Demo Holdings Ltd", "KY", ""),
}

# key -> instrument fields
INSTRUMENTS = {
    "AAPL": dict(issuer="apple", name="Apple Inc. ordinary", instrument_type="equity", isin="US0378331005",
                 cusip="037833100", figi="BBG000B9XRY4", country="US", currency="USD"),
    "VOD": dict(issuer="vodafone", name="Vodafone Group ordinary", instrument_type="equity", isin="GB00BH4HKS39",
                sedol="BH4HKS3", country="GB", currency="GBP"),
    "VOD_ADR": dict(issuer="vodafone", name="Vodafone Group ADR", instrument_type="adr", isin="US92857W3088",
                    cusip="92857W308", country="GB", currency="USD", line_kind="depositary_receipt",
                    underlying="VOD", underlying_ratio=Decimal(10), sponsorship="sponsored_l2",
                    depositary="The Bank of New York Mellon"),
    "HSBA": dict(issuer="hsbc", name="HSBC Holdings ordinary", instrument_type="equity", isin="GB0005405286",
                 sedol="0540528", country="GB", currency="GBP"),
    "TOYOTA": dict(issuer="toyota", name="Toyota Motor ordinary", instrument_type="equity", isin="JP3633400001",
                   country="JP", currency="JPY"),
    "TM_ADR": dict(issuer="toyota", name="Toyota Motor ADR", instrument_type="adr", isin="US8923313071",
                   cusip="892331307", country="JP", currency="USD", line_kind="depositary_receipt",
                   underlying="TOYOTA", underlying_ratio=Decimal(10), sponsorship="sponsored_l2",
                   depositary="JPMorgan Chase Bank"),
    "SAP": dict(issuer="sap", name="SAP SE ordinary", instrument_type="equity", isin="DE0007164600", country="DE",
                currency="EUR"),
    "NESN": dict(issuer="nestle", name="Nestle registered share", instrument_type="equity", isin="CH0038863350",
                 country="CH", currency="CHF"),
    "NSRGY": dict(issuer="nestle", name="Nestle ADR", instrument_type="adr", isin="US6410694060", country="CH",
                  currency="USD", line_kind="depositary_receipt", underlying="NESN", underlying_ratio=Decimal(1),
                  sponsorship="sponsored_l1", depositary="Citibank"),
    "CSPX": dict(issuer="blackrock_ie", name="iShares Core S&P 500 UCITS ETF USD (Acc)", instrument_type="etf",
                 isin="IE00B5BMR087", country="IE", currency="USD", eligibility_tags=["offshore_fund"]),
    "SPY": dict(issuer="ssga", name="SPDR S&P 500 ETF Trust", instrument_type="etf", isin="US78462F1030",
                country="US", currency="USD", eligibility_tags=["no_priips_kid"]),
    "MOUTAI": dict(issuer="moutai", name="Kweichow Moutai A-share", instrument_type="equity", isin="CNE0000018R8",
                   country="CN", currency="CNY", eligibility_tags=["stock_connect"]),
    "DEMO_BOND": dict(issuer="demo_bond", name="Meridian Demo Holdings 4.25% 2031 (Reg S)", instrument_type="bond",
                      isin="XS2000000005", country="KY", currency="USD",
                      eligibility_tags=["reg_s", "professional_only"]),
}

# key -> (instrument key, MIC, ticker, trading ccy, price unit, divisor, lot, tick, primary, fractional)
LISTINGS = {
    "AAPL": ("AAPL", "XNAS", "AAPL", "USD", "USD", 1, "1", "0.01", True, True),
    "VOD.L": ("VOD", "XLON", "VOD", "GBP", "GBp", 100, "1", "0.02", True, False),
    "VOD_ADR": ("VOD_ADR", "XNAS", "VOD", "USD", "USD", 1, "1", "0.01", True, False),
    "HSBA.L": ("HSBA", "XLON", "HSBA", "GBP", "GBp", 100, "1", "0.1", True, False),
    "0005.HK": ("HSBA", "XHKG", "0005", "HKD", "HKD", 1, "400", "0.05", False, False),
    "7203.T": ("TOYOTA", "XTKS", "7203", "JPY", "JPY", 1, "100", "0.5", True, False),
    "TM": ("TM_ADR", "XNYS", "TM", "USD", "USD", 1, "1", "0.01", True, False),
    "SAP.DE": ("SAP", "XETR", "SAP", "EUR", "EUR", 1, "1", "0.02", True, False),
    "NESN.SW": ("NESN", "XSWX", "NESN", "CHF", "CHF", 1, "1", "0.02", True, False),
    "NSRGF": ("NESN", "OTCM", "NSRGF", "USD", "USD", 1, "1", "0.01", False, False),
    "NSRGY": ("NSRGY", "OTCM", "NSRGY", "USD", "USD", 1, "1", "0.01", True, False),
    "CSPX.L": ("CSPX", "XLON", "CSPX", "USD", "USD", 1, "1", "0.01", True, False),
    "SPY": ("SPY", "XNYS", "SPY", "USD", "USD", 1, "1", "0.01", True, True),
    "600519.SS": ("MOUTAI", "XSHG", "600519", "CNY", "CNY", 1, "100", "0.01", True, False),
    "DEMO_BOND": ("DEMO_BOND", "XLON", "XS20DEMO", "USD", "PCT", 100, "1000", "0.001", True, False),
}

# listing key -> close price as quoted (GBp for XLON lines, percent for the bond)
PRICES = {
    "AAPL": "271.49", "VOD.L": "92.36", "VOD_ADR": "11.64", "HSBA.L": "1106.4", "0005.HK": "112.30",
    "7203.T": "3255", "TM": "207.15", "SAP.DE": "204.35", "NESN.SW": "79.12", "NSRGF": "99.20",
    "NSRGY": "99.35", "CSPX.L": "712.40", "SPY": "668.73", "600519.SS": "1460.00", "DEMO_BOND": "98.75",
}

# (base, quote) -> rate (quote units per one base unit)
FX_RATES = {
    ("EUR", "USD"): "1.1520", ("GBP", "USD"): "1.3080", ("USD", "JPY"): "156.80", ("USD", "HKD"): "7.7850",
    ("USD", "CHF"): "0.8040", ("USD", "CNY"): "7.1100", ("USD", "CAD"): "1.4050",
}


@dataclass
class ReferenceDemo:
    markets: dict[str, Market] = field(default_factory=dict)
    issuers: dict[str, Issuer] = field(default_factory=dict)
    instruments: dict[str, Instrument] = field(default_factory=dict)
    listings: dict[str, Listing] = field(default_factory=dict)
    price_date: dt.date = DEMO_PRICE_DATE


@transaction.atomic
def reference_demo(*, price_date: dt.date = DEMO_PRICE_DATE, with_prices: bool = True) -> ReferenceDemo:
    """Create (or refresh) the demo reference data and return it keyed for convenience."""
    reference_load_all()
    demo = ReferenceDemo(price_date=price_date)
    demo.markets = {m.mic: m for m in Market.objects.all()}
    for key, (name, country, lei) in ISSUERS.items():
        demo.issuers[key], _ = Issuer.objects.update_or_create(name=name, defaults={"country": country, "lei": lei})
    # ordinaries first, so receipts can point at them
    for key, spec in sorted(INSTRUMENTS.items(), key=lambda kv: "underlying" in kv[1]):
        fields = dict(spec)
        fields["issuer"] = demo.issuers[fields["issuer"]]
        if "underlying" in fields:
            fields["underlying"] = demo.instruments[fields["underlying"]]
        isin = fields.pop("isin")
        obj = Instrument.objects.filter(isin=isin).first() or Instrument(isin=isin)
        for name, value in fields.items():
            setattr(obj, name, value)
        obj.full_clean(validate_unique=False)
        obj.save()
        demo.instruments[key] = obj
    for key, (ikey, mic, ticker, ccy, unit, divisor, lot, tick, primary, fractional) in LISTINGS.items():
        demo.listings[key], _ = Listing.objects.update_or_create(
            market=demo.markets[mic],
            ticker=ticker,
            defaults=dict(
                instrument=demo.instruments[ikey],
                trading_currency=ccy,
                price_unit=unit,
                price_divisor=Decimal(divisor),
                lot_size=Decimal(lot),
                tick_size=Decimal(tick),
                is_primary=primary,
                allows_fractional=fractional,
            ),
        )
    if with_prices:
        # the same closes on every weekday of the three weeks up to price_date, so trades
        # booked in that window find a price and an FX rate
        days = [price_date - dt.timedelta(days=n) for n in range(HISTORY_DAYS + 1)]
        days = [d for d in days if d.weekday() < 5]
        prices_upsert(
            rows=[
                {"listing_id": demo.listings[k].pk, "price_date": d, "price": Decimal(p),
                 "as_of": dt.datetime.combine(d, dt.time(21, 0), tzinfo=dt.UTC)}
                for k, p in PRICES.items() for d in days
            ],
            source=DEMO_PRICE_SOURCE,
        )
        fx_rates_upsert(
            rows=[
                {"base_currency": b, "quote_currency": q, "rate_date": d, "rate": Decimal(r),
                 "as_of": dt.datetime.combine(d, dt.time(16, 0), tzinfo=dt.UTC)}
                for (b, q), r in FX_RATES.items() for d in days
            ],
            source=DEMO_FX_SOURCE,
        )
    return demo
