"""Orders: lifecycle, waves by market, blocks, fills, allocation, exports, settlement."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from accounts.models import Movement, Transaction
from onboarding.audit import events_for
from onboarding.exceptions import RelationshipNotActive
from onboarding.models import Relationship
from trading import services
from trading.exceptions import ExecutionImportRejected, OrderStateError
from trading.models import Allocation, Block, Broker, Fill, Order, OrderStatus
from trading.orders.allocation import allocate_pro_rata
from trading.orders.fix import SOH, parse_fix

from .factories import OrderFactory

UTC = dt.UTC
TRADE = dt.date(2026, 11, 24)  # Tuesday; Monday 23 Nov is a Japanese holiday
TOKYO_MORNING = dt.datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 10:00 Tokyo, 20:00 New York (closed)
NEW_YORK_MORNING = dt.datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 10:00 New York, 00:00 Tokyo (closed)


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def make_orders(desk, *, side="buy"):
    ref = desk["ref"]
    out = []
    kowloon, atlas = Broker.objects.get(code="KOWLOON"), Broker.objects.get(code="ATLAS")
    for (account, ca_n, ca_h), qty_jp, qty_us in zip(desk["accounts"], (300, 500), (10, 25)):
        out.append(OrderFactory(account=account, custody_account=ca_h, broker=kowloon, listing=ref.listings["7203.T"], side=side,
                                quantity=Decimal(qty_jp), currency="JPY", estimated_price=Decimal(3255),
                                trade_date=TRADE, settle_date=dt.date(2026, 11, 26)))
        out.append(OrderFactory(account=account, custody_account=ca_n, broker=atlas, listing=ref.listings["AAPL"], side=side,
                                quantity=Decimal(qty_us), currency="USD", estimated_price=Decimal("271.49"),
                                trade_date=TRADE, settle_date=dt.date(2026, 11, 25)))
    return out


@pytest.mark.django_db
def test_approving_moves_proposed_orders_to_approved_and_audits_each(desk, active):
    orders = make_orders(desk)
    services.orders_approve(order_ids=[o.pk for o in orders], actor=None)
    for o in map(fresh, orders):
        assert o.status == OrderStatus.APPROVED
        (event,) = events_for(o)
        assert (event.event_type, event.from_state, event.to_state) == ("order.approved", "proposed", "approved")


@pytest.mark.django_db
def test_an_order_cannot_be_released_without_approval(desk, active):
    order = make_orders(desk)[0]
    services.release_wave(now=TOKYO_MORNING)
    order = fresh(order)
    assert order.status == OrderStatus.PROPOSED
    services.order_reject(order=order, actor=None, reason="wrong model")
    with pytest.raises(OrderStateError):
        services.orders_approve(order_ids=[order.pk], actor=None)


@pytest.mark.django_db
def test_release_goes_in_waves_as_each_market_opens(desk, active):
    orders = make_orders(desk)
    services.orders_approve(order_ids=[o.pk for o in orders], actor=None)

    tokyo = services.release_wave(now=TOKYO_MORNING)
    assert [(b.listing.ticker, b.quantity, b.broker.code) for b in tokyo] == [("7203", Decimal(800), "KOWLOON")]
    statuses = {o.listing.ticker: Order.objects.get(pk=o.pk).status for o in orders}
    assert statuses == {"7203": OrderStatus.RELEASED, "AAPL": OrderStatus.APPROVED}

    new_york = services.release_wave(now=NEW_YORK_MORNING)
    assert [(b.listing.ticker, b.quantity, b.broker.code) for b in new_york] == [("AAPL", Decimal(35), "ATLAS")]
    assert all(Order.objects.get(pk=o.pk).status == OrderStatus.RELEASED for o in orders)
    assert len(active) == 4  # the relationship gate was asked for every released order


@pytest.mark.django_db
def test_release_is_refused_when_the_owners_relationship_is_not_active(desk, active):
    orders = make_orders(desk)
    services.orders_approve(order_ids=[o.pk for o in orders], actor=None)
    Relationship.objects.filter(party=desk["accounts"][0][0].owner).update(state="suspended")
    with pytest.raises(RelationshipNotActive, match="suspended"):
        services.release_wave(now=TOKYO_MORNING)
    assert not Block.objects.exists()
    assert all(Order.objects.get(pk=o.pk).status == OrderStatus.APPROVED for o in orders)


def test_pro_rata_allocation_gives_whole_lots_and_leftover_lots_by_largest_remainder():
    # 1,000 filled of 300 + 500 + 700 = 1,500 in lots of 100: shares 200, 333.3, 466.7
    got = allocate_pro_rata(wanted=[Decimal(300), Decimal(500), Decimal(700)], keys=["a", "b", "c"],
                            filled=Decimal(1000), lot=Decimal(100))
    assert got == [Decimal(200), Decimal(300), Decimal(500)]  # the spare lot goes to c (0.67 > 0.33)
    assert sum(got) == 1000


def test_pro_rata_allocation_ties_go_to_the_larger_order_then_by_key_and_never_exceed_the_order():
    got = allocate_pro_rata(wanted=[Decimal(400), Decimal(400), Decimal(800)], keys=["b", "a", "c"],
                            filled=Decimal(800), lot=Decimal(400))
    assert got == [Decimal(0), Decimal(400), Decimal(400)]
    odd = allocate_pro_rata(wanted=[Decimal(10), Decimal(5)], keys=["x", "y"], filled=Decimal("7.5"), lot=Decimal(1))
    assert sum(odd) == Decimal("7.5") and all(a <= w for a, w in zip(odd, [10, 5]))


@pytest.mark.django_db
def test_fix_new_order_single_has_the_right_tags_length_and_checksum(desk, active):
    orders = make_orders(desk)
    services.orders_approve(order_ids=[o.pk for o in orders], actor=None)
    (block,) = services.release_wave(now=TOKYO_MORNING)
    (msg,) = services.blocks_export_fix(blocks=[block])
    fields = dict(parse_fix(msg))
    assert fields["8"] == "FIX.4.4" and fields["35"] == "D"
    assert (fields["11"], fields["55"], fields["48"], fields["207"]) == (block.reference, "7203", "JP3633400001", "XTKS")
    assert (fields["54"], fields["38"], fields["40"], fields["15"], fields["56"]) == ("1", "800", "1", "JPY", "KWLNFIX")
    body = msg.split(f"9={fields['9']}{SOH}", 1)[1].rsplit("10=", 1)[0]
    assert int(fields["9"]) == len(body.encode())
    assert int(fields["10"]) == sum(msg.rsplit("10=", 1)[0].encode()) % 256


@pytest.mark.django_db
def test_csv_export_lists_each_released_block(desk, active):
    orders = make_orders(desk)
    services.orders_approve(order_ids=[o.pk for o in orders], actor=None)
    blocks = services.release_wave(now=TOKYO_MORNING)
    lines = services.blocks_export_csv(blocks=blocks).splitlines()
    assert lines[0].startswith("cl_ord_id,broker,side,isin,ticker,mic,currency,quantity")
    assert lines[1].split(",")[1:8] == ["KOWLOON", "buy", "JP3633400001", "7203", "XTKS", "JPY", "800"]


def _released_tokyo_block(desk):
    orders = make_orders(desk)
    services.orders_approve(order_ids=[o.pk for o in orders], actor=None)
    (block,) = services.release_wave(now=TOKYO_MORNING)
    return block, [o for o in orders if o.listing.ticker == "7203"]


@pytest.mark.django_db
def test_execution_reports_fill_the_block_and_allocation_splits_by_lot_at_the_average_price(desk, active):
    block, (jp1, jp2) = _released_tokyo_block(desk)
    csv_text = (
        "exec_id,cl_ord_id,last_qty,last_px,transact_time,venue\n"
        f"E1,{block.reference},400,3250,2026-11-24T01:05:00+00:00,XTKS\n"
        f"E2,{block.reference},200,3260,2026-11-24T01:07:00+00:00,XTKS\n"
    )
    assert services.execution_reports_import(content=csv_text, file="kowloon-20261124.csv") == 2
    block = fresh(block)
    assert (block.status, block.filled_quantity) == ("partially_filled", Decimal(600))
    assert block.average_price == Decimal("3253.33333333")

    services.block_allocate(block=block)
    # 600 of 800 in lots of 100: 300 -> 225 -> 2 lots (rest 0.25), 500 -> 375 -> 3 lots (rest 0.75);
    # the spare lot goes to the larger remainder: 200 and 400
    allocs = {a.order_id: a.quantity for a in Allocation.objects.all()}
    assert allocs == {jp1.pk: Decimal(200), jp2.pk: Decimal(400)}
    for o in map(fresh, (jp1, jp2)):
        assert o.status == OrderStatus.ALLOCATED
        assert o.average_price == Decimal("3253.33333333")
        assert [e.event_type for e in events_for(o).order_by("id")][-2:] == ["order.filled", "order.allocated"]


@pytest.mark.django_db
def test_a_bad_execution_file_is_rejected_whole_naming_line_and_field(desk, active):
    block, _ = _released_tokyo_block(desk)
    csv_text = (
        "exec_id,cl_ord_id,last_qty,last_px,transact_time\n"
        f"E1,{block.reference},400,3250,2026-11-24T01:05:00+00:00\n"
        f"E2,{block.reference},abc,3260,2026-11-24T01:07:00+00:00\n"
    )
    with pytest.raises(ExecutionImportRejected) as err:
        services.execution_reports_import(content=csv_text, file="bad.csv")
    assert err.value.detail == {"file": "bad.csv", "line": 3, "field": "last_qty"}
    assert not Fill.objects.exists()
    overfill = f"exec_id,cl_ord_id,last_qty,last_px,transact_time\nE9,{block.reference},900,1,2026-11-24T01:05:00+00:00\n"
    with pytest.raises(ExecutionImportRejected, match="line 2: field last_qty: overfills"):
        services.execution_reports_import(content=overfill, file="over.csv")
    assert not Fill.objects.exists()


@pytest.mark.django_db
def test_settlement_books_the_trade_into_the_ledger_and_marks_the_order_settled(desk, active):
    block, (jp1, jp2) = _released_tokyo_block(desk)
    services.execution_reports_import(
        content=f"exec_id,cl_ord_id,last_qty,last_px,transact_time\nE1,{block.reference},800,3250,2026-11-24T01:05:00+00:00\n",
        file="fills.csv")
    services.block_allocate(block=fresh(block))
    services.order_settle(order=fresh(jp1))
    jp1 = fresh(jp1)
    assert jp1.status == OrderStatus.SETTLED
    txn = Transaction.objects.get(account=jp1.account, external_ref=jp1.reference)
    assert (txn.kind, txn.trade_date, txn.settle_date) == ("buy", TRADE, dt.date(2026, 11, 26))
    legs = {m.leg: m for m in Movement.objects.filter(transaction=txn)}
    assert legs["security"].quantity == Decimal(300)
    assert legs["cash"].amount == Decimal(-975000) and legs["cash"].currency == "JPY"
    assert events_for(jp1).filter(event_type="order.settled").exists()
    with pytest.raises(OrderStateError):
        services.order_settle(order=jp1)


@pytest.mark.django_db
def test_an_fx_order_settles_into_the_ledger_on_its_value_date(desk, active):
    from trading.models import FxOrder

    account, ca_n, _ = desk["accounts"][0]
    fx = FxOrder.objects.create(reference="FX-1", account=account, buy_currency="USD", buy_amount=Decimal(18300),
                                sell_currency="GBP", sell_amount=Decimal(14640), rate=Decimal("0.8"),
                                trade_date=TRADE, value_date=dt.date(2026, 11, 25))
    with pytest.raises(OrderStateError):
        services.fx_order_settle(fx_order=fx)
    services.fx_orders_approve(fx_order_ids=[fx.pk], actor=None)
    services.fx_order_release(fx_order=fx)
    services.fx_order_settle(fx_order=fx)
    fx = fresh(fx)
    assert fx.status == "settled"
    txn = Transaction.objects.get(account=account, external_ref="FX-1")
    legs = sorted((m.currency, m.amount) for m in Movement.objects.filter(transaction=txn))
    assert legs == [("GBP", Decimal(-14640)), ("USD", Decimal(18300))]
    assert txn.settle_date == dt.date(2026, 11, 25)
    assert [e.event_type for e in events_for(fx).order_by("id")] == [
        "fx_order.approved", "fx_order.released", "fx_order.settled"]


@pytest.mark.django_db
def test_each_allocated_fill_is_announced_to_the_accounts_firm_by_webhook(desk, active):
    from onboarding.models import WebhookDelivery
    from onboarding.webhooks import webhook_register

    block, (jp1, jp2) = _released_tokyo_block(desk)
    for firm in {jp1.account.firm, jp2.account.firm}:
        webhook_register(firm=firm, url="http://127.0.0.1:9/hook", events=["order.filled"])
    csv_text = ("exec_id,cl_ord_id,last_qty,last_px,transact_time,venue\n"
                f"E1,{block.reference},800,3250,2026-11-24T01:05:00+00:00,XTKS\n")
    services.execution_reports_import(content=csv_text, file="kowloon-full.csv")
    services.block_allocate(block=fresh(block))
    deliveries = WebhookDelivery.objects.filter(event_type="order.filled").select_related("endpoint")
    payloads = sorted((d.endpoint.firm_id, d.payload["data"]["order"], Decimal(d.payload["data"]["filled_quantity"]),
                       d.payload["data"]["complete"]) for d in deliveries)
    assert payloads == sorted([(jp1.account.firm_id, jp1.pk, jp1.quantity, True),
                               (jp2.account.firm_id, jp2.pk, jp2.quantity, True)])
