"""PDFs: each form renders pre-filled (checked by extracting the text), the case file renders,
and the renderer fetches nothing named in user data."""
from __future__ import annotations

import datetime as dt
import io
import re

import pytest
import time_machine
from pypdf import PdfReader

from compliance.tax import services
from compliance.tax.documents import (
    RefusingURLFetcher,
    html_to_pdf,
    render_case_file_pdf,
    render_tax_form_pdf,
)
from compliance.tax.forms_catalogue import FORM_TYPES
from onboarding.audit import record_event

from .factories import AddressFactory, CaseFactory, EntityFactory, OwnershipFactory, PersonFactory
from .samples import SIGNED, form

pytestmark = pytest.mark.django_db

EXPECTED = {
    "W9": ["Form", "W-9", "Request for Taxpayer Identification Number", "536-90-4399", "Jane Roe", "Springfield"],
    "W8BEN": ["W-8BEN", "Oliver Twist", "1955839661", "10(2)(b)", "dividends", "Claim of Tax Treaty Benefits"],
    "W8BENE": ["W-8BEN-E", "Thames Holdings Ltd", "corporation", "active NFFE", "publicly traded company"],
    "W8IMY": ["W-8IMY", "Cayman Feeder LP", "98Q96B.00000.LE.250", "nonwithholding foreign partnership"],
    "W8ECI": ["W-8ECI", "Maple Trading Inc", "Rental income from US real property", "91-1144442"],
    "CRS_IND": ["Certification for Individuals", "Oliver Twist", "1955839661", "Reason A"],
    "CRS_ENT": ["Certification for Entities", "Solaris Family Trust", "Controlling Persons", "Ann Lee", "CRS803"],
    "CRS_CP": ["Certification for Controlling Persons", "Ann Lee", "Solaris Family Trust", "CRS803"],
}


def pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


def make_form(kind: str, **changes):
    if kind in {"W8BENE", "W8IMY", "CRS_ENT", "W8ECI"}:
        party = EntityFactory(legal_name=form(kind)["name"])
    else:
        party = PersonFactory(given_names=form(kind)["name"].split()[0], family_name=form(kind)["name"].split()[1])
    related = EntityFactory(legal_name="Solaris Family Trust") if kind == "CRS_CP" else None
    with time_machine.travel(dt.datetime(2026, 6, 1, tzinfo=dt.UTC)):
        return services.tax_form_capture(party=party, form_type=kind, data=form(kind, **changes), signed_on=SIGNED,
                                         related_party=related)


@pytest.mark.parametrize("kind", sorted(FORM_TYPES))
def test_each_form_renders_as_a_prefilled_pdf_ready_to_sign(kind):
    f = make_form(kind)
    pdf = render_tax_form_pdf(f, reveal=True)  # in full, as the audited reveal prints it for signing
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    for expected in EXPECTED[kind]:
        assert expected in text, (kind, expected)
    assert "Signature" in text and SIGNED.strftime("%d-%m-%Y") in text


def test_a_w8_with_indicia_prints_the_warning():
    party = PersonFactory(place_of_birth_country="US")
    f = services.tax_form_capture(party=party, form_type="W8BEN", data=form("W8BEN"), signed_on=SIGNED,
                                  today=dt.date(2026, 6, 1))
    assert "US indicia found (1)" in pdf_text(render_tax_form_pdf(f))


def test_markup_in_a_name_is_printed_as_text_and_nothing_is_fetched(monkeypatch):
    calls: list[str] = []
    original = RefusingURLFetcher.fetch

    def spy(self, url, headers=None):
        calls.append(url)
        return original(self, url, headers)

    monkeypatch.setattr(RefusingURLFetcher, "fetch", spy)
    monkeypatch.setattr(RefusingURLFetcher, "__call__", spy)
    evil = '<img src="file:///etc/passwd"> <img src="http://169.254.169.254/latest/meta-data/">'
    f = make_form("W8BEN", name=evil)
    text = pdf_text(render_tax_form_pdf(f))
    assert 'src="file:///etc/passwd"' in text  # printed, not interpreted
    assert "root:" not in text
    assert calls == []  # escaped markup never reaches the fetcher


def test_the_fetcher_refuses_file_and_network_urls_even_in_raw_html():
    fetcher = RefusingURLFetcher()
    html = ('<html><head><link rel="stylesheet" href="http://example.com/x.css"></head><body>'
            '<p>before</p><img src="file:///etc/passwd"><img src="https://example.com/a.png">'
            '<div style="background: url(file:///etc/hostname)">after</div></body></html>')
    text = pdf_text(html_to_pdf(html, fetcher=fetcher))
    assert "before" in text and "after" in text
    assert "root:" not in text
    assert set(fetcher.refused) >= {"file:///etc/passwd", "https://example.com/a.png", "http://example.com/x.css"}


def test_the_case_file_shows_party_ownership_requirements_forms_screening_and_audit():
    trust = EntityFactory(client_type="trust", legal_name="Solaris Family Trust", country_of_incorporation="KY")
    AddressFactory(party=trust, kind="registered", line1="94 Solaris Avenue", city="George Town", country="KY")
    settlor = PersonFactory(given_names="Ann", family_name="Lee")
    OwnershipFactory(owner=settlor, owned=trust, role="settlor", percentage=0)
    case = CaseFactory(party=trust, jurisdiction="CH")
    with time_machine.travel(dt.datetime(2026, 6, 1, tzinfo=dt.UTC)):
        services.tax_form_capture(party=trust, form_type="W8BENE", data=form("W8BENE", name="Solaris Family Trust"),
                                  signed_on=SIGNED)
    record_event(subject=case, event_type="screening.alert_cleared", to_state="cleared",
                 reason="false positive: different date of birth")
    text = pdf_text(render_case_file_pdf(case))
    for expected in ["Onboarding case file: Solaris Family Trust", "94 Solaris Avenue", "Ann Lee", "settlor",
                     "crs self-certification", "form w-8ben-e",
                     "Screening alert cleared as a false positive", "false positive", "Tax form validated",
                     "audit trail"]:
        assert expected.lower() in text.lower(), expected
    assert "tax_form.validated" not in text and "screening.alert_cleared" not in text  # events in words


def test_the_case_file_degrades_when_the_rule_pack_evaluator_fails(monkeypatch):
    import onboarding.selectors as onboarding_selectors

    def broken(case):
        raise RuntimeError("no packs")

    monkeypatch.setattr(onboarding_selectors, "case_outstanding", broken)
    monkeypatch.setattr(onboarding_selectors, "beneficial_owner_summary", broken)
    case = CaseFactory(party=PersonFactory(given_names="Solo", family_name="Client"), jurisdiction="US")
    text = pdf_text(render_case_file_pdf(case))
    assert "Registered providers only" in text and "Form W-8BEN" in text


def test_the_case_file_uses_the_rule_pack_evaluator_when_packs_are_loaded():
    from onboarding.services import rulepacks_load

    rulepacks_load()
    company = EntityFactory(legal_name="Thames Holdings Ltd")
    OwnershipFactory(owner=PersonFactory(given_names="Major", family_name="Owner"), owned=company, percentage=60)
    case = CaseFactory(party=company, jurisdiction="GB")
    text = pdf_text(render_case_file_pdf(case))
    assert "Effective shares are products along each ownership path" in text
    assert "From the pinned rule pack and every registered provider" in text
    assert "Major Owner" in text and "60.00" in text
    assert "tax.w8bene" in text  # the tax provider's item among the pack's requirements
