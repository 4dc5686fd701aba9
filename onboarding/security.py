"""Sign-in protection: lockout after repeated failures, an optional TOTP second factor, and the
security headers (content security policy and friends) every response carries."""
from __future__ import annotations

import datetime as dt

import pyotp
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.dispatch import receiver
from django.shortcuts import redirect
from django.utils import timezone

from .audit import record_event
from .models import LoginFailure, User, UserSecondFactor

OTP_SESSION_KEY = "meridian_otp_verified"


def lockout_policy() -> tuple[int, dt.timedelta]:
    return (int(getattr(settings, "LOGIN_FAILURE_LIMIT", 5)),
            dt.timedelta(minutes=int(getattr(settings, "LOGIN_LOCKOUT_MINUTES", 15))))


def is_locked_out(username: str) -> bool:
    limit, window = lockout_policy()
    return LoginFailure.objects.filter(username__iexact=username, created_at__gte=timezone.now() - window).count() >= limit


class LockoutModelBackend(ModelBackend):
    """ModelBackend that refuses every attempt (even a right password) for a locked-out name."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username and is_locked_out(username):
            raise PermissionDenied("too many failed sign-ins; try again later")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None:
            LoginFailure.objects.filter(username__iexact=username).delete()
        return user


@receiver(user_login_failed)
def _record_failure(sender, credentials, request=None, **kwargs):
    username = (credentials or {}).get("username") or ""
    if not username:
        return
    ip = request.META.get("REMOTE_ADDR") if request is not None else None
    LoginFailure.objects.create(username=username[:150], ip_address=ip)
    limit, _ = lockout_policy()
    user = User.objects.filter(username__iexact=username).first()
    if user is not None and LoginFailure.objects.filter(username__iexact=username).count() == limit:
        record_event(subject=user, event_type="user.locked_out", firm=user.firm, detail={"ip": ip})


# --- TOTP ------------------------------------------------------------------------------------


@transaction.atomic
def totp_enrol(*, user: User) -> str:
    """Start enrolment: returns the provisioning URI for an authenticator app."""
    secret = pyotp.random_base32()
    UserSecondFactor.objects.update_or_create(user=user, defaults={"secret": secret, "confirmed_at": None})
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name="Meridian")


def otp_policy() -> tuple[int, dt.timedelta]:
    """Wrong codes allowed, and how long the second factor then refuses every code."""
    return (int(getattr(settings, "OTP_FAILURE_LIMIT", 5)),
            dt.timedelta(minutes=int(getattr(settings, "OTP_LOCKOUT_MINUTES", 15))))


def totp_verify(*, user: User, code: str, at: dt.datetime | None = None) -> bool:
    """Check a code. Wrong codes are counted and audited; after OTP_FAILURE_LIMIT of them every
    code, the right one too, is refused for OTP_LOCKOUT_MINUTES (audited as a lockout)."""
    with transaction.atomic():
        factor = UserSecondFactor.objects.select_for_update().filter(user=user).first()
        if factor is None:
            return False
        now = timezone.now()
        if factor.locked_until is not None and factor.locked_until > now:
            record_event(subject=user, event_type="user.otp_refused_locked", firm=user.firm, actor=user,
                         detail={"locked_until": factor.locked_until.isoformat()})
            return False
        totp = pyotp.TOTP(factor.secret)
        moment = at or now
        for drift in (0, -1, 1):
            step = int(moment.timestamp()) // totp.interval + drift
            if step <= factor.last_used_step:
                continue
            if pyotp.utils.strings_equal(totp.at(step * totp.interval), (code or "").strip()):
                factor.last_used_step = step
                factor.failed_attempts = 0
                factor.locked_until = None
                if factor.confirmed_at is None:
                    factor.confirmed_at = now
                    record_event(subject=user, event_type="user.totp_enrolled", firm=user.firm)
                factor.save()
                record_event(subject=user, event_type="user.otp_verified", firm=user.firm, actor=user)
                return True
        limit, window = otp_policy()
        factor.failed_attempts += 1
        detail = {"attempt": factor.failed_attempts, "limit": limit}
        record_event(subject=user, event_type="user.otp_failed", firm=user.firm, actor=user, detail=detail)
        if factor.failed_attempts >= limit:
            factor.locked_until = now + window
            factor.failed_attempts = 0
            record_event(subject=user, event_type="user.otp_locked_out", firm=user.firm, actor=user,
                         detail={"locked_until": factor.locked_until.isoformat(), "after": limit})
        factor.save(update_fields=["failed_attempts", "locked_until"])
        return False


def otp_locked(user: User) -> bool:
    return UserSecondFactor.objects.filter(user=user, locked_until__gt=timezone.now()).exists()


def needs_second_factor(user: User) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and UserSecondFactor.objects.filter(
        user=user, confirmed_at__isnull=False
    ).exists()


def session_passed_second_factor(request) -> bool:
    """True when this session's user entered a right code in this session."""
    return bool(getattr(request, "session", None) is not None and request.session.get(OTP_SESSION_KEY))


def second_factor_pending(request) -> bool:
    """The one second-factor rule: a session-authenticated user with a confirmed second factor
    has not yet entered a code in this session. Applies to every path, the API included."""
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and not session_passed_second_factor(request)
                and needs_second_factor(user))


def _token_request(request) -> bool:
    """API requests that carry a token authenticate by the token alone (TokenAuthentication never
    falls back to the session), so the session's second factor does not apply to them."""
    return request.META.get("HTTP_AUTHORIZATION", "").split(" ", 1)[0] == "Token"


class SecondFactorMiddleware:
    """A signed-in user with a confirmed second factor must enter a TOTP code once per session
    before anything but the code page and sign-out: pages redirect to the code page, API calls
    with the session answer 403 `second_factor_required`."""

    EXEMPT = ("/accounts/otp/", "/accounts/logout/", "/accounts/login/", "/static/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(self.EXEMPT):
            return self.get_response(request)
        if request.path.startswith("/api/") and _token_request(request):
            return self.get_response(request)
        if second_factor_pending(request):
            if request.path.startswith("/api/"):
                from django.http import JsonResponse

                from .exceptions import SecondFactorRequired

                exc = SecondFactorRequired()
                return JsonResponse({"code": exc.code, "message": exc.message, "detail": None},
                                    status=exc.status_code)
            return redirect(f"/accounts/otp/?next={request.path}")
        return self.get_response(request)


class SecurityHeadersMiddleware:
    """Content security policy and related headers on every response."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.csp = getattr(settings, "CONTENT_SECURITY_POLICY", "")

    def __call__(self, request):
        response = self.get_response(request)
        if self.csp and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.csp
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        response.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        return response


OFFICER_APPS = {"onboarding", "compliance", "tax", "accounts", "reference", "trading", "reconciliation"}


class OfficerPermissionBackend:
    """Platform compliance officers may view, add and change everything in Meridian's apps in the
    admin (never delete: records are corrected, not erased). Firm users get no admin rights."""

    def authenticate(self, request, **credentials):
        return None

    def has_perm(self, user_obj, perm, obj=None):
        if not (user_obj.is_active and user_obj.is_staff and getattr(user_obj, "role", "") == "compliance_officer"):
            return False
        app_label, _, codename = perm.partition(".")
        return app_label in OFFICER_APPS and not codename.startswith("delete_")

    def has_module_perms(self, user_obj, app_label):
        return (user_obj.is_active and user_obj.is_staff and getattr(user_obj, "role", "") == "compliance_officer"
                and app_label in OFFICER_APPS)
