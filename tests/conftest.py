"""Shared fixtures. Tests read the real files in ../shared/data in place."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

SHARED_DATA = Path(settings.SHARED_DIR) / "data"


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


requires_postgres = pytest.mark.skipif("not __import__('tests.conftest', fromlist=['x']).is_postgres()")
