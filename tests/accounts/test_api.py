"""The accounts API: firm-scoped reads, gated writes, one error shape, decimals as strings."""
import datetime as dt

import pytest
from rest_framework.test import APIClient

from accounts.models import Account
from onboarding.models import Relationship
from tests.accounts.conftest import fund
from tests.factories import PersonFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.accounts.urls")]


@pytest.fixture
def api(advisor):
    client = APIClient()
    client.force_authenticate(advisor)
    return client


def test_an_advisor_opens_an_account_and_cannot_activate_it_before_the_relationship_is_active(api, firm, ref):
    party = PersonFactory(firm=firm)
    Relationship.objects.create(firm=firm, party=party, state="pending")
    response = api.post("/api/v1/accounts/", {
        "owner": party.pk, "number": "API-1", "name": "API", "base_currency": "EUR", "booking_centre": "onshore",
        "booking_jurisdiction": "DE"}, format="json")
    assert response.status_code == 201, response.json()
    account_id = response.json()["id"]
    assert response.json()["status"] == "pending"
    response = api.post(f"/api/v1/accounts/{account_id}/activate/")
    assert response.status_code == 409
    assert response.json()["code"] == "relationship_not_active"


def test_valuation_and_projected_cash_come_back_with_decimals_as_strings(api, booked, ref):
    account, custody = booked
    fund(account, custody["eu"], "GBP", "20000")
    from decimal import Decimal

    from accounts import services

    services.trade_book(account=account, custody_account=custody["eu"], listing=ref.listings["VOD.L"], side="buy",
                        quantity=Decimal(1000), price=Decimal(90), trade_date=dt.date(2026, 11, 19))
    body = api.get(f"/api/v1/accounts/{account.pk}/valuation/?on=2026-11-20").json()
    vod = next(line for line in body["lines"] if line["kind"] == "security")
    assert (vod["price"], vod["price_unit"], vod["local_value"]) == ("92.36000000", "GBp", "923.60")
    projection = api.get(f"/api/v1/accounts/{account.pk}/projected-cash/?as_of=2026-11-19").json()["projection"]
    assert projection[-1] == {"currency": "GBP", "value_date": "2026-11-23", "flow": "-900.00", "balance": "19100.00"}
    assert api.get(f"/api/v1/accounts/{account.pk}/positions/?as_of=2026-11-20&basis=settle").json()["positions"] == []
    assert api.get(f"/api/v1/accounts/{account.pk}/positions/?basis=sideways").json()["code"] == "validation_failed"


def test_another_firms_user_sees_no_account(booked):
    account, _ = booked
    client = APIClient()
    client.force_authenticate(UserFactory())
    assert client.get(f"/api/v1/accounts/{account.pk}/valuation/").status_code == 404
    assert client.get("/api/v1/accounts/").json()["count"] == 0


def test_a_deposit_through_the_api_is_booked_once_per_idempotency_key(api, booked):
    account, custody = booked
    payload = {"custody_account": custody["eu"].pk, "currency": "GBP", "amount": "250.00", "value_date": "2026-11-20"}
    first = api.post(f"/api/v1/accounts/{account.pk}/deposits/", payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    second = api.post(f"/api/v1/accounts/{account.pk}/deposits/", payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201 and second.json()["id"] == first.json()["id"]
    assert Account.objects.get(pk=account.pk).transactions.count() == 1
    ledger = api.get(f"/api/v1/accounts/{account.pk}/transactions/").json()
    assert ledger["results"][0]["movements"][0]["amount"] == "250.000000"
