"""Finding 8: production settings refuse weak secrets, unusable Fernet keys, DEBUG, HSTS 0 and
demo seeding; the CSRF cookie is HttpOnly. Each case starts a real interpreter on
config.settings.prod, as a server would."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings

STRONG = "k3Y-" + "x9Q2vLm7Tz" * 6
GOOD = {"SECRET_KEY": STRONG, "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(), "DEBUG": "0",
        "DATABASE_URL": "sqlite:///:memory:"}


def start(**env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DEBUG",
                                                                    "SECURE_HSTS_SECONDS", "ALLOW_NO_HSTS")}
    environment.update({**GOOD, **env, "DJANGO_SETTINGS_MODULE": "config.settings.prod"})
    environment = {k: v for k, v in environment.items() if v is not None}
    code = "import django; django.setup(); from django.conf import settings; print('started', settings.SECURE_HSTS_SECONDS)"
    return subprocess.run([sys.executable, "-c", code], cwd=django_settings.BASE_DIR, env=environment,
                          capture_output=True, text=True, timeout=120)


def test_good_settings_start_with_hsts_on():
    result = start()
    assert result.returncode == 0, result.stderr
    assert "started 31536000" in result.stdout


@pytest.mark.parametrize(("env", "named"), [
    ({"SECRET_KEY": "x"}, "SECRET_KEY is weak"),
    ({"SECRET_KEY": None}, "SECRET_KEY must be set"),
    ({"SECRET_KEY": "django-insecure-" + "a1b2c3d4e5" * 5}, "SECRET_KEY is weak"),
    ({"FIELD_ENCRYPTION_KEYS": "notakey"}, "FIELD_ENCRYPTION_KEYS: key 1 is not a Fernet key"),
    ({"FIELD_ENCRYPTION_KEYS": f"{Fernet.generate_key().decode()},notakey"}, "key 2 is not a Fernet key"),
    ({"DEBUG": "1"}, "DEBUG must be off"),
    ({"SECURE_HSTS_SECONDS": "0"}, "SECURE_HSTS_SECONDS is 0"),
])
def test_production_refuses_to_start(env, named):
    result = start(**env)
    assert result.returncode != 0
    assert "production settings refused" in result.stderr and named in result.stderr


def test_hsts_zero_only_when_explicitly_allowed():
    assert start(SECURE_HSTS_SECONDS="0", ALLOW_NO_HSTS="1").returncode == 0


def test_seed_demo_is_refused_under_production_settings(tmp_path):
    environment = {**os.environ, **GOOD, "DJANGO_SETTINGS_MODULE": "config.settings.prod",
                   "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    result = subprocess.run([sys.executable, "manage.py", "seed_demo"], cwd=django_settings.BASE_DIR,
                            env=environment, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "demo seeding is off" in result.stderr
    assert "meridian-demo" not in result.stdout


@pytest.mark.django_db
def test_the_csrf_cookie_is_http_only(client):
    response = client.get("/accounts/login/")
    cookie = response.cookies["csrftoken"]
    assert cookie["httponly"] is True and cookie["samesite"] == "Lax"
