"""Fifty simultaneous fills (and allocations) of one block on PostgreSQL: one outcome, no over-fill.

The block (800 Toyota across two orders of 300 and 500) is locked by execution_reports_import and
block_allocate; these tests release 50 threads at once through a barrier and check that the
row locks serialise them."""
from __future__ import annotations

from decimal import Decimal

import pytest

from onboarding.models import AuditEvent
from tests.reliability.race import race
from tests.trading.test_orders import _released_tokyo_block, fresh
from trading import services
from trading.exceptions import ExecutionImportRejected, OrderStateError
from trading.models import Allocation, Block, Fill, Order, OrderStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]
N = 50


def _fill_csv(block, exec_id: str, qty: int, px: int = 3250) -> str:
    return ("exec_id,cl_ord_id,last_qty,last_px,transact_time,venue\n"
            f"{exec_id},{block.reference},{qty},{px},2026-11-24T01:05:00+00:00,XTKS\n")


def _import(block, exec_id, qty, px=3250):
    services.execution_reports_import(content=_fill_csv(block, exec_id, qty, px), file=f"{exec_id}.csv")


def test_fifty_simultaneous_full_fills_of_one_block_leave_exactly_one_fill(postgres_only, desk, active):
    block, _ = _released_tokyo_block(desk)
    outcomes = race(N, lambda i: _import(block, f"FULL-{i}", 800, 3200 + i), refused=(ExecutionImportRejected,))
    assert outcomes.count("ok") == 1, outcomes
    assert outcomes.count("refused") == N - 1, outcomes
    block = fresh(block)
    (fill,) = Fill.objects.filter(block=block)
    assert (block.status, block.filled_quantity, block.average_price) == ("filled", Decimal(800), fill.price)
    assert AuditEvent.objects.filter(subject_id=str(block.pk), event_type="block.filled").count() == 1


def test_fifty_simultaneous_partial_fills_stop_exactly_at_the_block_quantity(postgres_only, desk, active):
    block, _ = _released_tokyo_block(desk)
    outcomes = race(N, lambda i: _import(block, f"PART-{i}", 100, 3200 + i), refused=(ExecutionImportRejected,))
    assert outcomes.count("ok") == 8, outcomes  # 8 x 100 = 800; every later one would over-fill
    assert outcomes.count("refused") == N - 8, outcomes
    block = fresh(block)
    fills = list(Fill.objects.filter(block=block))
    assert len(fills) == 8
    assert block.filled_quantity == sum(f.quantity for f in fills) == Decimal(800)
    expected_avg = (sum(f.quantity * f.price for f in fills) / Decimal(800)).quantize(Decimal("0.00000001"))
    assert (block.status, block.average_price) == ("filled", expected_avg)
    assert AuditEvent.objects.filter(subject_id=str(block.pk), event_type="block.filled").count() == 8


def test_the_same_execution_report_delivered_fifty_times_at_once_is_applied_once(postgres_only, desk, active):
    block, _ = _released_tokyo_block(desk)
    outcomes = race(N, lambda i: _import(block, "SAME-1", 300), refused=(ExecutionImportRejected,))
    assert outcomes.count("ok") == 1, outcomes
    assert outcomes.count("refused") == N - 1, outcomes
    block = fresh(block)
    assert Fill.objects.filter(block=block).count() == 1
    assert (block.status, block.filled_quantity) == ("partially_filled", Decimal(300))


def test_fifty_simultaneous_allocations_of_one_filled_block_write_one_allocation_set(postgres_only, desk, active):
    block, (jp1, jp2) = _released_tokyo_block(desk)
    _import(block, "E1", 600)
    outcomes = race(N, lambda i: services.block_allocate(block=Block.objects.get(pk=block.pk)),
                    refused=(OrderStateError,))
    assert outcomes.count("ok") == 1, outcomes
    assert outcomes.count("refused") == N - 1, outcomes
    allocations = {a.order_id: a.quantity for a in Allocation.objects.filter(block=block)}
    assert allocations == {jp1.pk: Decimal(200), jp2.pk: Decimal(400)}
    assert fresh(block).status == "allocated"
    assert set(Order.objects.filter(pk__in=[jp1.pk, jp2.pk]).values_list("status", flat=True)) == {OrderStatus.ALLOCATED}
    assert AuditEvent.objects.filter(subject_id=str(block.pk), event_type="block.allocated").count() == 1
    for order in (jp1, jp2):
        assert AuditEvent.objects.filter(subject_id=str(order.pk), event_type="order.allocated").count() == 1
