"""Finding 4: nothing gets around four eyes on reconciliation breaks. An advisor may not work
breaks at all; an unexplained difference with an amount is not `resolve`d by one person but
written off through request + approval by a second person."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from onboarding.api.auth import api_token_create
from tests.factories import FirmFactory, UserFactory
from trading.reconciliation.models import Break

pytestmark = pytest.mark.django_db
DAY = dt.date(2024, 1, 31)


def client(user):
    _, token = api_token_create(user=user, name="t")
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return c


def a_break(firm, amount="8899.00", explained=False):
    return Break.objects.create(key=f"k{amount}{explained}", firm=firm, custodian_code="GLOBALCUST",
                                custody_account="SAFE-9", identifier="GB00BH4HKS39", kind="quantity",
                                amount_base=Decimal(amount), base_currency="GBP", explained=explained,
                                first_seen=DAY, last_seen=DAY)


def test_an_advisor_cannot_close_an_unexplained_break():
    firm = FirmFactory()
    brk = a_break(firm)
    advisor = client(UserFactory(firm=firm, role="advisor"))
    response = advisor.post(f"/api/v1/recon-breaks/{brk.pk}/resolve/", {"reason": "fine"}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    for action in ("investigate", "assign", "request-write-off", "approve-write-off"):
        assert advisor.post(f"/api/v1/recon-breaks/{brk.pk}/{action}/", {"reason": "x"},
                            format="json").status_code == 403, action
    assert Break.objects.get(pk=brk.pk).state == "open"


def test_operations_need_the_write_off_path_for_an_unexplained_amount():
    firm = FirmFactory()
    brk = a_break(firm)
    ops, second = UserFactory(firm=firm, role="operations"), UserFactory(firm=firm, role="operations")
    first = client(ops)
    refused = first.post(f"/api/v1/recon-breaks/{brk.pk}/resolve/", {"reason": "fine"}, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "four_eyes_required"
    assert "GBP 8,899.00" in refused.json()["message"]
    first.post(f"/api/v1/recon-breaks/{brk.pk}/investigate/", {"note": "checking"}, format="json")
    first.post(f"/api/v1/recon-breaks/{brk.pk}/request-write-off/", {"reason": "immaterial"}, format="json")
    assert first.post(f"/api/v1/recon-breaks/{brk.pk}/approve-write-off/").json()["code"] == "four_eyes_required"
    assert client(second).post(f"/api/v1/recon-breaks/{brk.pk}/approve-write-off/").json()["state"] == "written_off"


def test_a_break_without_an_amount_may_be_resolved_with_a_reason():
    firm = FirmFactory()
    brk = a_break(firm, amount="0.00")
    response = client(UserFactory(firm=firm, role="operations")).post(
        f"/api/v1/recon-breaks/{brk.pk}/resolve/", {"reason": "identifier mapped"}, format="json")
    assert response.status_code == 200 and response.json()["state"] == "resolved"
