"""Release in waves through every door (service, API, command, Celery task and beat entry), a
closed market skipped with its reason, and a block cancelled before any fill."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command

from onboarding.audit import events_for
from tests.api.conftest import assert_error, token_client
from tests.factories import UserFactory
from trading import services
from trading.models import Block, BlockStatus, Order, OrderStatus
from trading.tasks import release_open_markets

from .test_orders import NEW_YORK_MORNING, TOKYO_MORNING, fresh, make_orders

pytestmark = pytest.mark.django_db
# Monday 23 November 2026 is Labour Thanksgiving Day in Japan: the Tokyo exchange is shut.
TOKYO_HOLIDAY_MORNING = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)  # 10:00 in Tokyo


def approved(desk):
    orders = make_orders(desk)
    services.orders_approve(order_ids=[o.pk for o in orders], actor=None)
    return orders


def test_a_closed_market_is_skipped_with_its_reason_in_its_own_time_zone(desk, active):
    approved(desk)
    report = services.orders_release(now=TOKYO_MORNING)  # 10:00 Tokyo, 20:00 New York
    assert report.released == 2 and [b.listing.ticker for b in report.blocks] == ["7203"]
    (new_york,) = [s for s in report.skipped_markets if s["market"] == "XNAS" or s["market"] == "XNYS"]
    assert new_york["orders"] == 2
    assert "closed at 16:00 local time, it is 20:00" in new_york["reason"]


def test_a_market_holiday_is_named_as_not_a_trading_day(desk, active):
    approved(desk)
    report = services.orders_release(now=TOKYO_HOLIDAY_MORNING, market="XTKS")
    assert report.blocks == []
    assert report.skipped_markets == [{"market": "XTKS", "orders": 2, "reason":
                                       "XTKS (Asia/Tokyo): Monday 23 November 2026 is not a trading day on its calendar"}]


def test_release_is_scoped_by_market_account_and_run(desk, active):
    orders = approved(desk)
    first_account = desk["accounts"][0][0]
    report = services.orders_release(now=TOKYO_MORNING, account_id=first_account.pk)
    assert report.released == 1
    assert {o.account_id for o in Order.objects.filter(status=OrderStatus.RELEASED)} == {first_account.pk}
    assert services.orders_release(now=NEW_YORK_MORNING, market="XTKS").released == 0  # Tokyo shut by then
    assert services.orders_release(now=NEW_YORK_MORNING, run_id=999999).released == 0
    assert services.orders_release(now=NEW_YORK_MORNING).released == 2
    assert sum(fresh(o).status == OrderStatus.RELEASED for o in orders) == 3


def test_blocks_group_by_broker_listing_and_side(desk, active):
    ref = desk["ref"]
    orders = approved(desk)
    account, ca_n, _ = desk["accounts"][0]
    sell = Order.objects.create(reference="S-1", account=account, custody_account=ca_n, broker=orders[1].broker,
                                listing=ref.listings["AAPL"],
                                side="sell", quantity=Decimal(3), currency="USD", estimated_price=Decimal(271),
                                estimated_value=Decimal(813), trade_date=orders[1].trade_date,
                                settle_date=orders[1].settle_date)
    services.orders_approve(order_ids=[sell.pk], actor=None)
    blocks = services.orders_release(now=NEW_YORK_MORNING).blocks
    assert sorted((b.listing.ticker, b.side, b.quantity) for b in blocks) == [("AAPL", "buy", Decimal(35)),
                                                                               ("AAPL", "sell", Decimal(3))]


def test_a_block_is_cancellable_until_a_fill_arrives(desk, active):
    approved(desk)
    (block,) = services.orders_release(now=TOKYO_MORNING).blocks
    services.block_cancel(block=block, actor=None, reason="broker down")
    assert fresh(block).status == BlockStatus.CANCELLED
    assert {o.status for o in block.orders.all()} == {OrderStatus.CANCELLED}
    assert [e.event_type for e in events_for(block)] == ["block.released", "block.cancelled"]

    (other,) = services.orders_release(now=NEW_YORK_MORNING).blocks
    services.execution_reports_import(content="exec_id,cl_ord_id,last_qty,last_px,transact_time,venue\n"
                                      f"E1,{other.reference},5,271.40,2026-11-24T15:01:00Z,XNAS\n", file="x.csv")
    from trading.exceptions import OrderStateError

    with pytest.raises(OrderStateError, match="only a block with no fill can be cancelled"):
        services.block_cancel(block=other, actor=None, reason="too late")


def test_the_api_releases_a_wave_and_cancels_a_block(desk, active):
    approved(desk)
    client = token_client(UserFactory(firm=desk["firm"], role="advisor"))
    body = client.post("/api/v1/orders/release/", {"now": TOKYO_MORNING.isoformat()}, format="json")
    assert body.status_code == 200, body.content
    data = body.json()
    assert data["released"] == 2 and [b["ticker"] for b in data["blocks"]] == ["7203"]
    assert data["skipped_markets"][0]["reason"].endswith("it is 20:00")
    block_id = data["blocks"][0]["id"]
    cancelled = client.post(f"/api/v1/blocks/{block_id}/cancel/", {"reason": "wrong broker"}, format="json")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert_error(client.post(f"/api/v1/blocks/{block_id}/cancel/", {}, format="json"), 409)
    assert_error(client.post("/api/v1/orders/release/", {"market": "tokyo"}, format="json"), 400, "validation_failed")
    assert_error(client.post("/api/v1/orders/release/", {"now": "2999-01-01T00:00:00Z"}, format="json"), 400,
                 "validation_failed")


def test_another_firm_releases_nothing_of_this_firm(desk, active):
    approved(desk)
    client = token_client(UserFactory(role="advisor"))
    data = client.post("/api/v1/orders/release/", {"now": TOKYO_MORNING.isoformat()}, format="json").json()
    assert data["released"] == 0
    assert not Block.objects.exists()


def test_the_command_and_the_beat_task_release_with_the_clock_they_are_given(desk, active):
    approved(desk)
    out = StringIO()
    call_command("release_orders", "--now", TOKYO_MORNING.isoformat(), "--json", stdout=out)
    assert json.loads(out.getvalue())["released"] == 2
    result = release_open_markets(now=NEW_YORK_MORNING.isoformat())
    assert result["released"] == 2 and [b["ticker"] for b in result["blocks"]] == ["AAPL"]
    beat = settings.CELERY_BEAT_SCHEDULE["trading-release-waves"]
    assert beat["task"] == release_open_markets.name
