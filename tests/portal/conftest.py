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
