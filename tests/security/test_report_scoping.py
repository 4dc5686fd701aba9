"""Finding 1: the reconciliation report (page and PDF) shows a firm user only their firm's breaks."""
from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.test import Client
from pypdf import PdfReader

from tests.factories import FirmFactory, OfficerFactory, UserFactory
from trading.reconciliation.models import Break, DailyRun, ReconRun

pytestmark = pytest.mark.django_db
DAY = dt.date(2024, 1, 31)


@pytest.fixture
def two_firms_breaks():
    mine, theirs = FirmFactory(), FirmFactory()
    daily = DailyRun.objects.create(as_of=DAY, status="completed")
    ReconRun.objects.create(custodian_code="GLOBALCUST", as_of=DAY, daily_run=daily, status="completed",
                            stats={"compared": 10, "clean": 8, "match_rate": 0.8, "breaks": 2, "positions": 10})
    for firm, account, amount in ((mine, "MINE-0001", "120.00"), (theirs, "THEIRS-7777", "8899.00")):
        Break.objects.create(key=f"k-{account}", firm=firm, custodian_code="GLOBALCUST", custody_account=account,
                             identifier="US0378331005", kind="quantity", amount_base=Decimal(amount),
                             base_currency="GBP", first_seen=DAY, last_seen=DAY)
    return mine, theirs


def pdf_text(content: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_operations_see_only_their_firms_breaks_on_the_page_and_in_the_pdf(two_firms_breaks):
    mine, _ = two_firms_breaks
    client = Client()
    client.force_login(UserFactory(firm=mine, role="operations"))
    page = client.get(f"/reconciliation/runs/{DAY}/report/").content.decode()
    assert "MINE-0001" in page and "THEIRS-7777" not in page and "8899" not in page
    pdf = pdf_text(client.get(f"/reconciliation/runs/{DAY}/report/", {"format": "pdf"}).content)
    assert "MINE-0001" in pdf and "THEIRS-7777" not in pdf and "8899" not in pdf


def test_officers_see_every_firm(two_firms_breaks):
    client = Client()
    client.force_login(OfficerFactory())
    page = client.get(f"/reconciliation/runs/{DAY}/report/").content.decode()
    assert "MINE-0001" in page and "THEIRS-7777" in page
