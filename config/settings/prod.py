"""Production: every secret comes from the environment, and the service refuses to start with a
weak or unusable one (issue 15). Each refusal names the setting and what to do."""
import os

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F401,F403
from .base import FIELD_ENCRYPTION_KEYS, SECRET_KEY, env_bool


def production_problems(*, secret_key: str, field_keys: list[str], debug: bool, hsts_seconds: int,
                        allow_no_hsts: bool) -> list[str]:
    """Everything that makes these settings unfit for production (empty when fit)."""
    from cryptography.fernet import Fernet

    def check_keys(keys):
        bad = []
        for position, key in enumerate(keys, start=1):
            try:
                Fernet(key.encode())
            except (ValueError, TypeError) as exc:
                bad.append(f"key {position} is not a Fernet key ({exc})")
        return bad

    problems = []
    # Django's own deployment check (security.W009): at least 50 characters, 5 distinct, not a generated dev key.
    if not secret_key:
        problems.append("SECRET_KEY must be set in the environment")
    elif (len(secret_key) < 50 or len(set(secret_key)) < 5 or secret_key.startswith("django-insecure-")
          or "insecure" in secret_key or "dev-only" in secret_key):
        problems.append("SECRET_KEY is weak: use at least 50 random characters "
                        "(python -c 'import secrets; print(secrets.token_urlsafe(64))')")
    if not field_keys:
        problems.append("FIELD_ENCRYPTION_KEYS must be set (sensitive fields and documents are encrypted)")
    else:
        problems += [f"FIELD_ENCRYPTION_KEYS: {p} (make one with: python -c 'from cryptography.fernet import "
                     "Fernet; print(Fernet.generate_key().decode())')" for p in check_keys(field_keys)]
    if debug:
        problems.append("DEBUG must be off in production")
    if hsts_seconds <= 0 and not allow_no_hsts:
        problems.append("SECURE_HSTS_SECONDS is 0: set it (31536000 is the default here), or set "
                        "ALLOW_NO_HSTS=1 if TLS is terminated by something that sends HSTS itself")
    return problems


HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
_problems = production_problems(secret_key=SECRET_KEY, field_keys=FIELD_ENCRYPTION_KEYS,
                                debug=env_bool("DEBUG", False), hsts_seconds=HSTS_SECONDS,
                                allow_no_hsts=env_bool("ALLOW_NO_HSTS", False))
if _problems:
    raise ImproperlyConfigured("production settings refused:\n- " + "\n- ".join(_problems))

DEBUG = False
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = HSTS_SECONDS
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# Never in production: demo users with a published password, loopback webhooks, plain-HTTP webhooks.
DEMO_SEEDING = False
WEBHOOK_ALLOW_LOOPBACK = False
WEBHOOK_REQUIRE_HTTPS = True
