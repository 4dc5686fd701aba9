"""Shared fixtures. Tests read the real files in ../shared/data in place."""
from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

SHARED_DATA = Path(settings.SHARED_DIR) / "data"


@contextlib.contextmanager
def registries_isolated():
    """Run without the requirement providers, activation checks and case hooks that apps register."""
    from onboarding import requirements as registry

    saved = (dict(registry._providers), dict(registry._activation_checks), dict(registry._case_hooks))
    for target in (registry._providers, registry._activation_checks, registry._case_hooks):
        target.clear()
    try:
        yield
    finally:
        for target, values in zip((registry._providers, registry._activation_checks, registry._case_hooks), saved):
            target.clear()
            target.update(values)


@pytest.fixture(scope="session", autouse=True)
def _flush_past_the_audit_truncate_trigger():
    """A transactional test (live server, real worker, row-lock races) ends with a flush, which
    PostgreSQL does with one TRUNCATE of every table; the audit trail's statement trigger refuses
    it (onboarding migration 0013). The test database's flush alone lifts that trigger inside its
    own transaction and puts it back before committing; nothing else changes."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    real = DatabaseOperations.sql_flush
    trigger = "onboarding_auditevent_no_truncate"

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        sql = real(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        if sql and "onboarding_auditevent" in tables:
            sql = [f"ALTER TABLE onboarding_auditevent DISABLE TRIGGER {trigger}", *sql,
                   f"ALTER TABLE onboarding_auditevent ENABLE TRIGGER {trigger}"]
        return sql

    DatabaseOperations.sql_flush = sql_flush
    yield
    DatabaseOperations.sql_flush = real


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


requires_postgres = pytest.mark.skipif("not __import__('tests.conftest', fromlist=['x']).is_postgres()")


@pytest.fixture
def celery_worker_process(transactional_db):
    """A real Celery worker (separate process) on the Redis broker named by
    CELERY_INTEGRATION_BROKER, sharing this test's PostgreSQL database. Yields the Celery app
    configured to send to it. Skipped unless both are available (CI sets them)."""
    import os
    import subprocess
    import sys
    import time

    from config.celery_app import app

    broker = os.environ.get("CELERY_INTEGRATION_BROKER")
    if not broker or connection.vendor != "postgresql":
        pytest.skip("needs CELERY_INTEGRATION_BROKER and PostgreSQL (run by .ci/run)")
    # under pytest-xdist each xdist worker gets its own Redis database below the given one (gw0: 15, gw1: 14 ...),
    # so two real-worker tests running at once never take each other's tasks
    xdist = os.environ.get("PYTEST_XDIST_WORKER", "")
    if xdist.startswith("gw") and broker.rsplit("/", 1)[-1].isdigit():
        base, number = broker.rsplit("/", 1)
        broker = f"{base}/{max(0, int(number) - int(xdist[2:]))}"
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    env = dict(os.environ, DATABASE_URL=url, CELERY_BROKER_URL=broker, CELERY_RESULT_BACKEND=broker,
               DJANGO_SETTINGS_MODULE="config.settings.dev", DEBUG="0",
               # the worker must read what the test wrote: the same keys for the encrypted fields
               SECRET_KEY=settings.SECRET_KEY,
               FIELD_ENCRYPTION_KEYS=",".join(getattr(settings, "FIELD_ENCRYPTION_KEYS", ()) or ()))
    import redis

    redis.Redis.from_url(broker).flushdb()
    log = open(Path(settings.BASE_DIR) / "var" / "celery-worker-test.log", "w") if (Path(settings.BASE_DIR) / "var").exists() else subprocess.DEVNULL
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "prefork", "-c", "2", "-l", "info",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"test-{os.getpid()}@%h"],
        cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    saved = {k: app.conf[k] for k in ("broker_url", "result_backend", "task_always_eager")}
    app.conf.update(broker_url=broker, result_backend=broker, task_always_eager=False)
    _reset_celery_pools(app)
    try:
        deadline = time.time() + 60
        last_error = None
        while time.time() < deadline:
            try:
                if app.control.ping(timeout=1.0):
                    break
            except Exception as exc:  # noqa: BLE001 - broker not ready yet
                last_error = exc
            time.sleep(0.5)
        else:
            pytest.fail(f"the Celery worker did not answer within 60 s ({last_error!r})")
        yield app
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        app.conf.update(**saved)
        _reset_celery_pools(app)


def _reset_celery_pools(app) -> None:
    """Earlier tests may have made connection pools for the default broker; drop them so the
    app talks to the broker configured now."""
    if getattr(app, "_pool", None) is not None:
        app._pool = None  # not closed: kombu keeps pools per broker URL, and the old one stays usable
    amqp = app.__dict__.get("amqp")
    if amqp is not None and getattr(amqp, "_producer_pool", None) is not None:
        amqp._producer_pool = None
    for name in ("backend",):
        app.__dict__.pop(name, None)
    app._local.__dict__.clear() if hasattr(app, "_local") else None


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Test databases reuse ids, so a cached evaluation from one test must not reach the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def recon_rules():
    """The shipped reconciliation layouts, custodian formats, tolerances and SLA rules, loaded as
    `make run` loads them (`recon_rules_load`): the services read layouts from the database.
    For tests marked `django_db` (plain or transactional), which open the database first."""
    from trading.reconciliation.services import rules_load

    rules_load()


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook turns the marker into the group
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (`-n`), the tests that start a real Celery worker share one Redis broker
    database, so they all run on one xdist worker (`--dist loadgroup`)."""
    for item in items:
        if "celery_worker_process" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("celery_worker"))
