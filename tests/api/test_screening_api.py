"""The screening API: officers see alerts in full and work them (assign, review, clear with a
note and four eyes above the high score, escalate, confirm); a firm sees, for its own parties,
each alert's state and what it must provide, and when screening ran, never the list details."""
from __future__ import annotations

from decimal import Decimal

import pytest

from compliance.models import ScreeningAlert, ScreeningRun
from tests.factories import FirmFactory, OfficerFactory, PersonFactory, UserFactory

from .conftest import assert_error, ids, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def screened(db):
    out = {}
    for key in ("a", "b"):
        firm = FirmFactory()
        party = PersonFactory(firm=firm)
        run = ScreeningRun.objects.create(party=party, party_version=party.version, trigger="case_submitted",
                                          snapshots=[], hits=1, alerts_opened=1)
        alert = ScreeningAlert.objects.create(firm=firm, party=party, source="ofac", entry_ref=f"SDN-{key}",
                                              entry_hash="h", entry_name="Someone Listed", party_version=1,
                                              score=Decimal("0.91"), explanation={"name": 0.91})
        out[key] = {"firm": firm, "party": party, "run": run, "alert": alert,
                    "client": token_client(UserFactory(firm=firm))}
    out["officer"] = token_client(OfficerFactory())
    return out


def test_officers_see_every_alert_and_firms_only_their_own_without_list_details(screened):
    both = {screened["a"]["alert"].pk, screened["b"]["alert"].pk}
    assert ids(screened["officer"].get("/api/v1/screening-alerts/")) == both
    assert ids(screened["officer"].get("/api/v1/screening-alerts/", {"party": screened["a"]["party"].pk})) == {
        screened["a"]["alert"].pk}
    detail = screened["officer"].get(f"/api/v1/screening-alerts/{screened['a']['alert'].pk}/").json()
    assert detail["entry_name"] == "Someone Listed" and detail["state"] == "open"
    assert "summary" in detail["readable_explanation"]
    # The firm that received the alert.raised webhook can read the alert: state and what to provide.
    a = screened["a"]["client"]
    assert ids(a.get("/api/v1/screening-alerts/")) == {screened["a"]["alert"].pk}
    mine = a.get(f"/api/v1/screening-alerts/{screened['a']['alert'].pk}/").json()
    assert set(mine) == {"id", "party", "case", "status", "what_to_provide", "created_at"}
    assert mine["status"] == "awaiting_compliance" and mine["what_to_provide"]
    assert_error(a.get(f"/api/v1/screening-alerts/{screened['b']['alert'].pk}/"), 404)
    assert_error(screened["officer"].get("/api/v1/screening-alerts/", {"state": "maybe"}), 400, "validation_failed")


def test_officers_work_an_alert_through_the_api(screened):
    officer_user = OfficerFactory()
    officer, second = token_client(officer_user), token_client(OfficerFactory())
    alert = screened["a"]["alert"]
    url = f"/api/v1/screening-alerts/{alert.pk}"
    officer_id = officer_user.pk
    assert officer.post(f"{url}/assign/", {"assignee": officer_id}, format="json").json()["assigned_to"] == officer_id
    assert ids(officer.get("/api/v1/screening-alerts/", {"assigned_to": officer_id})) == {alert.pk}
    assert officer.post(f"{url}/review/", format="json").json()["state"] == "under_review"
    assert_error(officer.post(f"{url}/clear/", {"note": ""}, format="json"), 400, "validation_failed")
    assert_error(screened["a"]["client"].post(f"{url}/clear/", {"note": "mine"}, format="json"), 403)
    # 0.91 is below the default high score (0.95): one officer clears.
    cleared = officer.post(f"{url}/clear/", {"note": "different DOB and nationality"}, format="json").json()
    assert cleared["state"] == "cleared" and cleared["decision_note"] == "different DOB and nationality"
    assert screened["a"]["client"].get(f"{url}/").json()["status"] == "decided"
    # Above the high score: the first officer's clear is a request, the same officer cannot finish it.
    high = screened["b"]["alert"]
    ScreeningAlert.objects.filter(pk=high.pk).update(score=Decimal("0.99"))
    hurl = f"/api/v1/screening-alerts/{high.pk}"
    assert officer.post(f"{hurl}/clear/", {"note": "not him"}, format="json").json()["state"] == "under_review"
    assert officer.post(f"{hurl}/clear/", {"note": "not him"}, format="json").status_code == 403
    assert second.post(f"{hurl}/clear/", {"note": "agreed"}, format="json").json()["state"] == "cleared"
    assert officer.post(f"{hurl}/escalate/", {"note": "again"}, format="json").status_code == 409


def test_escalate_then_confirm(screened):
    officer = screened["officer"]
    url = f"/api/v1/screening-alerts/{screened['a']['alert'].pk}"
    assert officer.post(f"{url}/escalate/", {"note": "DOB agrees"}, format="json").json()["state"] == "escalated"
    assert officer.post(f"{url}/confirm/", {"note": "same passport"}, format="json").json()["state"] == "confirmed"


def test_a_firm_sees_its_own_parties_screening_results_without_list_details(screened):
    a = screened["a"]["client"]
    rows = a.get("/api/v1/screening-runs/", {"party": screened["a"]["party"].pk}).json()["results"]
    assert [r["id"] for r in rows] == [screened["a"]["run"].pk]
    assert rows[0]["pending_review"] is True and rows[0]["hits"] is None
    assert ids(a.get("/api/v1/screening-runs/")) == {screened["a"]["run"].pk}
    assert_error(a.get(f"/api/v1/screening-runs/{screened['b']['run'].pk}/"), 404)
    officer_row = screened["officer"].get(f"/api/v1/screening-runs/{screened['a']['run'].pk}/").json()
    assert officer_row["hits"] == 1 and officer_row["alerts_opened"] == 1


def test_alerts_are_not_created_or_edited_directly(screened):
    alert = screened["a"]["alert"]
    assert screened["officer"].post("/api/v1/screening-alerts/", {}, format="json").status_code == 405
    assert screened["officer"].patch(f"/api/v1/screening-alerts/{alert.pk}/", {"state": "cleared"},
                                     format="json").status_code == 405
    assert ScreeningAlert.objects.get(pk=alert.pk).state == "open"
