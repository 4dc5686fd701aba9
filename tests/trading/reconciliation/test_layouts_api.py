"""GET /api/v1/recon-layouts/: read-only, the custodians a firm holds accounts at, each with the file
formats in force and, for a CSV export, the layout version that reads it."""
from __future__ import annotations

import datetime as dt

import pytest

from tests.api.conftest import assert_error, token_client
from tests.factories import FirmFactory, PersonFactory, UserFactory
from trading.reconciliation import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def firm_at_two_custodians():
    from accounts import services as accounts_services
    from accounts.demo import custodians_demo
    from onboarding.models import Relationship
    from tests.accounts.conftest import make_account
    from tests.factories import tax_documented
    from trading.reference.demo import reference_demo

    reference_demo()
    custodians = custodians_demo()
    services.rules_load()  # the shipped layouts (pershing_csv v1 among them)
    broker = accounts_services.custodian_create(name="Acme Brokerage", bic="", country="US", markets=["XNYS"])
    firm = FirmFactory(home_jurisdiction="CH")
    owner = PersonFactory(firm=firm, residence_country="CH", nationalities=["GB"])
    Relationship.objects.create(firm=firm, party=owner, state="active")
    tax_documented(owner)
    account, _ = make_account(firm, owner, custodians, number="L-1")
    accounts_services.custody_account_add(account=account, custodian=broker, number="L-1-BRK", markets=["XNYS"])
    services.custodian_format_set(custodian_code="CITIGB2L", fmt="mt535", file_pattern="*.fin",
                                  source="onboarding", effective_from="2026-01-01")
    services.custodian_format_set(custodian_code="CITIGB2L", fmt="mt940", file_pattern="*.sta",
                                  source="onboarding", effective_from="2026-01-01")
    services.custodian_format_set(custodian_code="ACME_BROKERAGE", fmt="csv:pershing_csv", source="onboarding",
                                  effective_from="2026-01-01")
    # a change: Citi stops sending MT940 from March (a new version, switched off)
    services.custodian_format_set(custodian_code="CITIGB2L", fmt="mt940", file_pattern="*.sta", active=False,
                                  source="onboarding", effective_from="2026-03-01")
    return firm


def test_a_firm_sees_its_custodians_formats_and_layouts(firm_at_two_custodians):
    client = token_client(UserFactory(firm=firm_at_two_custodians, role="operations"))
    body = client.get("/api/v1/recon-layouts/", {"on": "2026-02-15"}).json()
    by_code = {c["code"]: c for c in body}
    # make_account opens accounts at BNY, Citi and HSBC; the broker account makes four
    assert set(by_code) == {"IRVTUS3N", "CITIGB2L", "HSBCHKHH", "ACME_BROKERAGE"}
    citi = by_code["CITIGB2L"]
    assert [(f["format"], f["file_pattern"], f["version"]) for f in citi["formats"]] == [
        ("mt535", "*.fin", 1), ("mt940", "*.sta", 1)]
    assert citi["formats"][0]["format_label"] == "SWIFT MT535 statement of holdings"
    acme = by_code["ACME_BROKERAGE"]
    assert acme["bic"] is None
    (csv,) = acme["formats"]
    assert (csv["format"], csv["layout"]["code"], csv["layout"]["version"]) == ("csv:pershing_csv", "pershing_csv", 1)
    assert csv["layout"]["record_types"] and csv["format_label"] == "CSV layout pershing_csv"
    # from March the MT940 entry's newest version is switched off: no longer listed
    later = client.get("/api/v1/recon-layouts/", {"on": "2026-03-02"}).json()
    assert [f["format"] for f in {c["code"]: c for c in later}["CITIGB2L"]["formats"]] == ["mt535"]


def test_another_firm_sees_none_of_it_and_writes_are_refused(firm_at_two_custodians):
    other = token_client(UserFactory(firm=FirmFactory(), role="operations"))
    assert other.get("/api/v1/recon-layouts/").json() == []
    officer = token_client(UserFactory(firm=None, role="compliance_officer"))  # a platform officer
    assert {c["code"] for c in officer.get("/api/v1/recon-layouts/").json()} >= {
        "IRVTUS3N", "CITIGB2L", "UBSWCHZH80A", "HSBCHKHH", "PRSHUS33", "ACME_BROKERAGE"}  # every custodian
    client = token_client(UserFactory(firm=firm_at_two_custodians, role="operations"))
    assert client.post("/api/v1/recon-layouts/", {}, format="json").status_code == 405
    assert_error(client.get("/api/v1/recon-layouts/", {"on": "tomorrow"}), 400, "validation_failed")
    # without ?on= the formats in force today
    today = {c["code"]: c for c in client.get("/api/v1/recon-layouts/").json()}
    assert [f["format"] for f in today["CITIGB2L"]["formats"]] == (
        ["mt535"] if dt.date.today() >= dt.date(2026, 3, 1) else ["mt535", "mt940"])
