"""Test settings: SQLite by default, PostgreSQL when DATABASE_URL is set (CI)."""
from .base import *  # noqa: F401,F403

SECRET_KEY = "test-only-key"
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
API_RATE_LIMIT = ""  # no rate limits in tests (tests/api/test_rate_limits.py turns them on)
MEDIA_ROOT = BASE_DIR / "var" / "test-media"  # noqa: F405
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

WEBHOOK_ALLOW_LOOPBACK = True  # receivers in tests listen on 127.0.0.1
WEBHOOK_VALIDATE_PAYLOADS = True  # every emitted event's data is checked against its schema in the catalogue
