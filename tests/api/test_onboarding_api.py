"""The partner API for onboarding: token auth and scopes, firm scoping, error bodies,
Idempotency-Key, the full journey from party to activation, and signed webhooks."""
import json

import pytest
from rest_framework.test import APIClient

from onboarding import services
from onboarding.api.auth import api_token_create, api_token_revoke
from onboarding.models import OnboardingCase, Party, WebhookDelivery
from onboarding.samples import pdf_bytes
from onboarding.webhooks import verify
from tests.compliance.tax.samples import form as tax_form
from tests.factories import FirmFactory, OfficerFactory, UserFactory
from tests.webhook_receiver import Receiver, serving

from .conftest import assert_error

pytestmark = pytest.mark.django_db
PDF = pdf_bytes("test")


@pytest.fixture
def packs(db):
    services.rulepacks_load()


def client_for(user, scopes=("read", "write")):
    _, token = api_token_create(user=user, name="test", scopes=list(scopes))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def firm(db):
    return FirmFactory(home_jurisdiction="GB")


@pytest.fixture
def partner(firm):
    return client_for(UserFactory(firm=firm, role="advisor"))


def test_requests_without_a_valid_token_are_refused_with_a_stable_code(db):
    response = APIClient().get("/api/v1/cases/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token abcd.wrong")
    assert bad.get("/api/v1/cases/").json()["code"] == "authentication_failed"


def test_a_revoked_token_stops_working_and_tokens_are_hashed_at_rest(firm):
    user = UserFactory(firm=firm)
    token, secret = api_token_create(user=user, name="t")
    assert secret.split(".", 1)[1] not in token.key_hash
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    assert client.get("/api/v1/parties/").status_code == 200
    api_token_revoke(token=token, actor=None)
    assert client.get("/api/v1/parties/").status_code == 401


def test_a_read_only_token_cannot_write(firm):
    client = client_for(UserFactory(firm=firm), scopes=("read",))
    assert client.get("/api/v1/parties/").status_code == 200
    response = client.post("/api/v1/parties/", {"kind": "person", "family_name": "X"}, format="json")
    assert response.status_code == 403


def test_bad_input_gets_a_400_with_the_field_and_reason(partner):
    response = partner.post("/api/v1/parties/", {"kind": "person", "family_name": "Doe", "residence_country": "XX"},
                            format="json")
    assert response.status_code == 400
    message = "residence_country: 'XX' is not an ISO 3166-1 alpha-2 country code"
    body = assert_error(response, 400, "validation_failed")
    assert body["message"] == message and body["detail"] == {"residence_country": [message]}
    response = partner.post("/api/v1/parties/", {"kind": "alien"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "validation_failed"
    assert "kind" in response.json()["detail"]


def test_another_firms_objects_are_invisible(partner, firm):
    other_firm = FirmFactory()
    other = client_for(UserFactory(firm=other_firm))
    party_id = other.post("/api/v1/parties/", {"kind": "person", "given_names": "Ann", "family_name": "Other"},
                          format="json").json()["id"]
    case_id = other.post("/api/v1/cases/", {"party": party_id}, format="json").json()["id"]
    assert partner.get(f"/api/v1/parties/{party_id}/").status_code == 404
    assert partner.get(f"/api/v1/cases/{case_id}/").status_code == 404
    assert partner.get(f"/api/v1/cases/{case_id}/requirements/").status_code == 404
    assert partner.post(f"/api/v1/cases/{case_id}/submit/").status_code == 404
    assert partner.post("/api/v1/cases/", {"party": party_id}, format="json").status_code == 404
    assert partner.post(f"/api/v1/parties/{party_id}/identifiers/",
                        {"kind": "passport", "country": "GB", "value": "123456789"}, format="json").status_code == 404
    assert partner.get("/api/v1/parties/").json()["count"] == 0


def test_a_retried_post_with_the_same_idempotency_key_creates_one_case(partner):
    party_id = partner.post("/api/v1/parties/", {"kind": "person", "given_names": "Ann", "family_name": "Lee"},
                            format="json").json()["id"]
    first = partner.post("/api/v1/cases/", {"party": party_id}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    second = partner.post("/api/v1/cases/", {"party": party_id}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert OnboardingCase.objects.count() == 1
    reused = partner.post("/api/v1/cases/", {"party": party_id, "jurisdiction": "US"}, format="json",
                          HTTP_IDEMPOTENCY_KEY="k-1")
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"


def test_the_full_journey_from_party_to_activation_through_the_api(packs, firm, partner):
    officer_api, second_officer_api = client_for(OfficerFactory()), client_for(OfficerFactory())
    person = partner.post("/api/v1/parties/", {
        "kind": "person", "given_names": "Jane", "family_name": "Doe", "date_of_birth": "1980-02-03",
        "residence_country": "GB", "nationalities": ["GB"]}, format="json")
    assert person.status_code == 201, person.json()
    pid = person.json()["id"]
    case = partner.post("/api/v1/cases/", {"party": pid}, format="json").json()
    outstanding = partner.get(f"/api/v1/cases/{case['id']}/requirements/").json()
    assert {"field.residential_address", "document.proof_of_identity"} <= {i["code"] for i in outstanding}

    assert partner.post(f"/api/v1/parties/{pid}/addresses/", {"kind": "residential", "line1": "1 High St",
                        "city": "London", "country": "GB"}, format="json").status_code == 201
    bad_id = partner.post(f"/api/v1/parties/{pid}/identifiers/", {"kind": "tax_id", "country": "GB", "value": "123"},
                          format="json")
    assert bad_id.status_code == 400 and "not a valid tax identification number for United Kingdom (GB)" in bad_id.json()["message"]
    assert partner.post(f"/api/v1/parties/{pid}/identifiers/", {"kind": "passport", "country": "GB",
                        "value": "123456789"}, format="json").status_code == 201
    assert partner.post(f"/api/v1/parties/{pid}/tax-residences/", {"country": "GB", "tin": "1955839661"},
                        format="json").status_code == 201
    for doc_type in ("passport", "utility_bill"):
        from django.core.files.uploadedfile import SimpleUploadedFile

        upload = partner.post("/api/v1/documents/", {"party": pid, "doc_type": doc_type,
                              "file": SimpleUploadedFile("x.pdf", PDF, content_type="application/pdf")},
                              format="multipart")
        assert upload.status_code == 201, upload.json()
    tax_codes = {i["code"] for i in partner.get(f"/api/v1/cases/{case['id']}/requirements/").json()}
    assert tax_codes and all(code.startswith("tax.") for code in tax_codes), tax_codes
    for form_type in ("W8BEN", "CRS_IND"):
        response = partner.post("/api/v1/tax-forms/", {"party": pid, "form_type": form_type,
                                "signed_on": "2026-11-01", "data": tax_form(form_type, name="Jane Doe",
                                                                            date_of_birth="1980-02-03")}, format="json")
        assert response.status_code == 201, response.json()
        assert response.json()["status"] == "valid", response.json()
    assert partner.get(f"/api/v1/cases/{case['id']}/requirements/").json() == []

    assert partner.post(f"/api/v1/cases/{case['id']}/submit/").json()["state"] == "submitted"
    assert partner.post(f"/api/v1/cases/{case['id']}/approve/").status_code == 403  # advisors do not approve
    assert officer_api.post(f"/api/v1/cases/{case['id']}/start-review/").json()["state"] == "in_review"
    approved = officer_api.post(f"/api/v1/cases/{case['id']}/approve/", {"reason": "all good"}, format="json")
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    again = second_officer_api.post(f"/api/v1/cases/{case['id']}/approve/")
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"
    relationship = partner.get("/api/v1/relationships/").json()["results"][0]
    assert relationship["state"] == "active"
    services.assert_relationship_active(party=Party.objects.get(pk=pid), firm=firm)


def test_an_approval_with_requirements_outstanding_lists_them(packs, firm, partner):
    officer_api = client_for(OfficerFactory())
    pid = partner.post("/api/v1/parties/", {"kind": "person", "given_names": "Al", "family_name": "Bo"},
                       format="json").json()["id"]
    cid = partner.post("/api/v1/cases/", {"party": pid}, format="json").json()["id"]
    partner.post(f"/api/v1/cases/{cid}/submit/")
    officer_api.post(f"/api/v1/cases/{cid}/start-review/")
    response = officer_api.post(f"/api/v1/cases/{cid}/approve/")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "requirements_outstanding"
    assert "client Al Bo has no date of birth" in body["detail"]["requirements"]


def test_case_state_changes_are_delivered_as_signed_webhooks(firm, partner):
    with serving("/hook") as url:
        hook = partner.post("/api/v1/webhooks/", {"url": url, "events": ["case.state_changed"]}, format="json")
        assert hook.status_code == 201, hook.json()
        secret = hook.json()["secret"]
        pid = partner.post("/api/v1/parties/", {"kind": "person", "given_names": "W", "family_name": "H"},
                           format="json").json()["id"]
        cid = partner.post("/api/v1/cases/", {"party": pid}, format="json").json()["id"]
        from django.test import TestCase

        with TestCase.captureOnCommitCallbacks(execute=True):
            partner.post(f"/api/v1/cases/{cid}/withdraw/", {"reason": "test"}, format="json")
        assert len(Receiver.received) == 1
        headers, body = Receiver.received[0]
        assert verify(secret, headers["Meridian-Signature"], body)
        assert not verify("wrong-secret", headers["Meridian-Signature"], body)
        event = json.loads(body)
        assert event["type"] == "case.state_changed"
        assert event["data"] == {"case": cid, "party": pid, "from": "draft", "to": "withdrawn"}
        delivery = WebhookDelivery.objects.get()
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 204)


def test_an_unreachable_webhook_is_logged_as_pending_with_the_error(firm, partner):
    hook = partner.post("/api/v1/webhooks/", {"url": "http://127.0.0.1:9/nothing", "events": []}, format="json")
    assert hook.status_code == 201
    pid = partner.post("/api/v1/parties/", {"kind": "person", "given_names": "W", "family_name": "H"},
                       format="json").json()["id"]
    cid = partner.post("/api/v1/cases/", {"party": pid}, format="json").json()["id"]
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        partner.post(f"/api/v1/cases/{cid}/withdraw/", {}, format="json")
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 1 and delivery.last_error


def test_the_openapi_schema_is_served(db):
    response = APIClient().get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/v1/cases/{id}/requirements/" in response.content


def test_sensitive_values_are_masked_and_a_reveal_is_audited(firm, partner):
    from onboarding.models import AuditEvent

    pid = partner.post("/api/v1/parties/", {"kind": "person", "given_names": "S", "family_name": "T",
                                             "date_of_birth": "1981-06-07"}, format="json").json()["id"]
    partner.post(f"/api/v1/parties/{pid}/identifiers/", {"kind": "tax_id", "country": "US", "value": "536-90-4399"},
                 format="json")
    body = partner.get(f"/api/v1/parties/{pid}/").json()
    assert body["date_of_birth"] == "1981-••-••"
    assert body["identifiers"][0]["value"] == "•••••4399"
    assert "536904399" not in json.dumps(body)
    listed = partner.get("/api/v1/parties/").json()
    assert "536904399" not in json.dumps(listed)
    revealed = partner.post(f"/api/v1/parties/{pid}/reveal/").json()
    assert revealed["identifiers"][0]["value"] == "536904399"
    assert revealed["date_of_birth"] == "1981-06-07"
    assert AuditEvent.objects.filter(event_type="party.sensitive_revealed", subject_id=str(pid)).count() == 1
    operations = client_for(UserFactory(firm=firm, role="operations"))
    assert operations.post(f"/api/v1/parties/{pid}/reveal/").status_code == 403


def test_the_audit_trail_of_a_case_exports_as_json_and_csv(firm, partner):
    pid = partner.post("/api/v1/parties/", {"kind": "person", "given_names": "E", "family_name": "X"},
                       format="json").json()["id"]
    cid = partner.post("/api/v1/cases/", {"party": pid}, format="json").json()["id"]
    partner.post(f"/api/v1/cases/{cid}/withdraw/", {"reason": "no longer needed"}, format="json")
    rows = partner.get(f"/api/v1/cases/{cid}/audit/").json()
    assert [r["event_type"] for r in rows] == ["party.created", "case.created", "case.withdrawn"]
    assert rows[-1]["reason"] == "no longer needed" and rows[-1]["to_state"] == "withdrawn"
    csv_text = partner.get(f"/api/v1/cases/{cid}/audit/", {"export": "csv"}).content.decode()
    assert csv_text.splitlines()[0].startswith("id,created_at,event_type")
    assert "case.withdrawn" in csv_text
