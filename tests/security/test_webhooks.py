"""Finding 5: webhook targets are checked (HTTPS in production, public addresses only, again at
delivery against DNS rebinding), and signing secrets are shown once, rotatable, never on a read."""
from __future__ import annotations

import socket

import pytest
from rest_framework.test import APIClient

from onboarding import webhooks
from onboarding.api.auth import api_token_create
from onboarding.exceptions import ValidationFailed
from onboarding.models import AuditEvent, WebhookDelivery, WebhookEndpoint
from tests.factories import FirmFactory, UserFactory

pytestmark = pytest.mark.django_db


def client(user, scopes=("read", "write")):
    _, token = api_token_create(user=user, name="t", scopes=list(scopes))
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return c


def fake_dns(monkeypatch, answers: dict[str, str]):
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            family = socket.AF_INET6 if ":" in answers[host] else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:5432/", "http://localhost:6379/", "http://[::1]/", "http://[::ffff:127.0.0.1]/",
    "http://10.0.0.5/", "http://192.168.1.1/", "http://172.16.0.1/", "http://100.64.0.1/",
    "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://0.0.0.0/",
    "http://[fe80::1]/", "gopher://example.com/", "http://user:pw@93.184.215.14/", "http://224.0.0.1/",
])
def test_internal_targets_are_refused_under_production_rules(settings, url):
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    with pytest.raises(ValidationFailed) as refused:
        webhooks.webhook_register(firm=FirmFactory(), url=url, events=[])
    assert "url" in refused.value.detail
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("url", ["http://10.1.2.3/", "http://169.254.169.254/", "http://[fd00:ec2::254]/",
                                 "http://192.168.0.10/"])
def test_the_loopback_setting_never_opens_private_or_metadata_ranges(settings, url):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    with pytest.raises(ValidationFailed):
        webhooks.webhook_register(firm=FirmFactory(), url=url, events=[])


def test_production_settings_require_https_and_refuse_loopback(settings, monkeypatch):
    settings.WEBHOOK_REQUIRE_HTTPS, settings.WEBHOOK_ALLOW_LOOPBACK = True, False
    fake_dns(monkeypatch, {"hooks.partner.example": "93.184.215.14"})
    with pytest.raises(ValidationFailed, match="https"):
        webhooks.webhook_register(firm=FirmFactory(), url="http://hooks.partner.example/in", events=[])
    endpoint = webhooks.webhook_register(firm=FirmFactory(), url="https://hooks.partner.example/in", events=[])
    assert endpoint.pk


def test_dns_rebinding_is_caught_at_delivery(settings, monkeypatch, django_capture_on_commit_callbacks):
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    fake_dns(monkeypatch, {"rebind.example": "93.184.215.14"})
    firm = FirmFactory()
    webhooks.webhook_register(firm=firm, url="http://rebind.example:5432/", events=[])
    fake_dns(monkeypatch, {"rebind.example": "127.0.0.1"})  # the attacker's DNS now answers loopback
    connected = []
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: connected.append(a) or (_ for _ in ()).throw(
        AssertionError("must not connect")))
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.emit(firm=firm, event_type="case.state_changed",
                      data={"case": 1, "party": 2, "from": "draft", "to": "submitted"})
    delivery = WebhookDelivery.objects.get()
    assert delivery.status != "delivered" and delivery.last_error.startswith("refused:")
    assert "loopback" in delivery.last_error and connected == []


def test_the_secret_is_shown_once_rotatable_and_never_read(settings):
    firm = FirmFactory()
    writer = client(UserFactory(firm=firm, role="firm_admin"))
    reader = client(UserFactory(firm=firm, role="advisor"), scopes=("read",))
    created = writer.post("/api/v1/webhooks/", {"url": "http://127.0.0.1:9/hook", "events": []}, format="json")
    assert created.status_code == 201
    secret = created.json()["secret"]
    assert len(secret) == 64
    hook_id = created.json()["id"]
    for c in (reader, writer):
        assert "secret" not in c.get(f"/api/v1/webhooks/{hook_id}/").json()
        assert all("secret" not in row for row in c.get("/api/v1/webhooks/").json()["results"])
    assert reader.post(f"/api/v1/webhooks/{hook_id}/rotate-secret/").status_code == 403
    rotated = writer.post(f"/api/v1/webhooks/{hook_id}/rotate-secret/")
    assert rotated.status_code == 200 and rotated.json()["secret"] not in ("", secret)
    assert WebhookEndpoint.objects.get(pk=hook_id).secret == rotated.json()["secret"]
    assert AuditEvent.objects.filter(event_type="webhook.secret_rotated", subject_id=str(hook_id)).count() == 1
    other = client(UserFactory(firm=FirmFactory(), role="firm_admin"))
    assert other.post(f"/api/v1/webhooks/{hook_id}/rotate-secret/").status_code == 404


def test_the_secret_is_encrypted_at_rest():
    from django.db import connection

    endpoint = webhooks.webhook_register(firm=FirmFactory(), url="http://127.0.0.1:9/", events=[])
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM onboarding_webhookendpoint WHERE id = %s", [endpoint.pk])
        stored = cursor.fetchone()[0]
    assert endpoint.secret not in stored and stored.startswith("enc:")
