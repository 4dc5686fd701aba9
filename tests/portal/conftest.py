import pytest

from onboarding.services import rulepacks_load
from tests.factories import FirmFactory, UserFactory


@pytest.fixture
def packs(db):
    return rulepacks_load()


@pytest.fixture
def firm(db):
    return FirmFactory(home_jurisdiction="GB", name="Thames Wealth")


@pytest.fixture
def advisor(firm):
    return UserFactory(firm=firm, role="advisor", username="alice")


@pytest.fixture
def other_advisor(db):
    return UserFactory(firm=FirmFactory(name="Other Firm"), role="advisor", username="mallory")


@pytest.fixture
def signed_in(client, advisor, packs):
    client.force_login(advisor)
    return client


@pytest.fixture
def audit_cleared_for_flush(transactional_db):
    """A transactional test ends with a flush, which SQLite does with DELETE: the append-only
    trigger on the audit table would refuse it. After the test, empty the audit table with the
    trigger lifted for that one statement and put it back, so the flush deletes no audit rows.
    (PostgreSQL flushes with TRUNCATE, which row triggers do not see.)"""
    import importlib

    from django.db import connection

    yield
    if connection.vendor != "sqlite":
        return
    migration = importlib.import_module("onboarding.migrations.0002_audit_append_only")
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS onboarding_auditevent_no_delete")
        cursor.execute("DELETE FROM onboarding_auditevent")
        for statement in migration.SQLITE_SQL:
            cursor.execute(statement)
