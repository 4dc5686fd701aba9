"""The read-only screening API: officers see alerts in full; a firm sees, for its own parties,
when screening ran and whether a compliance decision is pending, never the list details."""
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


def test_officers_see_every_alert_and_firms_see_none(screened):
    both = {screened["a"]["alert"].pk, screened["b"]["alert"].pk}
    assert ids(screened["officer"].get("/api/v1/screening-alerts/")) == both
    assert ids(screened["officer"].get("/api/v1/screening-alerts/", {"party": screened["a"]["party"].pk})) == {
        screened["a"]["alert"].pk}
    detail = screened["officer"].get(f"/api/v1/screening-alerts/{screened['a']['alert'].pk}/").json()
    assert detail["entry_name"] == "Someone Listed" and detail["state"] == "open"
    assert ids(screened["a"]["client"].get("/api/v1/screening-alerts/")) == set()
    assert_error(screened["a"]["client"].get(f"/api/v1/screening-alerts/{screened['a']['alert'].pk}/"), 404)
    assert_error(screened["officer"].get("/api/v1/screening-alerts/", {"state": "maybe"}), 400, "validation_failed")


def test_a_firm_sees_its_own_parties_screening_results_without_list_details(screened):
    a = screened["a"]["client"]
    rows = a.get("/api/v1/screening-runs/", {"party": screened["a"]["party"].pk}).json()["results"]
    assert [r["id"] for r in rows] == [screened["a"]["run"].pk]
    assert rows[0]["pending_review"] is True and rows[0]["hits"] is None
    assert ids(a.get("/api/v1/screening-runs/")) == {screened["a"]["run"].pk}
    assert_error(a.get(f"/api/v1/screening-runs/{screened['b']['run'].pk}/"), 404)
    officer_row = screened["officer"].get(f"/api/v1/screening-runs/{screened['a']['run'].pk}/").json()
    assert officer_row["hits"] == 1 and officer_row["alerts_opened"] == 1


def test_screening_is_read_only_through_the_api(screened):
    alert = screened["a"]["alert"]
    assert screened["officer"].post("/api/v1/screening-alerts/", {}, format="json").status_code == 405
    assert screened["officer"].patch(f"/api/v1/screening-alerts/{alert.pk}/", {"state": "cleared"},
                                     format="json").status_code == 405
    assert ScreeningAlert.objects.get(pk=alert.pk).state == "open"
