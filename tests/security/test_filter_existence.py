"""Finding 9 (filters): ?party=<another firm's id> answers exactly like a missing id."""
from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from onboarding.api.auth import api_token_create
from onboarding.models import Party
from tests.factories import FirmFactory, OfficerFactory, PersonFactory, UserFactory

pytestmark = pytest.mark.django_db


def client(user):
    _, token = api_token_create(user=user, name="t")
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return c


@pytest.mark.parametrize("path", ["/api/v1/documents/", "/api/v1/tax-forms/"])
def test_another_firms_id_in_a_filter_looks_missing(path):
    mine, theirs = FirmFactory(), FirmFactory()
    own_party, their_party = PersonFactory(firm=mine), PersonFactory(firm=theirs)
    missing = Party.objects.order_by("-pk").first().pk + 1000
    c = client(UserFactory(firm=mine, role="advisor"))
    foreign = c.get(path, {"party": their_party.pk})
    absent = c.get(path, {"party": missing})
    assert absent.status_code == 400
    assert foreign.status_code == absent.status_code
    assert foreign.json()["code"] == absent.json()["code"]
    assert foreign.json()["detail"].keys() == absent.json()["detail"].keys() == {"party"}
    assert c.get(path, {"party": own_party.pk}).status_code == 200
    assert client(OfficerFactory()).get(path, {"party": their_party.pk}).status_code == 200
