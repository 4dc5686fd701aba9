"""Hot paths run a fixed number of queries, whatever the size of the data (no N+1)."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from onboarding import services
from onboarding.api.auth import api_token_create
from tests.factories import EntityFactory, FirmFactory, PersonFactory, UserFactory

pytestmark = pytest.mark.django_db


def count(client, path):
    client.get(path)  # warm: the token's last-used stamp is written at most once a minute
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200, response.content[:300]
    return len(ctx.captured_queries)


@pytest.fixture
def setup(db):
    services.rulepacks_load()
    firm = FirmFactory(home_jurisdiction="GB")
    advisor = UserFactory(firm=firm)
    _, token = api_token_create(user=advisor, name="q")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return firm, advisor, client


def make_case(firm, advisor, owners):
    company = EntityFactory(firm=firm)
    for _ in range(owners):
        services.ownership_link_add(owner=PersonFactory(firm=firm), owned=company, actor=advisor,
                                    percentage=round(90 / max(owners, 1), 2))
    return services.case_create(firm=firm, party=company, actor=advisor)


def test_requirements_cost_the_same_for_one_owner_or_twelve(setup):
    firm, advisor, client = setup
    small = make_case(firm, advisor, 1)
    large = make_case(firm, advisor, 12)
    assert count(client, f"/api/v1/cases/{large.pk}/requirements/") == count(
        client, f"/api/v1/cases/{small.pk}/requirements/")


def test_case_status_and_lists_cost_the_same_for_one_case_or_twenty(setup):
    firm, advisor, client = setup
    first = make_case(firm, advisor, 1)
    one = count(client, "/api/v1/cases/")
    for _ in range(19):
        make_case(firm, advisor, 0)
    assert count(client, "/api/v1/cases/") == one
    assert count(client, f"/api/v1/cases/{first.pk}/") <= 6


def test_party_list_does_not_grow_with_parties(setup):
    firm, advisor, client = setup
    PersonFactory(firm=firm)
    one = count(client, "/api/v1/parties/")
    for _ in range(15):
        party = PersonFactory(firm=firm)
        services.party_add_identifier(party=party, actor=advisor, kind="passport", country="GB", value="123456789")
    assert count(client, "/api/v1/parties/") == one
