"""Sign-in lockout, the TOTP second factor, and security headers."""
import pyotp
import pytest
from django.test import Client
from django.utils import timezone

from onboarding.models import AuditEvent, UserSecondFactor
from onboarding.security import totp_enrol, totp_verify
from tests.factories import OfficerFactory, UserFactory

pytestmark = pytest.mark.django_db


def login(client, username, password):
    return client.post("/accounts/login/", {"username": username, "password": password})


def test_five_failures_lock_the_account_even_for_the_right_password():
    user = UserFactory()
    client = Client()
    for _ in range(5):
        assert login(client, user.username, "wrong").status_code == 200  # form shown again
    assert AuditEvent.objects.filter(event_type="user.locked_out", subject_id=str(user.pk)).count() == 1
    response = login(client, user.username, "pw")
    assert "_auth_user_id" not in client.session
    assert response.status_code in (200, 403)


def test_a_success_before_the_limit_clears_the_failures():
    user = UserFactory()
    client = Client()
    for _ in range(4):
        login(client, user.username, "wrong")
    assert login(client, user.username, "pw").status_code == 302
    client.logout()
    for _ in range(4):
        login(client, user.username, "wrong")
    assert login(client, user.username, "pw").status_code == 302


def test_an_officer_with_a_second_factor_must_enter_a_code_before_the_admin():
    officer = OfficerFactory()
    uri = totp_enrol(user=officer)
    secret = pyotp.parse_uri(uri).secret
    assert totp_verify(user=officer, code=pyotp.TOTP(secret).now())  # confirms enrolment
    client = Client()
    assert login(client, officer.username, "pw").status_code == 302
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/otp/")
    assert client.post("/accounts/otp/?next=/admin/", {"code": "000000"}).status_code == 200
    later = timezone.now() + timezone.timedelta(seconds=31)
    code = pyotp.TOTP(secret).at(later)
    assert totp_verify(user=officer, code=code, at=later)
    assert not totp_verify(user=officer, code=code, at=later), "a code cannot be replayed"
    UserSecondFactor.objects.filter(user=officer).update(last_used_step=0)
    response = client.post("/accounts/otp/?next=/admin/", {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_responses_carry_a_content_security_policy_and_hardening_headers():
    response = Client().get("/accounts/login/")
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
