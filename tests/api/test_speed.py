"""What issue 18's speed work changed stays right: the fast case body is the body DRF's generic path builds,
the one-statement token lookup gives the rows the ORM gives and caches nothing (a revoked token is refused
at once), and a requirements read follows every write at once."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework import serializers

from onboarding import services
from onboarding.api.auth import api_token_create, api_token_revoke, token_by_prefix
from onboarding.api.serializers import CaseSerializer
from onboarding.models import ApiToken, OnboardingCase
from tests.factories import EntityFactory, FirmFactory, UserFactory

from .conftest import assert_error, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def packs(db):
    services.rulepacks_load()


def test_the_fast_case_body_is_the_generic_one(packs):
    firm = FirmFactory()
    advisor = UserFactory(firm=firm)
    case = services.case_create(firm=firm, party=EntityFactory(firm=firm), actor=advisor)
    OnboardingCase.objects.filter(pk=case.pk).update(
        submitted_at=timezone.now() - dt.timedelta(days=1, microseconds=7), rule_pack_versions=["GLOBAL@1"])
    for row in (OnboardingCase.objects.get(pk=case.pk), services.case_create(
            firm=firm, party=EntityFactory(firm=firm), actor=advisor)):
        generic = serializers.ModelSerializer.to_representation(CaseSerializer(), row)
        assert CaseSerializer(row).data == generic
        assert list(CaseSerializer(row).data) == CaseSerializer.Meta.fields


def test_the_token_lookup_gives_the_orm_rows_and_caches_nothing(db):
    user = UserFactory(firm=FirmFactory())
    token, secret = api_token_create(user=user, name="t", scopes=["read"])
    orm = ApiToken.objects.select_related("user", "user__firm").get(pk=token.pk)
    fast = token_by_prefix(token.prefix)
    for a, b in ((fast, orm), (fast.user, orm.user), (fast.user.firm, orm.user.firm)):
        assert all(getattr(a, f.attname) == getattr(b, f.attname) for f in type(a)._meta.concrete_fields)
    assert fast.scopes == ["read"] and token_by_prefix("nope") is None
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    assert client.get("/api/v1/cases/").status_code == 200
    api_token_revoke(token=token, actor=user)
    assert_error(client.get("/api/v1/cases/"), 401)  # the very next request
    fresh, secret2 = api_token_create(user=user, name="t2")
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret2}")
    assert client.get("/api/v1/cases/").status_code == 200
    user.is_active = False
    user.save()
    assert_error(client.get("/api/v1/cases/"), 401)


def test_requirements_follow_every_write_at_once(packs):
    firm = FirmFactory()
    advisor = UserFactory(firm=firm)
    api = token_client(advisor)
    case = services.case_create(firm=firm, party=EntityFactory(firm=firm), actor=advisor)
    url = f"/api/v1/cases/{case.pk}/requirements/"
    codes = {item["code"] for item in api.get(url).json()}
    assert codes == {item["code"] for item in api.get(url).json()}  # the second read is the cached one
    assert "field.registration_number" in codes, codes
    response = api.post(f"/api/v1/parties/{case.party_id}/identifiers/",
                        {"kind": "registration", "value": "AB123456", "country": "GB"}, format="json")
    assert response.status_code == 201, response.content
    after = {item["code"] for item in api.get(url).json()}
    assert "field.registration_number" not in after and after < codes
