"""One second-factor rule for every session-authenticated request (pages and /api/), limited and
audited code attempts, and API tokens made only by a person whose session passed the second factor."""
from __future__ import annotations

import pyotp
import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient, APIRequestFactory

from onboarding.api.auth import api_token_create, token_creation_credentials
from onboarding.exceptions import PermissionDenied, SecondFactorRequired
from onboarding.models import ApiToken, AuditEvent
from onboarding.security import OTP_SESSION_KEY, totp_enrol, totp_verify
from tests.factories import FirmFactory, OfficerFactory, PersonFactory, UserFactory

pytestmark = pytest.mark.django_db


def enrolled(user) -> pyotp.TOTP:
    secret = pyotp.parse_uri(totp_enrol(user=user)).secret
    totp = pyotp.TOTP(secret)
    earlier = timezone.now() - timezone.timedelta(seconds=90)
    assert totp_verify(user=user, code=totp.at(earlier), at=earlier)  # confirms enrolment
    return totp


def signed_in_with_password_only(user) -> Client:
    client = Client()
    assert client.post("/accounts/login/", {"username": user.username, "password": "pw"}).status_code == 302
    return client


def test_a_password_only_session_cannot_call_the_api():
    officer = OfficerFactory()
    enrolled(officer)
    party = PersonFactory(firm=FirmFactory())
    client = signed_in_with_password_only(officer)
    assert client.get("/").status_code == 302  # pages: to the code page
    for method, path in [("post", f"/api/v1/parties/{party.pk}/reveal/"), ("post", "/api/v1/cases/1/start-review/"),
                         ("get", "/api/v1/parties/"), ("get", "/api/v1/cases/")]:
        response = getattr(client, method)(path, content_type="application/json")
        assert response.status_code == 403, (path, response.status_code)
        assert response.json()["code"] == "second_factor_required", path
    assert not AuditEvent.objects.filter(event_type="party.revealed").exists()


def test_the_rule_also_holds_in_drf_behind_any_middleware():
    """The session authentication class applies the same rule, whatever the middleware order."""
    from onboarding.api.auth import SessionAuthentication

    officer = OfficerFactory()
    enrolled(officer)
    request = APIRequestFactory().get("/api/v1/parties/")
    request.user, request._dont_enforce_csrf_checks = officer, True
    from django.contrib.sessions.backends.db import SessionStore

    request.session = SessionStore()
    from rest_framework.request import Request

    with pytest.raises(SecondFactorRequired):
        SessionAuthentication().authenticate(Request(request))
    request.session[OTP_SESSION_KEY] = True
    assert SessionAuthentication().authenticate(Request(request))[0] == officer


def test_after_the_code_the_session_reaches_the_api():
    officer = OfficerFactory()
    totp = enrolled(officer)
    client = signed_in_with_password_only(officer)
    assert client.post("/accounts/otp/", {"code": totp.now()}).status_code == 302
    assert client.get("/api/v1/parties/").status_code == 200


def test_forty_wrong_codes_then_the_right_one_does_not_sign_in():
    officer = OfficerFactory()
    totp = enrolled(officer)
    client = signed_in_with_password_only(officer)
    right = totp.now()
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for _ in range(40):
        client.post("/accounts/otp/", {"code": wrong})
    response = client.post("/accounts/otp/", {"code": right})
    assert response.status_code == 200 and "Too many wrong codes" in response.content.decode()
    assert client.get("/api/v1/parties/").status_code == 403
    assert AuditEvent.objects.filter(event_type="user.otp_failed", actor=officer).count() == 5
    assert AuditEvent.objects.filter(event_type="user.otp_locked_out", actor=officer).count() == 1
    assert AuditEvent.objects.filter(event_type="user.otp_refused_locked", actor=officer).count() == 36
    # signing in again does not reset the counter (it lives with the factor, not the password failures)
    again = signed_in_with_password_only(officer)
    assert again.post("/accounts/otp/", {"code": totp.now()}).status_code == 200


def test_the_lockout_ends_after_its_window(settings):
    settings.OTP_FAILURE_LIMIT = 3
    officer = OfficerFactory()
    totp = enrolled(officer)
    for _ in range(3):
        assert not totp_verify(user=officer, code="000000x")
    officer.second_factor.refresh_from_db()
    assert officer.second_factor.locked_until is not None
    officer.second_factor.__class__.objects.filter(pk=officer.second_factor.pk).update(
        locked_until=timezone.now() - timezone.timedelta(seconds=1))
    assert totp_verify(user=officer, code=totp.now())


def _request_as(user, *, verified: bool, auth=None):
    from django.contrib.sessions.backends.db import SessionStore

    request = APIRequestFactory().post("/api/v1/tokens/")
    request.user, request.auth, request.session = user, auth, SessionStore()
    if verified:
        request.session[OTP_SESSION_KEY] = True
    return request


def test_tokens_are_created_only_from_a_session_that_passed_the_second_factor():
    user = UserFactory(firm=FirmFactory(), role="firm_admin")
    with pytest.raises(SecondFactorRequired):  # not enrolled: no session can have passed it
        api_token_create(user=user, name="t", **token_creation_credentials(_request_as(user, verified=True)))
    enrolled(user)
    with pytest.raises(SecondFactorRequired):
        api_token_create(user=user, name="t", **token_creation_credentials(_request_as(user, verified=False)))
    token, secret = api_token_create(user=user, name="t", scopes=["read"],
                                     **token_creation_credentials(_request_as(user, verified=True)))
    assert token.scopes == ["read"]
    # never by a token, even a verified session's own token
    with pytest.raises(PermissionDenied, match="cannot create"):
        api_token_create(user=user, name="t2", **token_creation_credentials(_request_as(user, verified=True,
                                                                                       auth=token)))
    # never for somebody else
    colleague = UserFactory(firm=user.firm)
    with pytest.raises(PermissionDenied, match="yourself"):
        api_token_create(user=colleague, name="t3", **token_creation_credentials(_request_as(user, verified=True)))
    assert ApiToken.objects.count() == 1
    assert AuditEvent.objects.filter(event_type="api_token.created").count() == 1


def test_a_token_request_is_not_judged_by_a_stale_session():
    officer = OfficerFactory()
    enrolled(officer)
    _, secret = api_token_create(user=officer, name="ops")  # created by the operator's command line
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    assert client.get("/api/v1/parties/").status_code == 200
    bogus = signed_in_with_password_only(officer)
    response = bogus.get("/api/v1/parties/", HTTP_AUTHORIZATION="Basic Zm9vOmJhcg==")  # not a token: the session rules
    assert response.status_code == 403 and response.json()["code"] == "second_factor_required"
