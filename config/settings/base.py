"""Settings shared by every environment. Everything that differs between machines is read
from the environment; see README.md, "Configuration"."""
from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent
SHARED_DIR = Path(os.environ.get("MERIDIAN_SHARED_DIR", BASE_DIR.parent / "shared"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = os.environ.get("SECRET_KEY", "")
DEBUG = env_bool("DEBUG", False)
# Sensitive fields are encrypted at rest with these Fernet keys (newest first; see onboarding/crypto.py).
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS", "")
FIELD_HASH_KEY = os.environ.get("FIELD_HASH_KEY", "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_guid",
    "onboarding",
    "compliance",
    "compliance.tax",
    "trading.reference",
    "accounts",
    "trading",
    "trading.reconciliation",
]

MIDDLEWARE = [
    "django_guid.middleware.guid_middleware",  # X-Request-ID on every response and in every log line
    "onboarding.api.errors.ApiErrorMiddleware",  # JSON error bodies for everything under /api/
    "onboarding.api.throttling.RateLimitHeadersMiddleware",  # RateLimit-* headers from the token throttle
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "onboarding.security.SecondFactorMiddleware",
    "onboarding.security.SecurityHeadersMiddleware",
]

AUTHENTICATION_BACKENDS = ["onboarding.security.LockoutModelBackend", "onboarding.security.OfficerPermissionBackend"]
LOGIN_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
LOGIN_LOCKOUT_MINUTES = int(os.environ.get("LOGIN_LOCKOUT_MINUTES", "15"))
# Wrong second-factor codes allowed before every code (the right one too) is refused for a while.
OTP_FAILURE_LIMIT = int(os.environ.get("OTP_FAILURE_LIMIT", "5"))
OTP_LOCKOUT_MINUTES = int(os.environ.get("OTP_LOCKOUT_MINUTES", "15"))
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'"
)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(8 * 60 * 60)))
CSRF_COOKIE_SAMESITE = "Lax"
# htmx in the portal only issues GETs and forms carry {% csrf_token %}: no script reads the cookie.
CSRF_COOKIE_HTTPONLY = True
# `manage.py seed_demo` creates users with a published password; production settings turn it off.
DEMO_SEEDING = env_bool("DEMO_SEEDING", True)

# Webhook targets (onboarding/webhooks.py). Private, link-local and cloud metadata addresses are
# always refused. WEBHOOK_ALLOW_LOOPBACK lets 127.0.0.1/::1 receivers through for local development
# and tests; production settings force it off and force HTTPS on.
WEBHOOK_ALLOW_LOOPBACK = env_bool("WEBHOOK_ALLOW_LOOPBACK", False)
WEBHOOK_REQUIRE_HTTPS = env_bool("WEBHOOK_REQUIRE_HTTPS", False)
WEBHOOK_VALIDATE_PAYLOADS = env_bool("WEBHOOK_VALIDATE_PAYLOADS", False)  # check each event against its schema

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite serialises writers; wait for the lock instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "onboarding.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "var" / "media"))
MEDIA_URL = "media/"
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "onboarding.api.schema.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "onboarding.api.auth.TokenAuthentication",
        "onboarding.api.auth.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "onboarding.api.auth.TokenScopes",
    ],
    "EXCEPTION_HANDLER": "onboarding.api.errors.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "onboarding.api.pagination.PageNumber",  # ?page=, ?page_size= (max 500)
    "PAGE_SIZE": 50,
    # ?search= on every list that declares search_fields (names, numbers, codes); related-object filters
    # accept only ids the user may see (onboarding.api.filters, issue 15).
    "DEFAULT_FILTER_BACKENDS": ["onboarding.api.filters.StrictFilterBackend",  # tenant rule + strict
                                "onboarding.api.filters.DocumentedSearchFilter"],
    "NON_FIELD_ERRORS_KEY": "non_field_errors",
    "DEFAULT_THROTTLE_CLASSES": ["onboarding.api.throttling.TokenRateThrottle"],
    # JSON bodies; the upload operations declare multipart themselves. One content type per operation keeps
    # the schema (and clients generated from it) unambiguous.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",  # onboarding.api.errors.NON_FIELD_KEY
}
# Rate limit per API token (onboarding.api.throttling); "" or "off" turns it off (test and benchmark settings).
API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "1200/min")
_THROTTLE_REDIS = os.environ.get("THROTTLE_REDIS_URL") or os.environ.get("REDIS_URL", "")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "throttle": ({"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _THROTTLE_REDIS,
                  "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2}, "KEY_PREFIX": "meridian"}
                 if _THROTTLE_REDIS else
                 {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "throttle"}),
    "throttle_local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "throttle-local"},
}
# Request ids (django-guid): a client's own UUID in X-Request-ID is kept, anything else is replaced by a new one.
DJANGO_GUID = {"GUID_HEADER_NAME": "X-Request-ID", "VALIDATE_GUID": True, "RETURN_HEADER": True,
               "EXPOSE_HEADER": True, "UUID_FORMAT": "hex"}
SPECTACULAR_SETTINGS = {
    "TITLE": "Meridian partner API",
    "DESCRIPTION": "Onboarding, compliance and operations for global separately managed accounts.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,  # read-only fields stay out of request bodies; uploads are binary
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "onboarding.api.schema.postprocess",
                            "compliance.tax.api.schema_postprocess"],
    "ENUM_NAME_OVERRIDES": {
        "PartyKindEnum": "onboarding.models.PartyKind",
        "AddressKindEnum": "onboarding.models.AddressKind",
        "IdentifierKindEnum": "onboarding.models.IdentifierKind",
        "RunStatusEnum": "trading.models.RunStatus",
        "NoTinReasonEnum": ["", "A", "B", "C"],  # CRS reasons for a missing TIN (party residences, tax forms)
    },
}

# Celery: with no broker configured, tasks run eagerly in the calling process.
_BROKER = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not _BROKER
# Eager mode still serialises through a producer: give it the in-memory transport, not a default AMQP host.
CELERY_BROKER_URL = _BROKER or "memory://localhost/"
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", _BROKER or None)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A task whose whole worker died is redelivered by Redis after this many seconds (acks late).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "900"))}
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict = {
    # Opens reviews due within 30 days and flags overdue ones (onboarding.tasks.open_due_reviews is
    # the simpler fallback, opening only those already due).
    "compliance-periodic-reviews": {"task": "compliance.tasks.periodic_reviews", "schedule": 24 * 60 * 60},
    "tax-expiry-sweep": {"task": "tax.expiry_sweep", "schedule": 24 * 60 * 60},
    "books-refresh": {"task": "accounts.books_refresh", "schedule": 24 * 60 * 60},
    "reconciliation-daily": {"task": "reconciliation.daily_run", "schedule": 24 * 60 * 60},
    # Each market's approved orders go out at its own open: every 5 minutes the markets open at
    # that instant (own time zone and calendar) release; closed ones wait.
    "trading-release-waves": {"task": "trading.tasks.release_open_markets", "schedule": 5 * 60},
    # Settlement of what is due today where the market's and the currency's calendars allow.
    "trading-settle-due": {"task": "trading.tasks.settle_due", "schedule": 60 * 60},
    # The audit hash chain: rows chained after commit, in batches; proved nightly (an alert if not).
    "audit-chain": {"task": "onboarding.tasks.audit_chain", "schedule": 60},
    "audit-verify": {"task": "onboarding.tasks.audit_verify", "schedule": 24 * 60 * 60},
}
# WeasyPrint grows in memory in long-lived workers: recycle worker processes.
CELERY_WORKER_MAX_TASKS_PER_CHILD = int(os.environ.get("CELERY_WORKER_MAX_TASKS_PER_CHILD", "200"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "django_guid.log_filters.CorrelationId", "correlation_id_field": "request_id"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "celery.app.trace": {"level": "WARNING"},
                "django_guid": {"level": "ERROR"}},
}
