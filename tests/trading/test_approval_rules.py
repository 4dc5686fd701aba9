"""Approval rules as data per firm: roles, limits in base currency, four-eyes against the
proposer, the sanity limit; an unroutable order cannot be approved; FX orders are approved on
their own unless the firm's policy says otherwise, and are visible through /api/v1/fx-orders/."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from accounts.models import ApprovalPolicy
from tests.api.conftest import assert_error, token_client
from tests.factories import UserFactory
from trading import services
from trading.models import FxOrder, FxOrderStatus, Order, OrderStatus, RebalanceRun

from .test_orders import TRADE, fresh, make_orders

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(desk):
    firm = desk["firm"]
    return {"proposer": UserFactory(firm=firm, role="advisor"), "other": UserFactory(firm=firm, role="advisor"),
            "ops": UserFactory(firm=firm, role="operations"), "admin": UserFactory(firm=firm, role="firm_admin")}


@pytest.fixture
def proposed(desk, active, people):
    """Orders and one FX order of a run that `proposer` ran."""
    run = RebalanceRun.objects.create(key="r-1", firm=desk["firm"], trade_date=TRADE, created_by=people["proposer"],
                                      status="completed")
    orders = make_orders(desk)
    Order.objects.filter(pk__in=[o.pk for o in orders]).update(run=run)
    account = desk["accounts"][0][0]
    fx = FxOrder.objects.create(run=run, reference="FX-1", account=account, buy_currency="JPY",
                                buy_amount=Decimal(976500), sell_currency="GBP", sell_amount=Decimal("4761.24"),
                                rate=Decimal("0.0048758"), trade_date=TRADE, value_date=dt.date(2026, 11, 26))
    return {"run": run, "orders": orders, "fx": fx}


def test_an_order_without_a_custody_account_cannot_be_approved_and_the_error_says_why(proposed, people):
    orders = proposed["orders"]
    Order.objects.filter(pk=orders[0].pk).update(custody_account=None)
    client = token_client(people["other"])
    body = assert_error(client.post("/api/v1/orders/bulk-approve/", {"orders": [o.pk for o in orders]},
                                    format="json"), 409, "order_not_routable")
    assert "no custody account of account" in body["message"] and "covers XTKS" in body["message"]
    assert {fresh(o).status for o in orders} == {OrderStatus.PROPOSED}  # all or none


def test_an_order_without_a_broker_cannot_be_approved(proposed, people):
    order = proposed["orders"][1]
    Order.objects.filter(pk=order.pk).update(broker=None)
    body = assert_error(token_client(people["other"]).post(f"/api/v1/orders/{order.pk}/approve/"), 409,
                        "order_not_routable")
    assert "no broker reaches XNAS" in body["message"]


def test_the_proposer_may_not_approve_unless_the_firm_allows_it(proposed, people, desk):
    order = proposed["orders"][1]
    body = assert_error(token_client(people["proposer"]).post(f"/api/v1/orders/{order.pk}/approve/"), 403,
                        "four_eyes_required")
    assert "proposed by you" in body["message"]
    ApprovalPolicy.objects.create(firm=desk["firm"], proposer_may_approve=True)
    assert token_client(people["proposer"]).post(f"/api/v1/orders/{order.pk}/approve/").status_code == 200


def test_only_the_roles_the_firm_names_may_approve(proposed, people, desk):
    ApprovalPolicy.objects.create(firm=desk["firm"], order_roles=["firm_admin"])
    order = proposed["orders"][1]
    body = assert_error(token_client(people["ops"]).post(f"/api/v1/orders/{order.pk}/approve/"), 403,
                        "permission_denied")
    assert "operations may not approve orders" in body["message"]
    assert token_client(people["admin"]).post(f"/api/v1/orders/{order.pk}/approve/").status_code == 200


def test_the_approval_limit_is_in_the_accounts_base_currency(proposed, people, desk):
    # 10 AAPL at USD 271.49 = USD 2,714.90; at GBP/USD 1.3080 that is GBP 2,075.61 (2714.90 / 1.3080).
    order = proposed["orders"][1]
    assert (order.quantity, order.estimated_price) == (Decimal(10), Decimal("271.49"))
    policy = ApprovalPolicy.objects.create(firm=desk["firm"], order_limit=Decimal(2000))
    body = assert_error(token_client(people["other"]).post(f"/api/v1/orders/{order.pk}/approve/"), 403,
                        "permission_denied")
    assert "2,075.61 GBP is above your approval limit of 2,000.00" in body["message"]
    policy.order_limit = Decimal(2100)
    policy.save()
    assert token_client(people["other"]).post(f"/api/v1/orders/{order.pk}/approve/").status_code == 200


def test_fx_is_not_approved_with_the_orders_unless_the_firm_says_so(proposed, people, desk):
    services.orders_approve(order_ids=[o.pk for o in proposed["orders"]], actor=people["other"])
    assert fresh(proposed["fx"]).status == FxOrderStatus.PROPOSED
    fx2 = FxOrder.objects.create(run=proposed["run"], reference="FX-2", account=proposed["fx"].account,
                                 buy_currency="USD", buy_amount=Decimal(100), sell_currency="GBP",
                                 sell_amount=Decimal("76.45"), rate=Decimal("0.7645"), trade_date=TRADE,
                                 value_date=dt.date(2026, 11, 26))
    ApprovalPolicy.objects.create(firm=desk["firm"], auto_approve_fx=True)
    more = make_orders(desk)
    Order.objects.filter(pk__in=[o.pk for o in more]).update(run=proposed["run"])
    services.orders_approve(order_ids=[o.pk for o in more], actor=people["other"])
    assert fresh(fx2).status == FxOrderStatus.APPROVED


def test_fx_approval_follows_the_same_rules(proposed, people, desk):
    fx = proposed["fx"]
    client = token_client(people["proposer"])
    assert_error(client.post(f"/api/v1/fx-orders/{fx.pk}/approve/"), 403, "four_eyes_required")
    ApprovalPolicy.objects.create(firm=desk["firm"], fx_roles=["operations"])
    assert_error(token_client(people["other"]).post(f"/api/v1/fx-orders/{fx.pk}/approve/"), 403, "permission_denied")
    approved = token_client(people["ops"]).post(f"/api/v1/fx-orders/{fx.pk}/approve/")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"


def test_the_fx_api_lists_filters_and_shows_what_each_fx_order_funds(proposed, people):
    client = token_client(people["other"])
    rows = client.get("/api/v1/fx-orders/", {"currency": "jpy"}).json()["results"]
    (row,) = rows
    assert row["reference"] == "FX-1" and row["value_date"] == "2026-11-26"
    first = proposed["orders"][0]  # 300 Toyota at JPY 3,255 for the same account and run: JPY 976,500
    assert [o["reference"] for o in row["funds"]] == [first.reference]
    assert row["netting"] == {"currency": "JPY", "buys": "976500.000000", "sells": "0", "net": "976500.000000",
                              "fx_amount": "976500.000000", "value_date": "2026-11-26",
                              "latest_settlement": "2026-11-26"}
    assert client.get("/api/v1/fx-orders/", {"currency": "CHF"}).json()["results"] == []
    outsider = token_client(UserFactory(role="advisor"))
    assert outsider.get("/api/v1/fx-orders/").json()["results"] == []
    assert_error(outsider.get(f"/api/v1/fx-orders/{row['id']}/"), 404, "not_found")


def test_an_fx_order_is_approved_released_and_settled_through_the_api(proposed, people):
    fx = proposed["fx"]
    client = token_client(people["other"])
    assert_error(client.post(f"/api/v1/fx-orders/{fx.pk}/settle/"), 409)
    for step, status in (("approve", "approved"), ("release", "released"), ("settle", "settled")):
        response = client.post(f"/api/v1/fx-orders/{fx.pk}/{step}/")
        assert response.status_code == 200, response.content
        assert response.json()["status"] == status
