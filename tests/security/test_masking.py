"""Finding 3 and the one masking rule: TINs and dates of birth are masked in tax-form PDFs unless
revealed through the audited reveal by a role that may see them (the same rule as party reveal)."""
from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from pypdf import PdfReader
from rest_framework.test import APIClient

from compliance.tax import services
from onboarding.api.auth import api_token_create
from onboarding.masking import mask_sensitive
from onboarding.models import AuditEvent
from tests.compliance.tax.samples import form as tax_form
from tests.factories import FirmFactory, PersonFactory, UserFactory

pytestmark = pytest.mark.django_db
TIN = "536-90-4399"  # the W-9 sample's SSN


def text_of(pdf: bytes) -> str:
    return re.sub(r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))


def api(user):
    _, token = api_token_create(user=user, name="t", scopes=["read", "write"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def w9():
    party = PersonFactory(firm=FirmFactory(), given_names="Jane", family_name="Roe")
    return services.tax_form_capture(party=party, form_type="W9", data=tax_form("W9", tin=TIN),
                                     signed_on=dt.date(2026, 3, 10), today=dt.date(2026, 6, 1))


def test_an_operations_token_gets_a_masked_pdf_and_cannot_reveal(w9):
    ops = api(UserFactory(firm=w9.firm, role="operations"))
    response = ops.get(f"/api/v1/tax-forms/{w9.pk}/pdf/")
    assert response.status_code == 200
    text = text_of(response.content)
    assert TIN not in text and "536904399" not in text and "4399" in text  # masked, last four kept
    assert ops.post(f"/api/v1/parties/{w9.party_id}/reveal/").status_code == 403
    refused = ops.get(f"/api/v1/tax-forms/{w9.pk}/pdf/", {"reveal": "true"})
    assert refused.status_code == 403
    assert not AuditEvent.objects.filter(event_type="tax_form.sensitive_revealed").exists()


def test_an_advisor_reveals_through_the_audited_path(w9):
    advisor = UserFactory(firm=w9.firm, role="advisor")
    client = api(advisor)
    assert TIN not in text_of(client.get(f"/api/v1/tax-forms/{w9.pk}/pdf/").content)
    full = client.get(f"/api/v1/tax-forms/{w9.pk}/pdf/", {"reveal": "true"})
    assert full.status_code == 200 and TIN in text_of(full.content)
    event = AuditEvent.objects.get(event_type="tax_form.sensitive_revealed")
    assert event.actor == advisor and event.firm == w9.firm


def test_another_firm_cannot_reach_the_pdf(w9):
    other = api(UserFactory(firm=FirmFactory(), role="advisor"))
    assert other.get(f"/api/v1/tax-forms/{w9.pk}/pdf/").status_code == 404
    assert other.get(f"/api/v1/tax-forms/{w9.pk}/pdf/", {"reveal": "true"}).status_code == 404


def test_mask_sensitive_masks_by_key_at_any_depth():
    data = {"name": "Jane", "tin": "536904399", "date_of_birth": "1980-02-03",
            "tax_residences": [{"country": "GB", "tin": "1955839661"}], "us_tin": "", "foreign_tin": "AB123456C"}
    masked = mask_sensitive(data)
    assert masked["name"] == "Jane" and masked["us_tin"] == ""
    assert masked["tin"] == "•••••4399" and masked["foreign_tin"] == "•••••456C"
    assert masked["date_of_birth"] == "••••••••••" and masked["tax_residences"][0]["tin"] == "••••••9661"
