"""Words, not codes, where the issue found codes: the header names the site the user is in, the
documents table says "PDF document" and a local date, and a superseded tax form names its
successor ("Superseded by Form W-8BEN-E signed 3 Mar 2026"), never "superseded by form 15"."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse

from onboarding import services
from onboarding.samples import pdf_bytes
from tests.factories import EntityFactory, UserFactory

pytestmark = pytest.mark.django_db


def brand(html: str) -> str:
    return re.search(r'<span class="brand-sub">([^<]*)</span>', html).group(1)


def test_the_header_names_the_site_by_role(client, advisor, firm, packs):
    client.force_login(advisor)
    assert brand(client.get(reverse("portal:home")).content.decode()) == "advisor portal"
    officer = UserFactory(firm=None, role="compliance_officer", username="olive")
    client.force_login(officer)
    html = client.get(reverse("desk:queue")).content.decode()
    assert brand(html) == "compliance review desk" and "advisor portal" not in html
    operations = UserFactory(firm=firm, role="operations", username="otto")
    client.force_login(operations)
    assert brand(client.get(reverse("portal:account_list")).content.decode()) == "operations"


@pytest.fixture
def case(firm, advisor, packs):
    party = EntityFactory(firm=firm, legal_name="Fjord Holdings AS", country_of_incorporation="NO")
    return services.case_create(firm=firm, party=party, actor=advisor, jurisdiction="GB")


def test_the_documents_table_says_pdf_document_and_a_local_date_with_an_audited_link(signed_in, case, advisor,
                                                                                    time_machine, settings):
    # 23:30 UTC on 2 Mar is 3 Mar in Singapore (UTC+8): the page shows the local date
    settings.TIME_ZONE = "Asia/Singapore"
    time_machine.move_to(dt.datetime(2026, 3, 2, 23, 30, tzinfo=dt.UTC))
    signed_in.force_login(advisor)
    doc = services.document_add(party=case.party, actor=advisor, doc_type="certificate_of_incorporation",
                                content=pdf_bytes("certificate"), original_name="certificate.pdf")
    html = signed_in.get(reverse("portal:case_detail", args=[case.pk])).content.decode()
    table = re.search(r'<table class="data documents">.*?</table>', html, re.DOTALL).group(0)
    assert "PDF document" in table and "application/pdf" not in table
    assert "3 Mar 2026, 07:30" in table and "2026-03-02" not in table
    assert reverse("onboarding:document-download", args=[doc.pk]) in table


def test_a_superseded_form_names_its_successor_in_words(firm, advisor):
    from compliance.tax.models import TaxForm
    from compliance.tax.selectors import status_reason_words
    from compliance.tax.services import tax_form_capture

    party = EntityFactory(firm=firm, legal_name="Fjord Holdings AS", country_of_incorporation="NO")
    data = {"name": "Fjord Holdings AS", "country_of_incorporation": "NO", "chapter3_status": "corporation",
            "chapter4_status": "active_nffe", "foreign_tin_not_required": True, "certified": True,
            "signer_name": "Kari Nordmann", "permanent_address": {"line1": "Karl Johans gate 1", "city": "Oslo",
                                                                  "country": "NO"}}
    first = tax_form_capture(party=party, form_type="W8BENE", data=data, signed_on=dt.date(2025, 6, 1), actor=advisor)
    second = tax_form_capture(party=party, form_type="W8BENE", data=data, signed_on=dt.date(2026, 3, 3), actor=advisor)
    assert second.status == "valid"
    first.refresh_from_db()
    assert first.status == "superseded"
    assert first.status_reason == "Superseded by Form W-8BEN-E signed 3 Mar 2026"
    # a reason stored in the old words is shown in the new ones
    TaxForm.objects.filter(pk=first.pk).update(status_reason=f"superseded by form {second.pk}")
    first.refresh_from_db()
    assert status_reason_words(first) == "Superseded by Form W-8BEN-E signed 3 Mar 2026"
