"""API tokens through the API: created only from a session that passed the second factor (never with a
token), shown once, listed and revoked (a firm administrator manages the firm's tokens)."""
from __future__ import annotations

import pyotp
import pytest
from rest_framework.test import APIClient

from onboarding.api.auth import api_token_create
from onboarding.models import ApiToken, AuditEvent
from onboarding.security import totp_enrol
from tests.factories import FirmFactory, UserFactory

from .conftest import assert_error, token_client

pytestmark = pytest.mark.django_db


def verified_session(user) -> APIClient:
    """A real sign-in: password, then a TOTP code from the enrolled authenticator."""
    uri = totp_enrol(user=user)
    user.set_password("pw-for-tests-1")
    user.save()
    client = APIClient(enforce_csrf_checks=False)
    assert client.login(username=user.username, password="pw-for-tests-1")
    code = pyotp.parse_uri(uri).now()
    response = client.post("/accounts/otp/", {"code": code}, format="multipart")
    assert response.status_code in (200, 302), response.content
    return client


def test_a_verified_session_creates_a_token_shown_once_and_never_wider_than_itself():
    user = UserFactory(firm=FirmFactory(), role="advisor")
    session = verified_session(user)
    created = session.post("/api/v1/api-tokens/", {"name": "crm", "scopes": ["read"]})
    assert created.status_code == 201, created.content
    secret = created.json()["token"]
    assert secret.startswith(created.json()["prefix"] + ".") and created.json()["scopes"] == ["read"]
    listed = session.get("/api/v1/api-tokens/").json()["results"]
    assert [t["prefix"] for t in listed] == [created.json()["prefix"]] and "token" not in listed[0]
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    assert reader.get("/api/v1/cases/").status_code == 200
    # a token never creates a token, not even a read-write one
    assert_error(token_client(user).post("/api/v1/api-tokens/", {"name": "x"}), 403)
    assert_error(session.post("/api/v1/api-tokens/", {"name": "x", "scopes": ["admin"]}), 400, "validation_failed")


def test_a_password_only_session_cannot_create_a_token():
    user = UserFactory(firm=FirmFactory(), role="advisor")
    totp_enrol(user=user)
    user.set_password("pw-for-tests-1")
    user.save()
    client = APIClient()
    client.login(username=user.username, password="pw-for-tests-1")
    assert_error(client.post("/api/v1/api-tokens/", {"name": "x"}), 403, "second_factor_required")
    assert ApiToken.objects.count() == 0


def test_a_firm_admin_lists_and_revokes_the_firms_tokens_and_nobody_elses():
    firm = FirmFactory()
    admin = UserFactory(firm=firm, role="firm_admin")
    advisor = UserFactory(firm=firm, role="advisor")
    theirs, _ = api_token_create(user=advisor, name="advisor's")
    other_firm, _ = api_token_create(user=UserFactory(firm=FirmFactory()), name="elsewhere")
    admin_api = token_client(admin)
    prefixes = {t["prefix"] for t in admin_api.get("/api/v1/api-tokens/").json()["results"]}
    assert theirs.prefix in prefixes and other_firm.prefix not in prefixes
    revoked = admin_api.post(f"/api/v1/api-tokens/{theirs.pk}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["is_active"] is False
    assert AuditEvent.objects.filter(event_type="api_token.revoked", subject_id=str(theirs.pk)).exists()
    assert_error(admin_api.post(f"/api/v1/api-tokens/{other_firm.pk}/revoke/"), 404, "not_found")
    # an advisor sees only their own
    advisor_api = token_client(advisor)
    assert {t["user"] for t in advisor_api.get("/api/v1/api-tokens/").json()["results"]} == {advisor.username}


def test_the_portal_page_creates_shows_once_and_revokes():
    from django.test import Client

    admin = UserFactory(firm=FirmFactory(), role="firm_admin")
    colleague_token, _ = api_token_create(user=UserFactory(firm=admin.firm, role="advisor"), name="colleague's")
    session = verified_session(admin)
    browser = Client()
    browser.cookies = session.cookies
    page = browser.get("/settings/api-tokens/")
    assert page.status_code == 200 and b"colleague&#x27;s" in page.content
    created = browser.post("/settings/api-tokens/", {"name": "reporting", "scopes": ["read"]})
    token = ApiToken.objects.get(name="reporting")
    assert created.status_code == 200 and f"{token.prefix}.".encode() in created.content
    assert token.scopes == ["read"] and token.user == admin
    assert f"{token.prefix}.".encode() not in browser.get("/settings/api-tokens/").content  # shown once
    browser.post("/settings/api-tokens/", {"revoke": colleague_token.pk})
    colleague_token.refresh_from_db()
    assert colleague_token.revoked_at is not None
