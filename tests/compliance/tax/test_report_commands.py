"""The report commands: crs_report (validated against the official XSD), fatca_report,
tax_extracts, reading a book file, figures joined to parties, and the accounts adapter."""
from __future__ import annotations

import csv
import datetime as dt
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from lxml import etree

from compliance.tax import services
from compliance.tax.models import ReportingInstitution, TaxReportRun
from compliance.tax.reporting.crs import validation_errors
from compliance.tax.reporting.fatca import FTC, SFA
from onboarding.audit import events_for

from .factories import AddressFactory, EntityFactory, OwnershipFactory, PersonFactory, TaxResidenceFactory
from .samples import SIGNED, form

pytestmark = pytest.mark.django_db
BOOK = Path(__file__).parent / "data" / "book_2026.json"


@pytest.fixture
def fi():
    return ReportingInstitution.objects.create(code="MERCH", name="Meridian Custody (Switzerland) AG", country="CH",
                                               city="Zurich", address_line="Bahnhofstrasse 1", postal_code="8001",
                                               tin="CHE-116.281.710", giin="98Q96B.00000.LE.756")


def run(*args) -> dict:
    out = StringIO()
    call_command(*args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_crs_report_writes_a_valid_xml_an_exceptions_csv_and_a_run_record(fi, tmp_path, shared_data):
    out = tmp_path / "crs_gb.xml"
    summary = run("crs_report", "--year", "2026", "--reporting-fi", "MERCH", "--receiving", "GB",
                  "--out", str(out), "--book", str(BOOK), "--xsd-dir", str(shared_data / "crs-xsd"))
    assert summary["reported"] == 4 and summary["not_reported"] == 2 and summary["validated"]
    assert validation_errors(out.read_bytes(), shared_data / "crs-xsd") == []
    with open(out.with_suffix(".exceptions.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {(r["account_number"], r["code"]) for r in rows if r["severity"] == "error"} == {
        ("CH-1005", "tin_missing"), ("CH-1008", "tin_missing")}
    runs = TaxReportRun.objects.get()
    assert (runs.kind, runs.receiving_country, runs.accounts_reported) == ("crs", "GB", 4)
    assert events_for(runs).get().event_type == "tax.report.crs"


def test_crs_report_refuses_the_us_and_an_unknown_institution(fi, tmp_path):
    with pytest.raises(CommandError, match="FATCA|fatca"):
        call_command("crs_report", "--year", "2026", "--reporting-fi", "MERCH", "--receiving", "US",
                     "--out", str(tmp_path / "x.xml"), "--book", str(BOOK))
    with pytest.raises(CommandError, match="no reporting institution"):
        call_command("crs_report", "--year", "2026", "--reporting-fi", "NOPE", "--receiving", "GB",
                     "--out", str(tmp_path / "x.xml"), "--book", str(BOOK))
    assert not (tmp_path / "x.xml").exists()


def test_without_a_book_the_ledger_is_read_and_no_accounts_give_a_nil_report(fi, tmp_path, shared_data):
    summary = run("crs_report", "--year", "2026", "--reporting-fi", "MERCH", "--receiving", "GB",
                  "--out", str(tmp_path / "x.xml"), "--xsd-dir", str(shared_data / "crs-xsd"))
    assert (summary["accounts_in_book"], summary["reported"], summary["validated"]) == (0, 0, True)


def test_fatca_report_lists_us_persons_and_passive_nffes_with_us_owners(fi, tmp_path):
    out = tmp_path / "fatca.xml"
    summary = run("fatca_report", "--year", "2026", "--reporting-fi", "MERCH", "--out", str(out), "--book", str(BOOK))
    assert summary["reported"] == 2 and summary["validated"] is False
    tree = etree.parse(str(out)).getroot()
    ns = {"ftc": FTC, "sfa": SFA}
    reports = {r.findtext("ftc:AccountNumber", namespaces=ns): r for r in tree.iterfind(".//ftc:AccountReport", ns)}
    assert set(reports) == {"CH-1003", "CH-1007"}
    assert reports["CH-1003"].findtext("ftc:AccountHolder/ftc:AcctHolderType", namespaces=ns) == "FATCA102"
    assert reports["CH-1003"].findtext("ftc:SubstantialOwner/ftc:Individual/sfa:TIN", namespaces=ns) == "536904399"
    jane = reports["CH-1007"]
    assert [c.tag.split("}")[1] for c in jane] == ["DocSpec", "AccountNumber", "AccountClosed", "AccountHolder",
                                                  "AccountBalance", "Payment", "Payment", "Payment"]
    assert {p.findtext("ftc:Type", namespaces=ns) for p in jane.iterfind("ftc:Payment", ns)} == {
        "FATCA501", "FATCA502", "FATCA503"}


def test_extracts_put_w9_holders_on_1099_and_w8_holders_on_1042s(fi, tmp_path):
    summary = run("tax_extracts", "--year", "2026", "--reporting-fi", "MERCH", "--out-dir", str(tmp_path),
                  "--book", str(BOOK))
    with open(summary["1099"]["file"], newline="") as fh:
        r1099 = list(csv.DictReader(fh))
    assert {(r["account_number"], r["form"], r["amount"]) for r in r1099} == {
        ("CH-1007", "1099-DIV", "800.00"), ("CH-1007", "1099-INT", "120.00"), ("CH-1007", "1099-B", "15000.00")}
    assert all(r["recipient_tin"] == "536-90-4399" for r in r1099)
    with open(summary["1042s"]["file"], newline="") as fh:
        r1042 = list(csv.DictReader(fh))
    oliver = [r for r in r1042 if r["account_number"] == "CH-1001"]
    assert {(r["income_code"], r["gross_income"], r["withholding_rate"], r["tax_withheld"], r["chapter3_exemption_code"])
            for r in oliver} == {("06", "1500.10", "15", "225.02", "04"), ("01", "55.50", "0", "0.00", "04")}
    trust = [r for r in r1042 if r["account_number"] == "CH-1003"]
    assert [(r["income_code"], r["withholding_rate"], r["chapter3_exemption_code"]) for r in trust] == [("06", "30", "00")]
    assert not any(r["income_code"] == "" for r in r1042)  # gross proceeds are not on a 1042-S
    assert TaxReportRun.objects.filter(kind__in=["1099", "1042s"]).count() == 2


def test_figures_are_joined_to_onboarding_parties_and_their_tax_forms(fi, tmp_path, shared_data):
    """Holders come from the parties: tax residences, address, controlling persons of a passive trust."""
    oliver = PersonFactory(given_names="Oliver", family_name="Twist", date_of_birth=dt.date(1980, 5, 1))
    AddressFactory(party=oliver)
    TaxResidenceFactory(party=oliver)
    trust = EntityFactory(client_type="trust", legal_name="Solaris Family Trust", country_of_incorporation="KY")
    AddressFactory(party=trust, kind="registered", line1="94 Solaris Avenue", city="George Town", country="KY")
    TaxResidenceFactory(party=trust, country="KY", tin="", no_tin_reason="A")
    settlor = PersonFactory(given_names="Ann", family_name="Lee", date_of_birth=dt.date(1970, 1, 1))
    AddressFactory(party=settlor, line1="1 High Street", city="Oxford")
    TaxResidenceFactory(party=settlor)
    OwnershipFactory(owner=settlor, owned=trust, role="settlor", percentage=0)
    services.tax_form_capture(party=trust, form_type="CRS_ENT", data=form("CRS_ENT"), signed_on=SIGNED,
                              today=dt.date(2026, 6, 1))
    figures = tmp_path / "figures.json"
    figures.write_text(json.dumps([
        {"account_number": "Z-1", "party_id": oliver.pk, "balance": "1000.5", "currency": "GBP",
         "payments": [{"type": "CRS501", "amount": "10", "currency": "GBP"}]},
        {"account_number": "Z-2", "party_id": trust.pk, "balance": "2000", "currency": "USD"},
    ]))
    out = tmp_path / "crs.xml"
    summary = run("crs_report", "--year", "2026", "--reporting-fi", "MERCH", "--receiving", "GB", "--out", str(out),
                  "--figures", str(figures), "--xsd-dir", str(shared_data / "crs-xsd"))
    assert summary["reported"] == 2
    xml = out.read_bytes()
    assert b"CRS101" in xml and b"CRS804" in xml and b"Lee" in xml and b"1000.50" in xml


def test_a_figures_file_with_a_missing_field_is_rejected_whole(fi, tmp_path):
    figures = tmp_path / "figures.json"
    figures.write_text(json.dumps([{"account_number": "Z-1", "party_id": 1, "balance": "1", "currency": "GBP"},
                                   {"account_number": "Z-2", "balance": "1", "currency": "GBP"}]))
    with pytest.raises(CommandError, match=r"\[1\]: missing field 'party_id'"):
        call_command("crs_report", "--year", "2026", "--reporting-fi", "MERCH", "--receiving", "GB",
                     "--out", str(tmp_path / "x.xml"), "--figures", str(figures))
    assert not TaxReportRun.objects.exists()


def test_the_accounts_adapter_reads_year_end_balances_and_income_from_the_ledger(fi, tmp_path, shared_data,
                                                                                 monkeypatch):
    """Wired to the accounts app: a Swiss-booked GBP account of a UK resident with a US dividend
    (15% withheld), interest and a sale is reported to the UK with CRS501-503."""
    from decimal import Decimal

    from accounts import services as accounts_services
    from accounts.demo import custodians_demo
    from compliance.tax.reporting.source import figures_from_accounts_app
    from onboarding.models import Relationship
    from tests.accounts.conftest import make_account
    from tests.factories import tax_documented
    from trading.reference.demo import reference_demo

    ref = reference_demo()
    owner = PersonFactory(given_names="Oliver", family_name="Twist", date_of_birth=dt.date(1980, 5, 1))
    AddressFactory(party=owner)
    TaxResidenceFactory(party=owner)
    Relationship.objects.create(firm=owner.firm, party=owner, state="active")
    tax_documented(owner, country="GB")  # the real activation gate asks for current forms
    fi.firms.add(owner.firm)
    account, custody = make_account(owner.firm, owner, custodians_demo(), number="CH-77", base="GBP")
    day = dt.date(2026, 11, 2)
    accounts_services.cash_deposit(account=account, custody_account=custody["us"], currency="USD",
                                   amount=Decimal(50000), value_date=day)
    aapl = ref.listings["AAPL"]
    accounts_services.trade_book(account=account, custody_account=custody["us"], listing=aapl, side="buy",
                                 quantity=Decimal(100), price=Decimal(200), trade_date=day)
    accounts_services.trade_book(account=account, custody_account=custody["us"], listing=aapl, side="sell",
                                 quantity=Decimal(40), price=Decimal(210), trade_date=dt.date(2026, 11, 16))
    accounts_services.dividend_book(account=account, custody_account=custody["us"], instrument=aapl.instrument,
                                    currency="USD", gross_amount=Decimal("25.00"), ex_date=dt.date(2026, 11, 9),
                                    pay_date=dt.date(2026, 11, 12), withholding_rate=Decimal("0.15"))
    accounts_services.interest_book(account=account, custody_account=custody["eu"], currency="GBP",
                                    amount=Decimal("3.21"), value_date=dt.date(2026, 11, 13))

    figures, problems = figures_from_accounts_app(year=2026, institution=fi)
    assert problems == []
    [row] = figures
    assert (row.number, row.party_id, row.currency, row.closed) == ("CH-77", owner.pk, "GBP", False)
    assert row.balance > 0
    payments = {(p.type, p.currency): p for p in row.payments}
    assert payments[("CRS501", "USD")].amount == Decimal("25.00")
    assert payments[("CRS501", "USD")].withheld == Decimal("3.75")
    assert payments[("CRS501", "USD")].withholding_rate == Decimal("15.00")
    assert payments[("CRS502", "GBP")].amount == Decimal("3.21")
    assert payments[("CRS503", "USD")].amount == Decimal("8400.00")

    out = tmp_path / "crs.xml"
    summary = run("crs_report", "--year", "2026", "--reporting-fi", "MERCH", "--receiving", "GB", "--out", str(out),
                  "--xsd-dir", str(shared_data / "crs-xsd"))
    assert summary["reported"] == 1 and summary["validated"]
    assert b"CH-77" in out.read_bytes() and b"CRS503" in out.read_bytes()
