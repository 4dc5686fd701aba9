import pytest
from django.db import connection

from tests.trading.conftest import active, brokers, desk, ref  # noqa: F401 - shared trading fixtures


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (row locks, pg_terminate_backend)")

