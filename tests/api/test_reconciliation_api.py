"""The partner API for reconciliation: custodian file upload (platform officers, multipart,
Idempotency-Key, duplicates), runs and their results, breaks scoped to the firm's custody
accounts, and the break workflow (assign, investigate, resolve, write-off with four eyes, notes)."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from onboarding.models import AuditEvent
from tests.factories import FirmFactory, OfficerFactory, UserFactory
from tests.trading.factories import AccountFactory, CustodianFactory, CustodyAccountFactory
from tests.trading.reconciliation.builders import semt002
from tests.trading.reconciliation.factories import BookPositionFactory, IdentifierFactory
from trading.reconciliation.models import Break, CustodianFile, ReconRun

from .conftest import assert_error, ids, token_client

pytestmark = pytest.mark.django_db
APPLE, MSFT = "US0378331005", "US5949181045"


@pytest.fixture
def books(settings, tmp_path):
    """GLOBALCUST holds SAFE-001 for firm A (Apple 1000) and SAFE-002 for firm B (Microsoft 50)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    IdentifierFactory(kind="isin", value=APPLE, instrument_id=1)
    IdentifierFactory(kind="isin", value=MSFT, instrument_id=2)
    BookPositionFactory(custody_account="SAFE-001", instrument_id=1, quantity=Decimal(1000), price=Decimal("185.64"))
    BookPositionFactory(custody_account="SAFE-002", instrument_id=2, quantity=Decimal(50), price=Decimal("397.58"))
    custodian = CustodianFactory(name="GLOBALCUST", bic="GLBLGB2L")
    out = {}
    for key, number in (("a", "SAFE-001"), ("b", "SAFE-002")):
        firm = FirmFactory()
        CustodyAccountFactory(account=AccountFactory(firm=firm), custodian=custodian, number=number)
        user = UserFactory(firm=firm, role="operations")
        out[key] = {"firm": firm, "user": user, "client": token_client(user)}
    officer = OfficerFactory()
    out["officer"], out["officer_client"] = officer, token_client(officer)
    return out


def _file(apple="900", name="globalcust-2024-01-31.xml"):
    data = semt002(account="SAFE-001", holdings=[{"isin": APPLE, "qty": apple, "price": "185.64",
                                                  "price_ccy": "USD"}])
    return SimpleUploadedFile(name, data, content_type="application/xml")


def _upload(client, **kw):
    return client.post("/api/v1/recon-runs/upload/", {"custodian_code": "GLOBALCUST", "format": "semt002",
                                                      "file": _file(**kw)}, format="multipart")


def _upload_b(client):
    """SAFE-002's own statement (a semt.002 speaks for its safekeeping account only): Microsoft 40 against
    our 50, a quantity break of firm B's."""
    data = semt002(account="SAFE-002", holdings=[{"isin": MSFT, "qty": "40", "price": "397.58", "price_ccy": "USD"}])
    return client.post("/api/v1/recon-runs/upload/", {
        "custodian_code": "GLOBALCUST", "format": "semt002",
        "file": SimpleUploadedFile("globalcust-safe-002-2024-01-31.xml", data, content_type="application/xml")},
        format="multipart")


def test_an_officer_uploads_a_custodian_file_and_the_same_bytes_change_nothing(books):
    officer = books["officer_client"]
    first = _upload(officer)
    assert first.status_code == 201, first.content
    run = first.json()["run"]
    # one break: Apple 900 at the custodian against our 1,000 in SAFE-001; Microsoft in SAFE-002 is not this
    # statement's safekeeping account, so it is not missing at the custodian
    assert first.json()["duplicate"] is False and run["status"] == "completed" and run["stats"]["breaks"] == 1
    assert AuditEvent.objects.filter(event_type="recon.run_completed", subject_id=str(run["id"])).exists()
    again = _upload(officer)
    assert again.status_code == 200 and again.json()["duplicate"] is True and again.json()["run"]["id"] == run["id"]
    assert ReconRun.objects.count() == 1 and CustodianFile.objects.count() == 1


def test_a_retried_upload_with_the_same_idempotency_key_is_replayed(books):
    officer = books["officer_client"]
    payload = {"custodian_code": "GLOBALCUST", "format": "semt002"}
    first = officer.post("/api/v1/recon-runs/upload/", {**payload, "file": _file()}, format="multipart",
                         HTTP_IDEMPOTENCY_KEY="up-1")
    again = officer.post("/api/v1/recon-runs/upload/", {**payload, "file": _file()}, format="multipart",
                         HTTP_IDEMPOTENCY_KEY="up-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert ReconRun.objects.count() == 1


def test_a_bad_file_is_refused_whole_and_firms_may_not_upload(books):
    officer = books["officer_client"]
    bad = SimpleUploadedFile("broken.xml", b"<Document><SctiesBalCtdyRpt>", content_type="application/xml")
    assert_error(officer.post("/api/v1/recon-runs/upload/", {"custodian_code": "GLOBALCUST", "format": "semt002",
                                                             "file": bad}, format="multipart"), 422,
                 "recon_file_refused")
    assert_error(officer.post("/api/v1/recon-runs/upload/", {"custodian_code": "GLOBALCUST", "format": "xls",
                                                             "file": _file()}, format="multipart"), 400,
                 "recon_unknown_format")
    body = assert_error(officer.post("/api/v1/recon-runs/upload/", {"custodian_code": "../x", "file": _file()},
                                     format="multipart"), 400, "validation_failed")
    assert "custodian_code" in body["detail"]
    assert_error(_upload(books["a"]["client"]), 403, "permission_denied")
    assert ReconRun.objects.count() == 0 and CustodianFile.objects.count() == 0


def test_firms_see_the_runs_of_their_custodians_and_only_their_own_breaks(books):
    run_id = _upload(books["officer_client"]).json()["run"]["id"]
    run_b = _upload_b(books["officer_client"]).json()["run"]["id"]
    a, b = books["a"]["client"], books["b"]["client"]
    break_a = Break.objects.get(custody_account="SAFE-001")
    break_b = Break.objects.get(custody_account="SAFE-002")
    assert break_a.kind == "quantity" and break_b.kind == "quantity"
    assert ids(a.get("/api/v1/recon-breaks/")) == {break_a.pk}
    assert ids(b.get("/api/v1/recon-breaks/")) == {break_b.pk}
    assert_error(b.get(f"/api/v1/recon-breaks/{break_a.pk}/"), 404)
    assert ids(a.get("/api/v1/recon-breaks/", {"kind": "missing_at_custodian"})) == set()
    # the run is visible, its platform-wide figures are not
    run = a.get(f"/api/v1/recon-runs/{run_id}/").json()
    assert run["custodian_code"] == "GLOBALCUST" and run["stats"] is None
    assert ids(a.get(f"/api/v1/recon-runs/{run_id}/results/")) == {break_a.pk}
    assert ids(b.get(f"/api/v1/recon-runs/{run_id}/results/")) == set()
    assert ids(b.get(f"/api/v1/recon-runs/{run_b}/results/")) == {break_b.pk}
    elsewhere = token_client(UserFactory(firm=FirmFactory()))
    assert ids(elsewhere.get("/api/v1/recon-runs/")) == set()
    assert_error(elsewhere.get(f"/api/v1/recon-runs/{run_id}/"), 404)
    assert ids(books["officer_client"].get("/api/v1/recon-breaks/")) == {break_a.pk, break_b.pk}


def test_break_workflow_through_the_api_with_four_eyes_on_write_off(books):
    _upload(books["officer_client"])
    a = books["a"]["client"]
    brk = Break.objects.get(custody_account="SAFE-001")
    url = f"/api/v1/recon-breaks/{brk.pk}"
    assert_error(a.post(f"{url}/assign/", {"owner": books["b"]["user"].pk}, format="json"), 404)
    assert_error(books["b"]["client"].post(f"{url}/assign/", {}, format="json"), 404)
    assigned = a.post(f"{url}/assign/", {}, format="json")
    assert assigned.json()["state"] == "assigned" and assigned.json()["owner"] == books["a"]["user"].pk
    investigating = a.post(f"{url}/investigate/", {"note": "asked the custodian"}, format="json")
    assert investigating.json()["state"] == "investigating"
    assert [n["text"] for n in a.get(f"{url}/notes/").json()] == ["asked the custodian"]
    assert a.post(f"{url}/notes/", {"text": "custodian confirms 900"}, format="json").status_code == 201
    assert_error(a.post(f"{url}/request-write-off/", {}, format="json"), 400, "validation_failed")
    requested = a.post(f"{url}/request-write-off/", {"reason": "immaterial"}, format="json")
    assert requested.json()["write_off_requested_by"] == books["a"]["user"].pk
    assert_error(a.post(f"{url}/approve-write-off/"), 403, "four_eyes_required")
    colleague = token_client(UserFactory(firm=books["a"]["firm"], role="operations"))
    approved = colleague.post(f"{url}/approve-write-off/")
    assert approved.status_code == 200 and approved.json()["state"] == "written_off"
    assert_error(a.post(f"{url}/resolve/", {"reason": "x"}, format="json"), 409, "invalid_transition")


def test_an_unexplained_break_is_not_resolved_by_one_person(books):
    _upload_b(books["officer_client"])
    b = books["b"]["client"]
    brk = Break.objects.get(custody_account="SAFE-002")
    assert_error(b.post(f"/api/v1/recon-breaks/{brk.pk}/resolve/", {"reason": ""}, format="json"), 400,
                 "validation_failed")
    # closing a difference that has an amount and no explanation is a write-off: four eyes
    refused = b.post(f"/api/v1/recon-breaks/{brk.pk}/resolve/", {"reason": "position moved to SAFE-003"},
                     format="json")
    assert_error(refused, 403, "four_eyes_required")
    assert Break.objects.get(pk=brk.pk).state == "open"

def test_an_account_id_longer_than_the_column_is_a_400_naming_it(books):
    """Issue 15, finding 6: a custodian account id over 40 characters reached the database (500)."""
    from trading.reconciliation.models import Break as BreakModel

    data = semt002(account="A" * 41, holdings=[{"isin": APPLE, "qty": "900", "price": "185.64", "price_ccy": "USD"}])
    response = books["officer_client"].post(
        "/api/v1/recon-runs/upload/", {"custodian_code": "GLOBALCUST", "format": "semt002",
                                       "file": SimpleUploadedFile("long.xml", data, content_type="application/xml")},
        format="multipart")
    assert 400 <= response.status_code < 500, response.content
    assert "account" in response.json()["message"].lower() and "40" in response.json()["message"]
    assert not BreakModel.objects.exists()
