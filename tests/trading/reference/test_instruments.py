"""Instruments, listings and prices: identifiers checked, ADR links held by the database, GBp
prices converted by the listing's divisor, FX crossed through a pivot."""
import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from onboarding.exceptions import ValidationFailed
from trading.reference.exceptions import FxRateMissing
from trading.reference.models import Instrument, Listing
from trading.reference.selectors import fx_rates_to, latest_prices, primary_listings
from trading.reference.services import adr_ratio_change, instrument_create

pytestmark = pytest.mark.django_db


def test_an_instrument_with_a_bad_isin_check_digit_is_refused(ref):
    with pytest.raises(ValidationFailed) as err:
        instrument_create(name="Bad", instrument_type="equity", isin="US0378331006", currency="USD")
    assert "isin" in err.value.detail


def test_an_instrument_with_a_bad_sedol_is_refused(ref):
    with pytest.raises(ValidationFailed) as err:
        instrument_create(name="Bad", instrument_type="equity", isin="GB00B03MLX29", sedol="B03MLX3", currency="GBP")
    assert "sedol" in err.value.detail


def test_the_database_refuses_an_adr_without_an_underlying(ref):
    with pytest.raises(IntegrityError), transaction.atomic():
        Instrument.objects.create(
            name="Orphan ADR", instrument_type="adr", isin="US0000000002",
            currency="USD", line_kind="depositary_receipt",
        )


def test_the_database_refuses_sponsorship_on_an_ordinary(ref):
    with pytest.raises(IntegrityError), transaction.atomic():
        Instrument.objects.filter(pk=ref.instruments["SAP"].pk).update(sponsorship="unsponsored")


def test_an_adr_and_an_f_share_lead_back_to_the_same_ordinary(ref):
    assert ref.instruments["NSRGY"].economic_underlying == ref.instruments["NESN"]
    f_share = ref.listings["NSRGF"]
    assert f_share.instrument == ref.instruments["NESN"] and f_share.market.is_otc
    assert ref.instruments["VOD_ADR"].underlying_ratio == Decimal(10)


def test_an_unsponsored_adr_can_be_recorded(ref):
    adr = instrument_create(
        name="Nestle unsponsored ADR", instrument_type="adr", isin="US0000000002", currency="USD",
        line_kind="depositary_receipt", underlying=ref.instruments["NESN"], underlying_ratio=Decimal("0.5"),
        sponsorship="unsponsored", depositary="Deutsche Bank Trust Company Americas",
    )
    assert adr.sponsorship == "unsponsored"


def test_an_adr_ratio_change_updates_the_master_and_writes_an_audit_event(ref):
    from onboarding.audit import events_for

    adr_ratio_change(instrument=ref.instruments["VOD_ADR"], new_ratio=Decimal(5), effective_date=dt.date(2026, 12, 1))
    adr = Instrument.objects.get(pk=ref.instruments["VOD_ADR"].pk)
    assert adr.underlying_ratio == Decimal(5)
    event = events_for(adr).get()
    assert event.detail["old_ratio"] == "10.00000000" and event.detail["new_ratio"] == "5"


def test_a_gbp_pence_price_is_divided_by_100_to_give_pounds(ref):
    prices = latest_prices(listing_ids=[ref.listings["VOD.L"].pk, ref.listings["AAPL"].pk], on=dt.date(2026, 11, 23))
    vod = prices[ref.listings["VOD.L"].pk]
    assert (vod.price, vod.price_unit, vod.currency) == (Decimal("92.36"), "GBp", "GBP")
    assert vod.in_currency == Decimal("0.9236")
    assert prices[ref.listings["AAPL"].pk].in_currency == Decimal("271.49")


def test_the_newest_price_on_or_before_the_date_is_used(ref):
    from trading.reference.services import prices_upsert

    listing = ref.listings["SAP.DE"]
    stamp = dt.datetime(2026, 11, 23, 17, 35, tzinfo=dt.UTC)
    prices_upsert(rows=[{"listing_id": listing.pk, "price_date": dt.date(2026, 11, 23), "as_of": stamp, "price": "210"}], source="X")
    assert latest_prices(listing_ids=[listing.pk], on=dt.date(2026, 11, 22))[listing.pk].price == Decimal("204.35")
    assert latest_prices(listing_ids=[listing.pk], on=dt.date(2026, 11, 23))[listing.pk].price == Decimal(210)


def test_fx_rates_are_direct_inverse_or_crossed_through_usd(ref):
    rates = fx_rates_to(target="GBP", currencies=["USD", "EUR", "JPY", "GBP"], on=dt.date(2026, 11, 20))
    assert rates["GBP"].rate == 1
    assert rates["USD"].rate == Decimal(1) / Decimal("1.3080")
    assert rates["EUR"].rate == Decimal("1.1520") * (Decimal(1) / Decimal("1.3080"))
    assert abs(rates["JPY"].rate - Decimal(1) / Decimal("156.80") / Decimal("1.3080")) < Decimal("1e-12")
    assert rates["USD"].source == "WMR_4PM_LONDON"


def test_a_missing_fx_rate_is_reported(ref):
    with pytest.raises(FxRateMissing):
        fx_rates_to(target="GBP", currencies=["USD"], on=dt.date(2020, 1, 1))


def test_primary_listing_is_preferred(ref):
    assert primary_listings(instrument_ids=[ref.instruments["HSBA"].pk]) == {ref.instruments["HSBA"].pk: ref.listings["HSBA.L"].pk}


def test_two_primary_listings_for_one_instrument_are_refused(ref):
    with pytest.raises(IntegrityError), transaction.atomic():
        Listing.objects.filter(pk=ref.listings["0005.HK"].pk).update(is_primary=True)


def test_the_identifier_table_names_each_instrument_by_every_identifier(ref):
    from trading.reference.selectors import identifier_table

    rows = identifier_table(instrument_ids=[ref.instruments["HSBA"].pk])
    pk = ref.instruments["HSBA"].pk
    assert ("ISIN", "GB0005405286", pk, Decimal(1)) in rows
    assert ("SEDOL", "0540528", pk, Decimal(1)) in rows
    assert {r[1] for r in rows if r[0] == "TICKER"} == {"XLON:HSBA", "XHKG:0005"}


def test_a_pence_price_loaded_as_pounds_is_refused_and_nothing_loads(ref):
    from trading.reference.models import Price
    from trading.reference.services import prices_upsert

    vod, aapl = ref.listings["VOD.L"], ref.listings["AAPL"]
    stamp = dt.datetime(2026, 11, 23, 17, tzinfo=dt.UTC)
    rows = [{"listing_id": aapl.pk, "price_date": dt.date(2026, 11, 23), "as_of": stamp, "price": "272"},
            {"listing_id": vod.pk, "price_date": dt.date(2026, 11, 23), "as_of": stamp, "price": "0.93"}]
    with pytest.raises(ValidationFailed) as err:
        prices_upsert(rows=rows, source="FEED")
    assert err.value.detail["row"] == 2 and "unit slip" in err.value.message
    assert not Price.objects.filter(source="FEED").exists()
    assert prices_upsert(rows=rows, source="FEED", allow_unit_jumps=True) == 2
