import pytest

from onboarding.services import rulepacks_load
from tests.conftest import registries_isolated
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


def pytest_configure(config):
    config.addinivalue_line("markers", "with_registered_apps: run with every app's providers, checks and hooks")


@pytest.fixture(autouse=True)
def onboarding_alone(request):
    """Onboarding's own tests run without the providers, checks and hooks other apps register
    (screening, tax, ...), whose behaviour their own tests and the integration tests cover."""
    if request.node.get_closest_marker("with_registered_apps"):
        yield
        return
    with registries_isolated():
        yield
