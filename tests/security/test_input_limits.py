"""Issue 15, finding 6: bad input is a 400 naming the field, never a 500. Each request is a valid
one with a single hostile field, so it reaches the validation it means to test (real form types,
real parties)."""
from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from onboarding.api.auth import api_token_create
from onboarding.columns import column_problem
from onboarding.models import Party
from tests.compliance.tax.samples import form as tax_form
from tests.factories import FirmFactory, PersonFactory, UserFactory
from trading.models import Fill
from trading.orders.execution_reports import ExecutionFileError, parse_execution_reports

pytestmark = pytest.mark.django_db
HOSTILE_SENT = 0


def client(user):
    _, token = api_token_create(user=user, name="t")
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return c


@pytest.fixture
def advisor():
    return UserFactory(firm=FirmFactory(), role="advisor")


@pytest.mark.parametrize(("field", "value"), [
    ("given_names", "G" * 300), ("family_name", "F" * 300), ("email", "e" * 300 + "@x.example"),
    ("phone", "1" * 300), ("given_names", {"a": 1}), ("family_name", ["x"]),
])
def test_party_fields_longer_than_their_columns(advisor, field, value):
    party = PersonFactory(firm=advisor.firm)
    response = client(advisor).patch(f"/api/v1/parties/{party.pk}/", {field: value}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["detail"], response.json()
    party.refresh_from_db()
    assert party.version == Party.objects.get(pk=party.pk).version


@pytest.mark.parametrize("tin", [{"nested": "object"}, ["a", "list"], 12345678901234567890, True])
def test_a_tax_form_with_a_non_text_tin_is_a_400(advisor, tin):
    party = PersonFactory(firm=advisor.firm, given_names="Jane", family_name="Doe")
    data = tax_form("W8BEN", name="Jane Doe", date_of_birth="1980-02-03")
    data["foreign_tin"] = tin
    data["us_tin"] = tin
    response = client(advisor).post("/api/v1/tax-forms/", {"party": party.pk, "form_type": "W8BEN",
                                                           "signed_on": "2026-11-01", "data": data}, format="json")
    assert response.status_code == 400, response.content
    assert any("tin" in key for key in response.json()["detail"] or {}), response.json()


@pytest.mark.parametrize(("column", "row", "field"), [
    ("exec_id", {"exec_id": "E" * 61}, "exec_id"),
    ("venue", {"venue": "V" * 11}, "venue"),
    ("price", {"last_px": "1e30"}, "last_px"),
    ("quantity", {"last_qty": "1e-9"}, "last_qty"),
    ("quantity", {"last_qty": "1e40"}, "last_qty"),
])
def test_execution_report_values_must_fit_the_fill_columns(column, row, field):
    good = {"exec_id": "E1", "cl_ord_id": "C1", "last_qty": "10", "last_px": "101.5",
            "transact_time": "2026-11-02T10:00:00+00:00", "venue": "XNYS"}
    good.update(row)
    content = ",".join(good) + "\n" + ",".join(good.values()) + "\n"
    with pytest.raises(ExecutionFileError) as refused:
        parse_execution_reports(content, file="exec.csv")
    assert refused.value.field == field and "exec.csv: line 2" in str(refused.value)
    assert column_problem(Fill, column, row[field]) is not None


def test_the_fill_import_endpoint_answers_400_for_an_oversized_exec_id():
    firm = FirmFactory()
    ops = UserFactory(firm=firm, role="operations")
    content = ("exec_id,cl_ord_id,last_qty,last_px,transact_time,venue\n"
               f"{'E' * 61},C1,10,101.5,2026-11-02T10:00:00+00:00,XNYS\n").encode()
    response = client(ops).post("/api/v1/fills/import/", {"file": SimpleUploadedFile("exec.csv", content)},
                                format="multipart")
    assert 400 <= response.status_code < 500, response.content
    assert "exec_id" in response.content.decode()


def test_a_rebalance_dated_9999_is_a_400(advisor):
    response = client(advisor).post("/api/v1/rebalance-runs/", {"trade_date": "9999-12-31", "dry_run": True},
                                    format="json")
    assert response.status_code == 400, response.content
    assert "trade_date" in response.content.decode()
