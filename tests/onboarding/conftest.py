import pytest

from onboarding.services import rulepacks_load
from tests.factories import FirmFactory, OfficerFactory, UserFactory


@pytest.fixture
def packs(db):
    return rulepacks_load()


@pytest.fixture
def firm(db):
    return FirmFactory(home_jurisdiction="GB")


@pytest.fixture
def advisor(firm):
    return UserFactory(firm=firm, role="advisor")


@pytest.fixture
def officer(db):
    return OfficerFactory()


@pytest.fixture
def second_officer(db):
    return OfficerFactory()
