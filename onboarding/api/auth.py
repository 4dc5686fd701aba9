"""API token authentication: `Authorization: Token <prefix>.<secret>`. Tokens are hashed at rest,
scoped to their user's firm, revocable, and carry scopes ("read", "write")."""
from __future__ import annotations

import hashlib
import hmac
import secrets

from django.db import transaction
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions

from ..audit import record_event
from ..models import ApiToken, User


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, user: User, name: str, scopes: list[str] | None = None, actor: User | None = None) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the full token string, which is never shown again."""
    scopes = scopes or ["read", "write"]
    unknown = set(scopes) - {"read", "write"}
    if unknown:
        from ..exceptions import ValidationFailed

        raise ValidationFailed(f"scopes: unknown scope(s) {sorted(unknown)}", detail={"scopes": sorted(unknown)})
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=prefix, key_hash=_hash(secret), scopes=scopes)
    record_event(subject=token, event_type="api_token.created", actor=actor, firm=user.firm,
                 detail={"user": user.pk, "scopes": scopes, "prefix": prefix})
    return token, f"{prefix}.{secret}"


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor: User | None) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record_event(subject=token, event_type="api_token.revoked", actor=actor, firm=token.user.firm)
    return token


class TokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if parts[0] != self.keyword:
            return None
        if len(parts) != 2 or "." not in parts[1]:
            raise exceptions.AuthenticationFailed("malformed token header")
        prefix, secret = parts[1].split(".", 1)
        token = ApiToken.objects.select_related("user", "user__firm").filter(prefix=prefix).first()
        if token is None or not hmac.compare_digest(token.key_hash, _hash(secret)):
            raise exceptions.AuthenticationFailed("invalid token")
        if not token.is_active or not token.user.is_active:
            raise exceptions.AuthenticationFailed("token revoked")
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword


class TokenScopes(permissions.BasePermission):
    """A token needs "read" for safe methods and "write" for the rest; sessions are unaffected."""

    message = "this token does not have the scope for this request"

    def has_permission(self, request, view):
        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        needed = "read" if request.method in permissions.SAFE_METHODS else "write"
        return needed in token.scopes
