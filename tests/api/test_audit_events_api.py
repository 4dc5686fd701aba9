"""The firm-wide audit list (issue 18): GET /api/v1/audit-events/, newest first, paged by cursor. A firm's
users see their own firm's events only (never another firm's, never the platform's own), and a
compliance-internal event (a screening alert worked by an officer, a screening run) only in words: its note,
its detail (list entry, score, list versions) and the officer are withheld. Officers see everything."""
from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from compliance import services as screening
from compliance.models import ScreeningAlert
from onboarding import services
from onboarding.audit import record_event
from tests.factories import FirmFactory, OfficerFactory, PersonFactory, UserFactory

from .conftest import assert_error, token_client

pytestmark = pytest.mark.django_db

NOTE = "matches SDN-A entry: same date of birth, score 0.91"


def _all(client, params=None) -> list[dict]:
    rows, response = [], client.get("/api/v1/audit-events/", {"page_size": 2, **(params or {})})
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == {"next", "previous", "results"}
        rows += body["results"]
        if not body["next"]:
            return rows
        response = client.get(body["next"])


@pytest.fixture
def two_firms(db):
    out = {"officer_user": OfficerFactory()}
    for key in ("a", "b"):
        firm = FirmFactory()
        party = PersonFactory(firm=firm, given_names=f"Client {key}")
        user = UserFactory(firm=firm)
        record_event(subject=party, event_type="party.updated", actor=user, firm=firm, detail={"fields": ["email"]})
        alert = ScreeningAlert.objects.create(firm=firm, party=party, source="ofac", entry_ref=f"SDN-{key}",
                                              entry_hash="h", entry_name="Someone Listed", party_version=1,
                                              score=Decimal("0.91"), explanation={"name": 0.91})
        record_event(subject=party, event_type="screening.performed", firm=firm,
                     detail={"trigger": "case_submitted", "hits": 1, "snapshots": [{"source": "ofac", "version": 7}]})
        screening.alert_escalate(alert=alert, actor=out["officer_user"], note=NOTE)
        out[key] = {"firm": firm, "party": party, "alert": alert, "user": user, "client": token_client(user)}
    record_event(subject=out["a"]["party"], event_type="watchlist.imported", firm=None, detail={"source": "ofac"})
    out["officer"] = token_client(out["officer_user"])
    return out


def test_a_firm_sees_its_own_events_only_newest_first(two_firms):
    a, b = two_firms["a"], two_firms["b"]
    rows = _all(a["client"])
    assert rows, "firm A has events"
    assert {row["firm"] for row in rows} == {a["firm"].pk}  # never B's, never the platform's (firm null)
    assert [row["id"] for row in rows] == sorted((row["id"] for row in rows), reverse=True)
    b_ids = {row["id"] for row in _all(b["client"])}
    assert b_ids and not b_ids & {row["id"] for row in rows}
    # B's party id as a filter finds nothing for A (the tenant rule, not a leak of B's events)
    assert _all(a["client"], {"subject_type": "onboarding.party", "subject_id": str(b["party"].pk)}) == []
    mine = _all(a["client"], {"event_type": "party.updated"})
    assert len(mine) == 1 and mine[0]["detail"] == {"fields": ["email"]} and mine[0]["detail_withheld"] is False
    assert mine[0]["actor"] == a["user"].username and mine[0]["what"]


def test_compliance_internal_events_are_listed_without_their_details(two_firms):
    a = two_firms["a"]
    rows = _all(a["client"])
    escalated = [r for r in rows if r["event_type"] == "screening.alert_escalated"]
    assert len(escalated) == 1
    row = escalated[0]
    assert row["detail_withheld"] is True and row["reason"] == "" and row["detail"] == {}
    assert row["actor"] == "compliance" and row["to_state"] == "escalated"
    run = [r for r in rows if r["event_type"] == "screening.performed"][0]
    assert run["detail_withheld"] is True and run["detail"] == {}
    body = str(rows)
    assert NOTE not in body and "SDN-" not in body and "Someone Listed" not in body and "0.91" not in body
    # the case's own audit trail (JSON and CSV) applies the same rule
    case = services.case_create(firm=a["firm"], party=a["party"], actor=a["user"])
    trail = a["client"].get(f"/api/v1/cases/{case.pk}/audit/")
    assert trail.status_code == 200, trail.content
    on_alert = [r for r in trail.json() if r["event_type"] == "screening.alert_escalated"]
    assert len(on_alert) == 1 and on_alert[0]["reason"] == "" and on_alert[0]["detail"] == {}
    csv = a["client"].get(f"/api/v1/cases/{case.pk}/audit/", {"export": "csv"}).content.decode()
    assert "screening.alert_escalated" in csv and NOTE not in csv and "SDN-" not in csv
    officer_trail = two_firms["officer"].get(f"/api/v1/cases/{case.pk}/audit/").json()
    assert NOTE in {r["reason"] for r in officer_trail}
    officer_rows = _all(two_firms["officer"], {"event_type": "screening.alert_escalated"})
    assert {r["reason"] for r in officer_rows} == {NOTE}  # officers see the note
    assert {r["actor"] for r in officer_rows} == {two_firms["officer_user"].username}
    assert all(r["detail_withheld"] is False for r in officer_rows)


def test_officers_see_every_firm_and_the_platform(two_firms):
    rows = _all(two_firms["officer"], {"page_size": 50})
    assert {two_firms["a"]["firm"].pk, two_firms["b"]["firm"].pk, None} <= {r["firm"] for r in rows}


def test_filters_and_errors(two_firms):
    a = two_firms["a"]["client"]
    assert_error(a.get("/api/v1/audit-events/", {"cursor": "forged"}), 404, "not_found")
    assert_error(a.get("/api/v1/audit-events/", {"created_at__gte": ""}), 400, "validation_failed")
    assert_error(APIClient().get("/api/v1/audit-events/"), 401)
    newest = _all(a)[0]
    assert [r["id"] for r in _all(a, {"created_at__gte": newest["created_at"]})][:1] == [newest["id"]]


def test_the_schema_documents_the_rule(db):
    doc = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = doc["paths"]["/api/v1/audit-events/"]["get"]
    assert "never another firm's" in operation["description"] and "withheld" in operation["description"]
    assert {"cursor", "page_size", "event_type", "subject_type", "subject_id"} <= {p["name"] for p in operation["parameters"]}
    props = doc["components"]["schemas"]["FirmAuditEvent"]["properties"]
    assert {"detail_withheld", "firm", "what"} <= set(props)
