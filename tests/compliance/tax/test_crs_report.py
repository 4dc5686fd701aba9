"""CRS XML v2.0 from a book of individuals, entities and controlling persons, validated against
the official schema; accounts that cannot be reported go to the exceptions report."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from compliance.tax.exceptions import ReportError
from compliance.tax.reporting.book import ReportingFI, load_book
from compliance.tax.reporting.crs import CRS, STF, build_crs_message, validation_errors

BOOK = Path(__file__).parent / "data" / "book_2026.json"
FI = ReportingFI(code="MERCH", name="Meridian Custody (Switzerland) AG", country="CH", city="Zurich",
                 street="Bahnhofstrasse 1", post_code="8001", tin="CHE-116.281.710", giin="98Q96B.00000.LE.756")
NS = {"crs": CRS, "stf": STF}
STAMP = dt.datetime(2027, 5, 15, 9, 30, 0)


@pytest.fixture
def xsd_dir(shared_data) -> Path:
    return shared_data / "crs-xsd"


def build(receiving="GB", accounts=None):
    return build_crs_message(fi=FI, accounts=accounts if accounts is not None else load_book(BOOK), year=2026,
                             receiving_country=receiving, message_ref_id=f"CH2026MERCH-{receiving}-1", timestamp=STAMP)


def test_the_gb_report_validates_against_the_official_crs_schema(xsd_dir):
    result = build("GB")
    assert validation_errors(result.xml, xsd_dir) == []
    assert result.reported == ["CH-1001", "CH-1002", "CH-1003", "CH-1004"]


def test_the_report_carries_individuals_entities_controlling_persons_balances_and_payments():
    tree = etree.fromstring(build("GB").xml)
    reports = {r.findtext("crs:AccountNumber", namespaces=NS): r for r in tree.iterfind(".//crs:AccountReport", NS)}
    oliver = reports["CH-1001"]
    assert oliver.findtext("crs:AccountHolder/crs:Individual/crs:TIN", namespaces=NS) == "1955839661"
    assert oliver.find("crs:AccountBalance", NS).text == "250000.46"
    assert oliver.find("crs:AccountBalance", NS).get("currCode") == "GBP"
    payments = {(p.findtext("crs:Type", namespaces=NS), p.findtext("crs:PaymentAmnt", namespaces=NS))
                for p in oliver.iterfind("crs:Payment", NS)}
    assert payments == {("CRS501", "1500.10"), ("CRS502", "55.50"), ("CRS503", "40000.00")}

    trust = reports["CH-1003"]
    assert trust.findtext("crs:AccountHolder/crs:AcctHolderType", namespaces=NS) == "CRS101"
    cps = [(c.findtext("crs:Individual/crs:Name/crs:LastName", namespaces=NS),
            c.findtext("crs:CtrlgPersonType", namespaces=NS)) for c in trust.iterfind("crs:ControllingPerson", NS)]
    assert cps == [("Lee", "CRS804"), ("Ng", "CRS805"), ("Roe", "CRS807")]
    assert reports["CH-1004"].findtext("crs:AccountHolder/crs:AcctHolderType", namespaces=NS) == "CRS102"
    assert reports["CH-1002"].findtext(".//crs:FirstName", namespaces=NS) == "NFN"
    spec = tree.find("crs:MessageSpec", NS)
    assert [spec.findtext(f"crs:{t}", namespaces=NS) for t in ("TransmittingCountry", "ReceivingCountry",
                                                                "MessageTypeIndic", "ReportingPeriod")] == [
        "CH", "GB", "CRS701", "2026-12-31"]


def test_a_negative_balance_is_reported_as_zero_with_a_warning():
    result = build("GB")
    tree = etree.fromstring(result.xml)
    [madonna] = [r for r in tree.iterfind(".//crs:AccountReport", NS)
                 if r.findtext("crs:AccountNumber", namespaces=NS) == "CH-1002"]
    assert madonna.findtext("crs:AccountBalance", namespaces=NS) == "0.00"
    assert any(e.code == "negative_balance" and e.severity == "warning" for e in result.exceptions)


def test_accounts_that_cannot_be_reported_are_listed_not_dropped():
    result = build("GB")
    errors = {(e.account_number, e.code) for e in result.errors}
    assert ("CH-1005", "tin_missing") in errors  # individual with no GB TIN and no reason
    assert ("CH-1008", "tin_missing") in errors  # controlling person without TIN or reason
    assert "CH-1005" not in result.reported and "CH-1008" not in result.reported
    assert b"CH-1005" not in result.xml


def test_only_accounts_reportable_to_the_receiving_country_appear(xsd_dir):
    de = build("DE")
    assert de.reported == ["CH-1006"]
    assert validation_errors(de.xml, xsd_dir) == []
    sg = build("SG")
    assert sg.reported == ["CH-1003"]  # the trust, for its Singapore controlling person
    assert build("FR").reported == ["CH-1002"]  # dual resident


def test_a_nil_report_still_validates(xsd_dir):
    result = build("JP")
    assert result.reported == [] and validation_errors(result.xml, xsd_dir) == []


def test_the_schema_check_catches_a_broken_report(xsd_dir):
    xml = build("GB").xml.replace(b"<crs:MessageType>CRS</crs:MessageType>", b"<crs:MessageType>FATCA</crs:MessageType>")
    assert validation_errors(xml, xsd_dir)


def test_a_book_file_with_a_bad_amount_is_rejected_naming_the_account_and_field(tmp_path):
    bad = tmp_path / "book.json"
    bad.write_text('{"accounts": [{"account_number": "A1", "currency": "EUR", "balance": "12,5",'
                   ' "holder": {"kind": "individual", "last_name": "X", "address": {"country": "GB"}}}]}')
    with pytest.raises(ReportError) as exc:
        load_book(bad)
    assert exc.value.detail == {"file": "book.json", "where": "accounts[0].balance"}


def test_amounts_stay_decimal():
    account = load_book(BOOK)[0]
    assert isinstance(account.balance, Decimal) and account.balance == Decimal("250000.456")
