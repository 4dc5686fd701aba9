"""Webhook lifecycle (issue 18): the event catalogue with a typed payload per event, published in the OpenAPI
schema; a test event and the redelivery of a past delivery, both signed, audited and SSRF-checked again."""
from __future__ import annotations

import copy
import json

import jsonschema
import pytest
from django.test import TestCase
from rest_framework.test import APIClient

from onboarding import services, webhook_events, webhooks
from onboarding.models import AuditEvent, WebhookDelivery, WebhookEndpoint
from tests.factories import FirmFactory, UserFactory
from tests.webhook_receiver import Receiver, serving

from .conftest import assert_error, token_client

pytestmark = pytest.mark.django_db

# The brief's list (issue 18, "Lifecycle"), written out here rather than read from the code under test.
EXPECTED_TYPES = {
    "case.state_changed", "relationship.activated", "account.activated", "account.suspended", "account.closed",
    "alert.raised", "alert.decided", "tax_form.validated", "tax_form.expiring", "tax_form.expired",
    "rebalance.completed", "order.approved", "order.released", "order.filled", "order.cancelled",
    "order.settled", "order.failed_to_settle", "block.released", "block.filled", "block.cancelled",
    "fx_order.approved", "fx_order.released", "fx_order.settled", "fx_order.cancelled",
    "break.opened", "break.resolved", "break.written_off", "webhook.test",
    # issue 13 (cash held per custody account): transfers between custodians
    "cash_transfer.approved", "cash_transfer.settled", "cash_transfer.cancelled",
}


@pytest.fixture
def receiver():
    with serving("/hook") as url:
        yield url


@pytest.fixture
def firm():
    return FirmFactory(home_jurisdiction="GB")


@pytest.fixture
def admin(firm):
    return token_client(UserFactory(firm=firm, role="firm_admin"))


def schema_doc() -> dict:
    return APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def as_json_schema(doc: dict, node):
    """A component of the served OpenAPI 3.0 schema as plain JSON Schema: $refs inlined, nullable as null."""
    if isinstance(node, list):
        return [as_json_schema(doc, n) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        return as_json_schema(doc, doc["components"]["schemas"][name])
    out = {k: as_json_schema(doc, v) for k, v in node.items()
           if k not in ("nullable", "discriminator", "example")}
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def test_the_catalogue_lists_every_event_a_partner_cares_about_with_a_typed_schema_each():
    listed = APIClient().get("/api/v1/webhook-events/")
    assert listed.status_code == 200
    rows = {row["type"]: row for row in listed.json()}
    assert EXPECTED_TYPES <= set(rows)
    doc = schema_doc()
    schemas = doc["components"]["schemas"]
    one_of = {ref["$ref"] for ref in schemas["WebhookEvent"]["oneOf"]}
    for name, row in rows.items():
        component = schemas[row["schema"]]
        assert component["properties"]["type"]["enum"] == [name]
        assert set(component["required"]) == {"id", "type", "created", "test", "data"}
        assert f"#/components/schemas/{row['schema']}" in one_of
        assert schemas["WebhookEvent"]["discriminator"]["mapping"][name] == f"#/components/schemas/{row['schema']}"
        data = schemas[component["properties"]["data"]["$ref"].rsplit("/", 1)[1]]
        assert data["type"] == "object" and data["additionalProperties"] is False and data["properties"]
        assert set(data["required"]) == set(data["properties"])  # every field always present (null if empty)
        # the documented example follows the documented schema
        jsonschema.validate(row["example"], as_json_schema(doc, data))
        hook = doc["x-webhooks"][name]["post"]
        assert hook["requestBody"]["content"]["application/json"]["schema"] == {
            "$ref": f"#/components/schemas/{row['schema']}"}
        assert {p["name"] for p in hook["parameters"]} >= {"Meridian-Signature", "Meridian-Event"}
    # typed, not free-form: a decimal is a string, a date a date, a state an enum
    order = schemas["OrderSettledData"]["properties"]
    assert order["quantity"]["type"] == "string" and order["quantity"]["format"] == "decimal"
    assert order["settled_on"]["format"] == "date"
    assert "settled" in order["status"]["enum"] and order["block"]["nullable"] is True
    assert "GET /api/v1/webhook-events/" in doc["info"]["description"]


def test_an_emitted_payload_that_does_not_follow_its_schema_is_refused():
    firm = FirmFactory()
    with pytest.raises(ValueError, match="to"):
        webhooks.emit(firm=firm, event_type="case.state_changed", data={"case": 1, "party": 2, "from": "draft"})
    with pytest.raises(ValueError, match="nowhere"):
        webhooks.emit(firm=firm, event_type="case.went_nowhere", data={})
    with pytest.raises(ValueError, match="quantity"):
        webhook_events.validate("order.settled", {**webhook_events.get("order.settled").example, "quantity": 1.5})


def test_endpoints_subscribe_to_the_new_event_types_and_unknown_ones_are_named(admin):
    created = admin.post("/api/v1/webhooks/", {"url": "http://127.0.0.1:9/h",
                                               "events": ["order.settled", "fx_order.settled", "block.filled"]},
                         format="json")
    assert created.status_code == 201, created.content
    refused = admin.post("/api/v1/webhooks/", {"url": "http://127.0.0.1:9/h", "events": ["order.teleported"]},
                         format="json")
    body = assert_error(refused, 400, "validation_failed")
    assert "order.teleported" in body["detail"]["events"][0]


def test_a_test_event_is_signed_sent_at_once_and_audited(admin, firm, receiver):
    created = admin.post("/api/v1/webhooks/", {"url": receiver, "events": ["case.state_changed"]}, format="json")
    hook, secret = created.json()["id"], created.json()["secret"]
    with TestCase.captureOnCommitCallbacks(execute=True):
        sent = admin.post(f"/api/v1/webhooks/{hook}/test/", {}, format="json")
    assert sent.status_code == 202, sent.content
    assert sent.json()["event_type"] == "webhook.test" and sent.json()["redelivery_of"] is None
    assert len(Receiver.received) == 1
    headers, body = Receiver.received[0]
    assert webhooks.verify(secret, headers["Meridian-Signature"], body)
    event = json.loads(body)
    assert event["type"] == headers["Meridian-Event"] == "webhook.test" and event["test"] is True
    assert event["data"] == {"endpoint": hook, "message": "a test event from Meridian"}
    audit = AuditEvent.objects.get(event_type="webhook.test_sent")
    assert audit.subject_id == str(hook) and audit.detail["delivery"] == sent.json()["id"]

    # an event type of the catalogue, outside the endpoint's subscription: its example, marked as a test
    with TestCase.captureOnCommitCallbacks(execute=True):
        sent = admin.post(f"/api/v1/webhooks/{hook}/test/", {"event_type": "order.failed_to_settle"}, format="json")
    assert sent.status_code == 202
    event = json.loads(Receiver.received[1][1])
    assert event["type"] == "order.failed_to_settle" and event["test"] is True
    doc = schema_doc()
    jsonschema.validate(event, as_json_schema(doc, doc["components"]["schemas"]["OrderFailedToSettleEvent"]))
    body = assert_error(admin.post(f"/api/v1/webhooks/{hook}/test/", {"event_type": "order.lost"}, format="json"),
                        400, "validation_failed")
    assert "event_type" in body["detail"]


def test_a_past_delivery_is_redelivered_with_the_same_event_as_a_new_logged_delivery(admin, firm, receiver):
    created = admin.post("/api/v1/webhooks/", {"url": receiver, "events": []}, format="json")
    hook = created.json()["id"]
    party = services.party_create(firm=firm, actor=None, kind="person", given_names="R", family_name="D")
    case = services.case_create(firm=firm, party=party, actor=None)
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.case_withdraw(case=case, actor=None, reason="test")
    original = WebhookDelivery.objects.get(event_type="case.state_changed")
    assert original.status == "delivered"
    with TestCase.captureOnCommitCallbacks(execute=True):
        again = admin.post(f"/api/v1/webhooks/{hook}/deliveries/{original.pk}/redeliver/")
    assert again.status_code == 202, again.content
    row = again.json()
    assert row["redelivery_of"] == original.pk and row["id"] != original.pk
    assert row["event_id"] == original.event_id
    sent = WebhookDelivery.objects.get(pk=row["id"])  # sent after commit (the test's commit is the block's end)
    assert (sent.status, sent.attempts, sent.last_status_code) == ("delivered", 1, 204)
    assert len(Receiver.received) == 2 and Receiver.received[0][1] == Receiver.received[1][1]  # same body
    assert Receiver.received[1][0]["Meridian-Delivery"] == str(row["id"])
    # redelivering a redelivery sends the original again (one chain)
    with TestCase.captureOnCommitCallbacks(execute=True):
        third = admin.post(f"/api/v1/webhooks/{hook}/deliveries/{row['id']}/redeliver/").json()
    assert third["redelivery_of"] == original.pk
    assert AuditEvent.objects.filter(event_type="webhook.redelivery_requested").count() == 2
    listed = admin.get(f"/api/v1/webhooks/{hook}/deliveries/").json()["results"]
    assert [d["id"] for d in listed] == [third["id"], row["id"], original.pk]
    # another firm's endpoint, or a delivery of another endpoint: not found
    other = token_client(UserFactory(firm=FirmFactory(), role="firm_admin"))
    assert_error(other.post(f"/api/v1/webhooks/{hook}/deliveries/{original.pk}/redeliver/"), 404, "not_found")
    second = admin.post("/api/v1/webhooks/", {"url": receiver, "events": []}, format="json").json()["id"]
    assert_error(admin.post(f"/api/v1/webhooks/{second}/deliveries/{original.pk}/redeliver/"), 404, "not_found")
    reader = token_client(UserFactory(firm=firm, role="advisor"), scopes=("read",))
    assert reader.post(f"/api/v1/webhooks/{hook}/deliveries/{original.pk}/redeliver/").status_code == 403


def test_test_events_and_redeliveries_keep_the_ssrf_checks(admin, firm, settings, monkeypatch):
    created = admin.post("/api/v1/webhooks/", {"url": "http://127.0.0.1:9/h", "events": []}, format="json")
    hook = created.json()["id"]
    payload = webhooks._envelope("webhook.test", {"endpoint": hook, "message": "m"})
    past = WebhookDelivery.objects.create(endpoint_id=hook, event_id=payload["id"], event_type="webhook.test",
                                          payload=payload)
    settings.WEBHOOK_ALLOW_LOOPBACK = False  # production rules: a loopback target is refused
    import socket

    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: (_ for _ in ()).throw(
        AssertionError("must not connect")))
    for response in (admin.post(f"/api/v1/webhooks/{hook}/test/", {}, format="json"),
                     admin.post(f"/api/v1/webhooks/{hook}/deliveries/{past.pk}/redeliver/")):
        body = assert_error(response, 400, "validation_failed")
        assert "loopback" in body["detail"]["url"][0]
    assert WebhookDelivery.objects.count() == 1
    assert not AuditEvent.objects.filter(event_type__in=["webhook.test_sent", "webhook.redelivery_requested"]).exists()


def test_a_disabled_endpoint_takes_no_test_event(admin):
    hook = admin.post("/api/v1/webhooks/", {"url": "http://127.0.0.1:9/h", "events": []}, format="json").json()["id"]
    WebhookEndpoint.objects.filter(pk=hook).update(is_active=False)
    assert_error(admin.post(f"/api/v1/webhooks/{hook}/test/", {}, format="json"), 409, "invalid_transition")


def test_a_real_trading_payload_follows_the_served_schema(firm):
    """The envelope as emitted (not the catalogue's example) against the served component, copied so that the
    check does not lean on the validator inside emit."""
    webhooks.webhook_register(firm=firm, url="http://127.0.0.1:9/h", events=[])
    ids = webhooks.emit(firm=firm, event_type="fx_order.settled", data=copy.deepcopy({
        "fx_order": 3, "reference": "FX-1", "account": 4, "kind": "spot", "buy_currency": "USD",
        "buy_amount": "100.00", "sell_currency": "GBP", "sell_amount": "79.10", "value_date": "2026-12-09",
        "status": "settled"}))
    payload = WebhookDelivery.objects.get(pk=ids[0]).payload
    doc = schema_doc()
    jsonschema.validate(payload, as_json_schema(doc, doc["components"]["schemas"]["FxOrderSettledEvent"]))
    assert payload["test"] is False
