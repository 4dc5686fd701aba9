"""API token authentication: `Authorization: Token <prefix>.<secret>`. Tokens are hashed at rest,
scoped to their user's firm, revocable, and carry scopes ("read", "write")."""
from __future__ import annotations

import hashlib
import hmac
import secrets

from django.db import connection, transaction
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions

from ..audit import record_event
from ..models import ApiToken, Firm, User


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


SCOPES = ("read", "write")


def token_creation_credentials(request) -> dict:
    """What api_token_create needs to know about how the creator signed in (pass as **kwargs)."""
    from ..security import needs_second_factor, session_passed_second_factor

    user = getattr(request, "user", None)
    via_token = request.auth if isinstance(getattr(request, "auth", None), ApiToken) else None
    verified = (via_token is None and user is not None and user.is_authenticated and needs_second_factor(user)
                and session_passed_second_factor(request))
    return {"actor": user, "actor_token": via_token, "actor_session_verified": verified}


@transaction.atomic
def api_token_create(*, user: User, name: str, scopes: list[str] | None = None, actor: User | None = None,
                     actor_token: ApiToken | None = None, actor_session_verified: bool = False) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the full token string, which is never shown again.

    The rules (issue 15): with no actor it is the operator's command line. A person creates a token
    only for themself, only from a session that has passed the second factor (never with another
    token), and never with scopes wider than their session's own."""
    from ..exceptions import PermissionDenied, SecondFactorRequired, ValidationFailed

    scopes = list(scopes or SCOPES)
    unknown = set(scopes) - set(SCOPES)
    if unknown:
        raise ValidationFailed(f"scopes: unknown scope(s) {sorted(unknown)}", detail={"scopes": sorted(unknown)})
    if actor_token is not None:
        raise PermissionDenied("an API token cannot create API tokens; sign in and pass the second factor")
    if actor is not None:
        if actor.pk != user.pk:
            raise PermissionDenied("a token can only be created for yourself")
        if not actor_session_verified:
            raise SecondFactorRequired("creating an API token needs a session that has passed the second factor "
                                       "(enrol an authenticator app and enter a code)")
        allowed = set(SCOPES)  # a verified session may do everything its role may; a token never more
        if not set(scopes) <= allowed:
            raise PermissionDenied("a token cannot have wider scopes than its creator",
                                   detail={"scopes": sorted(set(scopes) - allowed)})
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


def _columns(model) -> list:
    return [f for f in model._meta.concrete_fields]


def _token_sql() -> str:
    qn = connection.ops.quote_name
    parts = []
    for alias, model in (("t", ApiToken), ("u", User), ("f", Firm)):
        parts += [f"{alias}.{qn(f.column)}" for f in _columns(model)]
    return (f"SELECT {', '.join(parts)} FROM {qn(ApiToken._meta.db_table)} t "
            f"JOIN {qn(User._meta.db_table)} u ON u.{qn('id')} = t.{qn('user_id')} "
            f"LEFT JOIN {qn(Firm._meta.db_table)} f ON f.{qn('id')} = u.{qn('firm_id')} "
            f"WHERE t.{qn('prefix')} = %s")


def _instance(model, row: list, start: int):
    """A model instance from a slice of a raw row, each value through its field's database converters
    (JSON, dates) as the ORM would."""
    fields = _columns(model)
    values = []
    for offset, field in enumerate(fields):
        value = row[start + offset]
        for converter in (connection.ops.get_db_converters(field.get_col(model._meta.db_table))
                          + field.get_db_converters(connection)):
            value = converter(value, field, connection)
        values.append(value)
    return model.from_db(connection.alias, [f.attname for f in fields], values), start + len(fields)


def token_by_prefix(prefix: str) -> ApiToken | None:
    """The token with its user and the user's firm in one statement, the same rows
    `ApiToken.objects.select_related("user", "user__firm")` gives, without building the ORM query on
    every API request (its compilation cost more than the lookup itself: issue 18's profile). Nothing is
    cached: a revoked token or a deactivated user is refused on the very next request."""
    with connection.cursor() as cursor:
        cursor.execute(_token_sql(), [prefix])
        row = cursor.fetchone()
    if row is None:
        return None
    token, at = _instance(ApiToken, row, 0)
    user, at = _instance(User, row, at)
    firm = None
    if user.firm_id is not None:
        firm, at = _instance(Firm, row, at)
    user._state.fields_cache["firm"] = firm
    token._state.fields_cache["user"] = user
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
        token = token_by_prefix(prefix)
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


class SessionAuthentication(authentication.SessionAuthentication):
    """DRF's session authentication under the one second-factor rule (onboarding.security):
    a session that has not passed a confirmed second factor authenticates nothing."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        from ..exceptions import SecondFactorRequired
        from ..security import needs_second_factor, session_passed_second_factor

        if needs_second_factor(result[0]) and not session_passed_second_factor(request._request):
            raise SecondFactorRequired()
        return result


class TokenScopes(permissions.BasePermission):
    """A token needs "read" for safe methods and "write" for the rest; sessions are unaffected."""

    message = "this token does not have the scope for this request"

    def has_permission(self, request, view):
        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        needed = "read" if request.method in permissions.SAFE_METHODS else "write"
        return needed in token.scopes
