"""Local development: `make run`. Embedded SQLite and eager Celery unless the environment says otherwise."""
from .base import *  # noqa: F401,F403
from .base import env_bool

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = SECRET_KEY or "dev-only-insecure-key-do-not-use-in-production"  # noqa: F405

WEBHOOK_ALLOW_LOOPBACK = env_bool("WEBHOOK_ALLOW_LOOPBACK", True)  # a local receiver
WEBHOOK_VALIDATE_PAYLOADS = True  # emitted events checked against their schemas (onboarding.webhook_events)
