import pytest

from trading.reference.demo import reference_demo


@pytest.fixture
def ref(db):
    """The demo reference data: markets, cycles, eligibility rules, instruments, listings, prices, FX."""
    return reference_demo()
