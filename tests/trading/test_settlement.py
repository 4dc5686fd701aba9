"""Settlement as a scheduled pass on each settlement date, on the market's and the currency's
calendars; a failed settlement stays visible and can be retried."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.conf import settings

from accounts.models import Transaction
from onboarding.audit import events_for
from tests.api.conftest import assert_error, token_client
from tests.factories import UserFactory
from trading import services
from trading.models import FxOrder, Order, OrderStatus
from trading.tasks import settle_due

from .test_orders import NEW_YORK_MORNING, TOKYO_MORNING, fresh, make_orders

pytestmark = pytest.mark.django_db
FILLS = "exec_id,cl_ord_id,last_qty,last_px,transact_time\n"


def traded(desk, *, side="buy"):
    """Orders approved, released in their waves, filled and allocated on Tuesday 24 November."""
    orders = make_orders(desk, side=side)
    services.orders_approve(order_ids=[o.pk for o in orders], actor=None)
    (tokyo,) = services.orders_release(now=TOKYO_MORNING).blocks
    (new_york,) = services.orders_release(now=NEW_YORK_MORNING).blocks
    services.execution_reports_import(content=FILLS + f"E1,{tokyo.reference},800,3250,2026-11-24T01:05:00+00:00\n"
                                      f"E2,{new_york.reference},35,271.40,2026-11-24T15:05:00+00:00\n", file="f.csv")
    services.block_allocate(block=fresh(tokyo))
    services.block_allocate(block=fresh(new_york))
    return [fresh(o) for o in orders]


def test_each_order_settles_on_its_own_settlement_date(desk, active):
    orders = traded(desk)
    us = [o for o in orders if o.currency == "USD"]
    jp = [o for o in orders if o.currency == "JPY"]
    # AAPL settles T+1 (Wednesday 25), Toyota T+2 in Tokyo (Thursday 26; 23 was the holiday, before trade).
    assert {o.settle_date for o in us} == {dt.date(2026, 11, 25)} and {o.settle_date for o in jp} == {dt.date(2026, 11, 26)}
    report = services.settlements_run(as_of=dt.date(2026, 11, 25))
    assert sorted(report.settled) == sorted(o.reference for o in us)
    assert {fresh(o).status for o in jp} == {OrderStatus.ALLOCATED}
    assert services.settlements_run(as_of=dt.date(2026, 11, 25)).settled == []  # twice is once
    report = settle_due(as_of="2026-11-26")
    assert sorted(report["settled"]) == sorted(o.reference for o in jp)
    assert Transaction.objects.filter(external_ref__in=[o.reference for o in orders]).count() == 4
    assert settings.CELERY_BEAT_SCHEDULE["trading-settle-due"]["task"] == settle_due.name


def test_a_settlement_due_over_a_market_holiday_waits_for_the_next_settlement_day(desk, active):
    orders = traded(desk)
    jp = [o for o in orders if o.currency == "JPY"]
    # Suppose the Toyota trades were due on Monday 23 November 2026, Labour Thanksgiving Day in Japan.
    Order.objects.filter(pk__in=[o.pk for o in jp]).update(trade_date=dt.date(2026, 11, 20),
                                                           settle_date=dt.date(2026, 11, 23))
    report = services.settlements_run(as_of=dt.date(2026, 11, 23))
    assert {w["reference"] for w in report.waiting} == {o.reference for o in jp}
    assert "2026-11-23 is not a settlement day for XTKS (JPY)" in report.waiting[0]["reason"]
    assert {fresh(o).status for o in jp} == {OrderStatus.ALLOCATED}
    assert set(services.settlements_run(as_of=dt.date(2026, 11, 24)).settled) >= {o.reference for o in jp}


def test_a_failed_settlement_stays_visible_and_is_retried(desk, active, monkeypatch):
    orders = traded(desk)
    victim = next(o for o in orders if o.currency == "USD")

    from accounts.exceptions import LedgerError
    from trading import ledger

    real = ledger.post_trade

    def refuse_once(*, order, actor=None):
        if order.pk == victim.pk:
            raise LedgerError("custodian rejected the instruction: SSI mismatch")
        return real(order=order, actor=actor)

    monkeypatch.setattr(ledger, "post_trade", refuse_once)
    report = services.settlements_run(as_of=dt.date(2026, 11, 25))
    assert report.failed == [{"reference": victim.reference, "reason": "custodian rejected the instruction: SSI mismatch"}]
    victim = fresh(victim)
    assert victim.status == OrderStatus.FAILED_TO_SETTLE
    assert victim.settlement_error == "custodian rejected the instruction: SSI mismatch"
    client = token_client(UserFactory(firm=desk["firm"], role="operations"))
    listed = client.get("/api/v1/orders/", {"status": "failed_to_settle"}).json()["results"]
    assert [(r["reference"], r["settlement_error"]) for r in listed] == [(victim.reference, victim.settlement_error)]

    monkeypatch.setattr(ledger, "post_trade", real)
    retried = client.post(f"/api/v1/orders/{victim.pk}/retry-settlement/")
    assert retried.status_code == 200 and retried.json()["status"] == "settled"
    assert retried.json()["settlement_error"] == ""
    assert [e.event_type for e in events_for(victim).order_by("id")][-3:] == [
        "order.failed_to_settle", "order.settlement_retried", "order.settled"]
    assert_error(client.post(f"/api/v1/orders/{victim.pk}/retry-settlement/"), 409)


def test_the_api_settles_what_is_due_and_fx_on_its_value_date(desk, active):
    traded(desk)
    account = desk["accounts"][0][0]
    fx = FxOrder.objects.create(reference="FX-S", account=account, buy_currency="JPY", buy_amount=Decimal(975000),
                                sell_currency="GBP", sell_amount=Decimal("4752.80"), rate=Decimal("0.0048746"),
                                trade_date=dt.date(2026, 11, 24), value_date=dt.date(2026, 11, 26))
    services.fx_orders_approve(fx_order_ids=[fx.pk], actor=None)
    services.fx_order_release(fx_order=fx)
    client = token_client(UserFactory(firm=desk["firm"], role="operations"))
    first = client.post("/api/v1/orders/settle/", {"as_of": "2026-11-25"}, format="json").json()
    assert len(first["settled"]) == 2 and first["fx_settled"] == []
    second = client.post("/api/v1/orders/settle/", {"as_of": "2026-11-26"}, format="json").json()
    assert len(second["settled"]) == 2 and second["fx_settled"] == ["FX-S"]
    assert_error(client.post("/api/v1/orders/settle/", {"as_of": "2999-01-01"}, format="json"), 400,
                 "validation_failed")
