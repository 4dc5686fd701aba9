"""Rate limits per token with the standard headers; off in the test settings unless a test turns them on."""
from __future__ import annotations

import pytest
from django.core.cache import caches

from tests.factories import FirmFactory, UserFactory

from .conftest import assert_error, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def limited(settings):
    settings.API_RATE_LIMIT = "3/min"
    caches["throttle"].clear()
    caches["throttle_local"].clear()
    yield
    caches["throttle"].clear()
    caches["throttle_local"].clear()


def test_each_token_has_its_own_budget_with_standard_headers(limited):
    firm = FirmFactory()
    first, second = token_client(UserFactory(firm=firm)), token_client(UserFactory(firm=firm))
    remaining = [first.get("/api/v1/cases/")["RateLimit-Remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    refused = first.get("/api/v1/cases/")
    body = assert_error(refused, 429, "throttled")
    assert refused["RateLimit-Limit"] == "3" and int(refused["Retry-After"]) > 0 and body["detail"] is None
    assert 0 < int(refused["RateLimit-Reset"]) <= 60
    assert second.get("/api/v1/cases/").status_code == 200  # another token is not affected


def test_limits_are_off_in_the_test_settings():
    client = token_client(UserFactory(firm=FirmFactory()))
    for _ in range(5):
        response = client.get("/api/v1/cases/")
        assert response.status_code == 200 and "RateLimit-Limit" not in response


def test_without_the_shared_cache_the_limit_is_counted_in_local_memory(limited, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(caches["throttle"], "get", down)
    monkeypatch.setattr(caches["throttle"], "set", down)
    client = token_client(UserFactory(firm=FirmFactory()))
    assert [client.get("/api/v1/cases/").status_code for _ in range(4)] == [200, 200, 200, 429]
