"""Reference endpoints (issue 18, "Fewer calls"): a partner building a model looks instruments up by ISIN, CUSIP,
SEDOL, FIGI, ticker and MIC instead of guessing; reads markets with their time zone, settlement cycle and
calendar; currencies; custodians. Read-only and the same for every firm.

Oracles are public facts written here: Apple's ISIN US0378331005 and CUSIP 037833100 (SEC filings), Vodafone's
SEDOL BH4HKS3; US equities settle T+1 from 28 May 2024 (SEC Release 34-96930) and London T+2 until the UK moves
to T+1 on 11 October 2027; in 2026 Christmas Day is a Friday, so England's Boxing Day holiday moves to Monday
28 December and the LSE closes on both days; on Columbus Day (12 October 2026) the NYSE trades but the Federal
Reserve is closed, so US trades do not settle that day; JPY has no minor unit (ISO 4217)."""
from __future__ import annotations

import pytest
import time_machine

from tests.factories import FirmFactory, UserFactory
from tests.trading.factories import CustodianFactory
from trading.reference.demo import reference_demo
from trading.reference.models import Market

from .conftest import assert_error, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def partner(db):
    reference_demo()
    return token_client(UserFactory(firm=FirmFactory(), role="advisor"), scopes=("read",))


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_an_instrument_is_found_by_each_of_its_identifiers_with_its_listings(partner):
    for query in ("isin=US0378331005", "cusip=037833100", "figi=BBG000B9XRY4", "ticker=AAPL",
                  "ticker=aapl&mic=XNAS", "search=Apple"):
        rows = results(partner.get(f"/api/v1/instruments/?{query}"))
        assert [r["isin"] for r in rows] == ["US0378331005"], query
    apple = rows[0]
    assert apple["cusip"] == "037833100" and apple["instrument_type"] == "equity" and apple["currency"] == "USD"
    assert any(listing["mic"] == "XNAS" and listing["ticker"] == "AAPL" for listing in apple["listings"])
    assert [r["isin"] for r in results(partner.get("/api/v1/instruments/?sedol=BH4HKS3"))] == ["GB00BH4HKS39"]
    # a ticker on the wrong market finds nothing; an unknown ISIN finds nothing (not the whole list)
    assert results(partner.get("/api/v1/instruments/?ticker=AAPL&mic=XLON")) == []
    assert results(partner.get("/api/v1/instruments/?isin=US0000000000")) == []
    on_xlon = results(partner.get("/api/v1/instruments/?mic=XLON&page_size=500"))
    assert "GB00BH4HKS39" in {r["isin"] for r in on_xlon} and "US0378331005" not in {r["isin"] for r in on_xlon}
    assert_error(partner.get("/api/v1/instruments/?instrument_type=spaceship"), 400, "validation_failed")
    detail = partner.get(f"/api/v1/instruments/{apple['id']}/")
    assert detail.status_code == 200 and detail.json()["isin"] == "US0378331005"


def test_listings_are_filtered_by_isin_ticker_and_market(partner):
    rows = results(partner.get("/api/v1/listings/?isin=GB00BH4HKS39"))
    assert rows and all(r["isin"] == "GB00BH4HKS39" for r in rows)
    assert {r["mic"] for r in rows} == {"XLON"} and rows[0]["ticker"] == "VOD"
    assert rows[0]["trading_currency"] == "GBP" and rows[0]["price_unit"] in ("GBp", "GBX")
    assert all(r["mic"] == "XTKS" for r in results(partner.get("/api/v1/listings/?mic=xtks")))
    # found by the contract run: an id filter beyond a bigint was a 500 (OverflowError), now a 400
    for bad in ("-9.874334316379485e+33", str(10**30), "1.5"):
        assert "instrument" in assert_error(partner.get("/api/v1/listings/", {"instrument": bad}), 400,
                                            "validation_failed")["detail"]


@time_machine.travel("2026-12-07 12:00:00+00:00", tick=False)
def test_markets_carry_time_zone_session_and_the_settlement_cycle_in_force(partner):
    xnys = partner.get("/api/v1/markets/XNYS/")
    assert xnys.status_code == 200, xnys.content
    body = xnys.json()
    assert body["time_zone"] == "America/New_York" and body["open_time"] == "09:30:00"
    assert body["settlement_currency"] == "USD"
    assert [(c["instrument_type"], c["days"]) for c in body["settlement_cycles"] if c["instrument_type"] == ""] == [
        ("", 1)]
    xlon = partner.get("/api/v1/markets/xlon/").json()  # MIC in any case
    assert [c["days"] for c in xlon["settlement_cycles"] if c["instrument_type"] == ""] == [2]
    assert {m["mic"] for m in results(partner.get("/api/v1/markets/?country=GB"))} >= {"XLON"}
    assert_error(partner.get("/api/v1/markets/ZZZZ/"), 404, "not_found")


def test_a_market_calendar_says_which_days_trade_and_settle(partner):
    days = partner.get("/api/v1/markets/XLON/calendar/?start=2026-12-24&end=2026-12-29")
    assert days.status_code == 200, days.content
    by_date = {d["date"]: d for d in days.json()["days"]}
    assert [d for d, row in by_date.items() if row["is_session"]] == ["2026-12-24", "2026-12-29"]
    assert by_date["2026-12-25"]["weekday"] == "Fri" and not by_date["2026-12-28"]["is_settlement_day"]
    columbus = partner.get("/api/v1/markets/XNYS/calendar/?start=2026-10-12&end=2026-10-12").json()["days"][0]
    assert columbus["is_session"] is True and columbus["is_settlement_day"] is False
    assert_error(partner.get("/api/v1/markets/XNYS/calendar/?start=2026-01-01&end=2027-06-01"), 400,
                 "validation_failed")
    assert "start" in assert_error(partner.get("/api/v1/markets/XNYS/calendar/?start=soon"), 400)["detail"]


def test_currencies_and_custodians(partner):
    jpy = partner.get("/api/v1/currencies/jpy/")
    assert jpy.status_code == 200 and jpy.json()["minor_units"] == 0 and jpy.json()["code"] == "JPY"
    assert partner.get("/api/v1/currencies/GBP/").json()["minor_units"] == 2
    assert "EUR" in {c["code"] for c in results(partner.get("/api/v1/currencies/?search=euro"))}
    custodian = CustodianFactory(name="ALPHA CUSTODY", code="ALPHA", country="GB")
    custodian.markets.add(Market.objects.get(mic="XLON"))
    CustodianFactory(name="BETA CUSTODY", code="BETA", country="US")
    assert [c["code"] for c in results(partner.get("/api/v1/custodians/?market=XLON"))] == ["ALPHA"]
    assert [c["code"] for c in results(partner.get("/api/v1/custodians/?search=beta"))] == ["BETA"]


def test_reference_data_is_read_only_and_needs_a_token(partner):
    writer = token_client(UserFactory(firm=FirmFactory(), role="firm_admin"))
    assert_error(writer.post("/api/v1/instruments/", {}, format="json"), 405, "method_not_allowed")
    assert_error(writer.delete("/api/v1/markets/XLON/"), 405, "method_not_allowed")
    from rest_framework.test import APIClient

    assert_error(APIClient().get("/api/v1/markets/"), 401, "not_authenticated")
    root = partner.get("/api/v1/").json()
    assert {"instruments", "listings", "markets", "currencies", "custodians", "webhook-events"} <= set(root)
