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
    triggers (audit trail, ledger) would refuse it. After the test, lift those triggers, flush,
    and put them back, so the fixture's own flush finds empty tables. (PostgreSQL flushes with
    TRUNCATE, which row triggers do not see.)"""
    from django.core.management.color import no_style
    from django.db import connection

    yield
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND sql LIKE '%DELETE%'")
        triggers = cursor.fetchall()
        for name, _sql in triggers:
            cursor.execute(f'DROP TRIGGER "{name}"')
    try:
        tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
        connection.ops.execute_sql_flush(connection.ops.sql_flush(no_style(), tables, allow_cascade=True))
    finally:
        with connection.cursor() as cursor:
            for _name, sql in triggers:
                cursor.execute(sql)
