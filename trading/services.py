"""Trading's business actions: order lifecycle, release in waves, blocks, fills, allocation,
settlement. Each is keyword-only, atomic, locks rows with select_for_update in a fixed order
(orders by id, then blocks by id) and writes an audit event for every state change."""
from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone

from onboarding import webhooks
from onboarding.audit import record_event
from onboarding.exceptions import MeridianError, ValidationFailed
from onboarding.models import Firm, User
from onboarding.services import assert_relationship_active
from trading.reference.calendars import is_exchange_session
from trading.reference.models import Market

from .exceptions import ExecutionImportRejected, OrderNotRoutable, OrderStateError, RoutingFailed
from .models import (
    Allocation,
    Block,
    BlockStatus,
    Broker,
    CashTransfer,
    Fill,
    FxOrder,
    FxOrderStatus,
    Order,
    OrderStatus,
    RebalanceRun,
    Side,
    TransferStatus,
)
from .orders import allocation as alloc_engine
from .orders.execution_reports import ExecutionFileError, parse_execution_reports
from .orders.fix import Ticket, new_order_single, tickets_csv
from .orders.routing import BROKER_FILE, load_broker_master
from .rebalancing.scope import RebalanceResult, RebalanceScope, Timings
from .webhook_events import FX_EVENTS, ORDER_EVENTS, TRANSFER_EVENTS

PRICE_Q = Decimal("0.00000001")


def _transition(obj: Any, method: str, *, actor: User | None, event: str, reason: str = "",
                detail: dict[str, Any] | None = None) -> None:
    before = obj.status
    try:
        getattr(obj, method)()
    except Exception as exc:  # django_fsm.TransitionNotAllowed
        if exc.__class__.__name__ == "TransitionNotAllowed":
            raise OrderStateError(f"{obj} cannot {method} from {before}",
                                  detail={"id": obj.pk, "status": before, "action": method}) from None
        raise
    obj.save()
    record_event(subject=obj, event_type=event, actor=actor, firm=_firm_of(obj), from_state=before,
                 to_state=obj.status, reason=reason, detail=detail)
    if isinstance(obj, Order) and event in ORDER_EVENTS:
        webhooks.emit(firm=obj.account.firm_id, event_type=event, data=_order_event_data(obj, event, reason, detail))
    elif isinstance(obj, FxOrder) and event in FX_EVENTS:
        webhooks.emit(firm=obj.account.firm_id, event_type=event, data=_fx_event_data(obj))
    elif isinstance(obj, CashTransfer) and event in TRANSFER_EVENTS:
        webhooks.emit(firm=obj.account.firm_id, event_type=event, data=_transfer_event_data(obj))


def _order_event_data(order: Order, event: str, reason: str, detail: dict[str, Any] | None) -> dict[str, Any]:
    """The webhook payload of an order event (trading.webhook_events.ORDER_EVENTS): the common fields and
    the event's own."""
    data: dict[str, Any] = {
        "order": order.pk, "reference": order.reference, "account": order.account_id, "side": order.side,
        "quantity": order.quantity, "currency": order.currency, "trade_date": order.trade_date,
        "status": order.status, "block": order.block.reference if order.block_id else None}
    if event in ("order.rejected", "order.cancelled", "order.failed_to_settle"):
        data["reason"] = reason
    elif event == "order.released":
        data["broker"] = order.broker.code if order.broker_id else ""
    elif event == "order.filled":
        data.update(filled_quantity=order.filled_quantity, average_price=order.average_price,
                    complete=order.filled_quantity == order.quantity)
    elif event == "order.settled":
        data["settled_on"] = (detail or {}).get("settled_on") or order.settle_date
    return data


def _fx_event_data(fx: FxOrder) -> dict[str, Any]:
    return {"fx_order": fx.pk, "reference": fx.reference, "account": fx.account_id, "kind": fx.kind,
            "buy_currency": fx.buy_currency, "buy_amount": fx.buy_amount, "sell_currency": fx.sell_currency,
            "sell_amount": fx.sell_amount, "value_date": fx.value_date, "status": fx.status}


def _transfer_event_data(t: CashTransfer) -> dict[str, Any]:
    return {"cash_transfer": t.pk, "reference": t.reference, "account": t.account_id, "currency": t.currency,
            "amount": t.amount, "from_custody_account": t.from_custody_account_id,
            "to_custody_account": t.to_custody_account_id, "value_date": t.value_date, "status": t.status}


def _emit_block(block: Block, event: str, orders: Iterable[Order], **extra: Any) -> None:
    """A block's event to each firm with orders in it, naming that firm's orders only."""
    by_firm: dict[int, list[str]] = defaultdict(list)
    for order in orders:
        by_firm[order.account.firm_id].append(order.reference)
    for firm_id, references in sorted(by_firm.items()):
        webhooks.emit(firm=firm_id, event_type=event, data={
            "block": block.reference, "status": block.status, "side": block.side, "quantity": block.quantity,
            "currency": block.currency, "trade_date": block.trade_date, "orders": sorted(references), **extra})


def _firm_of(obj: Any) -> Firm | None:
    account = getattr(obj, "account", None)
    return getattr(account, "firm", None) if account is not None else None


def _locked_orders(ids: Iterable[int]) -> list[Order]:
    return list(Order.objects.select_for_update(of=("self",)).filter(pk__in=list(ids)).order_by("pk")
                .select_related("account", "account__firm", "listing", "listing__market", "listing__instrument",
                                "run"))


# --- broker master ---------------------------------------------------------------------------------


@transaction.atomic
def brokers_load(*, path: Path | str = BROKER_FILE) -> int:
    """Load brokers.yaml into Broker rows (insert or update by code)."""
    specs = load_broker_master(Path(path))
    for spec in specs:
        Broker.objects.update_or_create(code=spec.code, defaults={
            "name": spec.name, "lei": spec.lei, "fix_target_comp_id": spec.fix_target_comp_id,
            "markets": sorted(spec.markets), "custodians": sorted(spec.custodians), "priority": spec.priority,
            "source": spec.source, "effective_from": spec.effective_from, "is_active": True,
        })
    return len(specs)


# --- approval --------------------------------------------------------------------------------------


def _approval_items(orders: list[Order]) -> dict[int, list[Any]]:
    """Per firm, each order as an approval item: its estimated value in the account's base
    currency (GBp and other minor units already divided out in estimated_value) and who ran the
    rebalance that proposed it."""
    from accounts.approvals import Item, to_base

    out: dict[int, list[Any]] = defaultdict(list[Any])
    for o in orders:
        base = o.account.base_currency
        out[o.account.firm_id].append(Item(
            label=f"order {o.reference} ({o.side} {o.quantity:f} {o.listing.ticker})",
            amount_base=to_base(amount=o.estimated_value, currency=o.currency, base_currency=base, on=o.trade_date),
            base_currency=base, proposer_id=o.run.created_by_id if o.run_id and o.run else None))
    return out


def _fx_items(rows: list[FxOrder]) -> dict[int, list[Any]]:
    from accounts.approvals import Item, to_base

    out: dict[int, list[Any]] = defaultdict(list[Any])
    for f in rows:
        base = f.account.base_currency
        out[f.account.firm_id].append(Item(
            label=f"FX order {f.reference} (buy {f.buy_amount:f} {f.buy_currency} against {f.sell_currency})",
            amount_base=to_base(amount=f.buy_amount, currency=f.buy_currency, base_currency=base, on=f.trade_date),
            base_currency=base, proposer_id=f.run.created_by_id if f.run_id and f.run else None))
    return out


def assert_routable(orders: Iterable[Order]) -> None:
    """An order goes to a custody account that settles its market and a broker that reaches it;
    without either it cannot be approved, and the error names what is missing."""
    problems = {}
    for o in orders:
        missing = []
        if o.custody_account_id is None:
            missing.append(f"no custody account of account {o.account.number} covers {o.listing.market.mic}")
        if o.broker_id is None:
            missing.append(f"no broker reaches {o.listing.market.mic} and settles with its custodian")
        if missing:
            problems[o.reference] = missing
    if problems:
        first = next(iter(problems))
        raise OrderNotRoutable(f"order {first} cannot be approved: {'; '.join(problems[first])}",
                               detail={"orders": problems})


@transaction.atomic
def orders_approve(*, order_ids: Iterable[int], actor: User) -> int:
    """Approve proposed orders, all or none, under the firm's approval policy (role, limit in
    base currency, four-eyes against whoever ran the rebalance, sanity limit). FX orders that
    fund them are approved with them only when the firm's policy says so."""
    from accounts.approvals import assert_may_approve, policy_for

    orders = _locked_orders(order_ids)
    assert_routable(orders)
    policies = {}
    for firm_id, items in _approval_items(orders).items():
        policies[firm_id] = policy_for(firm_id)
        assert_may_approve(policy=policies[firm_id], kind="order", actor=actor, items=items)
    for order in orders:
        _transition(order, "approve", actor=actor, event="order.approved")
    auto = [o for o in orders if policies[o.account.firm_id].auto_approve_fx]
    if auto:
        fx = list(FxOrder.objects.select_for_update(of=("self",)).filter(
            run__in={o.run_id for o in auto if o.run_id}, account__in={o.account_id for o in auto},
            status=FxOrderStatus.PROPOSED).select_related("account", "account__firm", "run").order_by("pk"))
        _approve_fx(fx, actor=actor, reason="approved with the orders it funds (firm policy)")
    return len(orders)


@transaction.atomic
def order_reject(*, order: Order, actor: User | None, reason: str) -> Order:
    (order,) = _locked_orders([order.pk])
    _transition(order, "reject", actor=actor, event="order.rejected", reason=reason)
    return order


@transaction.atomic
def order_cancel(*, order: Order, actor: User | None, reason: str) -> Order:
    (order,) = _locked_orders([order.pk])
    _transition(order, "cancel", actor=actor, event="order.cancelled", reason=reason)
    return order


# --- release in waves --------------------------------------------------------------------------------


def market_is_open(market: Market, now: dt.datetime) -> bool:
    """The market's local time is within its continuous session on one of its sessions."""
    return market_closed_reason(market, now) is None


def market_closed_reason(market: Market, now: dt.datetime) -> str | None:
    """Why the market is not open at `now` (None when it is), in the market's own time zone and
    on its exchange calendar."""
    local = now.astimezone(ZoneInfo(market.time_zone))
    where = f"{market.mic} ({market.time_zone})"
    if not is_exchange_session(local.date(), market.calendar_code):
        return f"{where}: {local.date():%A %d %B %Y} is not a trading day on its calendar"
    if local.time() < market.open_time:
        return f"{where}: opens at {market.open_time:%H:%M} local time, it is {local:%H:%M}"
    if local.time() >= market.close_time:
        return f"{where}: closed at {market.close_time:%H:%M} local time, it is {local:%H:%M}"
    return None


def _route_broker(order: Order, brokers: list[Broker]) -> Broker:
    mic = order.listing.market.mic
    custodian = order.custody_account.custodian.name if order.custody_account is not None else ""
    for broker in brokers:
        if mic in broker.markets and (custodian in broker.custodians or not custodian):
            return broker
    raise RoutingFailed(f"no broker reaches {mic} and settles with {custodian or '?'}",
                        detail={"order": order.reference, "market": mic, "custodian": custodian})


@dataclass
class ReleaseReport:
    """What one release did: the blocks sent, each market with approved orders that was skipped
    (and why), and orders held back (and why)."""

    now: dt.datetime
    blocks: list[Block] = field(default_factory=list)
    released: int = 0
    skipped_markets: list[dict[str, Any]] = field(default_factory=list)  # {"market", "orders", "reason"}
    held: list[dict[str, Any]] = field(default_factory=list)  # {"order", "reference", "reason"}

    def as_dict(self) -> dict[str, Any]:
        """The JSON the API, the command and the task return."""
        return {
            "now": self.now.isoformat(), "released": self.released,
            "blocks": [{"id": b.pk, "reference": b.reference, "broker": b.broker.code, "listing": b.listing_id,
                        "ticker": b.listing.ticker, "market": b.listing.market.mic, "side": b.side,
                        "trade_date": b.trade_date.isoformat(), "quantity": str(b.quantity)} for b in self.blocks],
            "skipped_markets": self.skipped_markets, "held": self.held,
        }


def release_wave(*, now: dt.datetime | None = None, actor: User | None = None,
                 firm: Firm | None = None) -> list[Block]:
    """Release every approved order whose market is open now (see `orders_release`)."""
    return orders_release(now=now, actor=actor, firm=firm).blocks


@transaction.atomic
def orders_release(*, now: dt.datetime | None = None, actor: User | None = None, firm: Firm | None = None,
                   market: str | None = None,
                   account_id: int | None = None, run_id: int | None = None,
                   order_ids: Iterable[int] | None = None) -> ReleaseReport:
    """Release the approved orders in scope whose market is open at `now` (the caller's clock:
    a task or test passes it), in blocks of one broker, listing, side and trade date across
    accounts. A market that is closed is skipped and the report says why; its orders wait for
    its own wave. Every order passes the owner's activation gate; a refused owner refuses the
    whole release (nothing is written)."""
    now = now or timezone.now()
    if timezone.is_naive(now):
        raise ValidationFailed("now: give a time zone", detail={"now": ["a time with a time zone is required"]})
    qs = Order.objects.filter(status=OrderStatus.APPROVED)
    if firm is not None:
        qs = qs.filter(account__firm=firm)
    if market:
        qs = qs.filter(listing__market__mic=market)
    if account_id is not None:
        qs = qs.filter(account_id=account_id)
    if run_id is not None:
        qs = qs.filter(run_id=run_id)
    if order_ids is not None:
        qs = qs.filter(pk__in=list(order_ids))
    orders = _locked_orders(qs.values_list("pk", flat=True))
    report = ReleaseReport(now=now)
    closed: dict[int, str | None] = {}
    skipped: dict[str, list[Any]] = {}
    brokers = list(Broker.objects.filter(is_active=True).order_by("priority", "code"))
    groups: dict[tuple[Any, ...], list[Order]] = defaultdict(list[Any])
    gate_checked: set[tuple[int, int]] = set()
    for order in orders:
        mkt = order.listing.market
        if mkt.pk not in closed:
            closed[mkt.pk] = market_closed_reason(mkt, now)
        if closed[mkt.pk] is not None:
            skipped.setdefault(mkt.mic, [closed[mkt.pk], 0])[1] += 1
            continue
        owner_key = (order.account.owner_id, order.account.firm_id)
        if owner_key not in gate_checked:
            assert_relationship_active(party=order.account.owner, firm=order.account.firm)
            gate_checked.add(owner_key)
        if order.custody_account_id is None:
            report.held.append({"order": order.pk, "reference": order.reference,
                                "reason": "no custody account covers the listing's market"})
            continue
        try:
            broker = order.broker or _route_broker(order, brokers)
        except RoutingFailed as exc:
            report.held.append({"order": order.pk, "reference": order.reference, "reason": exc.message})
            continue
        groups[(broker.pk, order.listing_id, order.side, order.trade_date)].append(order)
        order.broker = broker
    report.skipped_markets = [{"market": mic, "orders": n, "reason": why} for mic, (why, n) in sorted(skipped.items())]
    for (broker_id, listing_id, side, trade_date), members in sorted(groups.items(), key=lambda kv: kv[0]):
        block = Block.objects.create(
            reference=f"B{now:%Y%m%d%H%M%S}-{listing_id}-{side[0].upper()}-{broker_id}-{members[0].pk}",
            listing_id=listing_id, broker_id=broker_id, side=side, trade_date=trade_date,
            currency=members[0].currency, quantity=sum((o.quantity for o in members), Decimal(0)), released_at=now,
        )
        record_event(subject=block, event_type="block.released", actor=actor, firm=members[0].account.firm,
                     to_state=block.status, detail={"orders": [o.reference for o in members],
                                                    "quantity": str(block.quantity)})
        for order in members:
            order.block = block
            order.released_at = now
            _transition(order, "release", actor=actor, event="order.released",
                        detail={"block": block.reference, "broker": order.broker.code})
        _emit_block(block, "block.released", members, broker=members[0].broker.code)
        report.blocks.append(block)
        report.released += len(members)
    return report


@transaction.atomic
def block_cancel(*, block: Block, actor: User | None, reason: str) -> Block:
    """Withdraw a block from its broker before anything is filled; its orders are cancelled."""
    block = Block.objects.select_for_update().get(pk=block.pk)
    if block.status != BlockStatus.OPEN:
        raise OrderStateError(
            f"block {block.reference} is {block.get_status_display().lower()}: only a block with no fill can be cancelled",
            detail={"block": block.reference, "status": block.status})
    orders = _locked_orders(block.orders.values_list("pk", flat=True))
    before = block.status
    block.cancel()
    block.save()
    record_event(subject=block, event_type="block.cancelled", actor=actor, from_state=before, to_state=block.status,
                 reason=reason, detail={"orders": [o.reference for o in orders]})
    for order in orders:
        _transition(order, "cancel", actor=actor, event="order.cancelled", reason=f"block {block.reference} cancelled: {reason}")
    _emit_block(block, "block.cancelled", orders, reason=reason)
    return block


# --- exports -----------------------------------------------------------------------------------------


def _tickets(blocks: Iterable[Block]) -> list[Ticket]:
    out = []
    for b in Block.objects.filter(pk__in=[b.pk for b in blocks]).select_related(
            "listing", "listing__market", "listing__instrument", "broker").order_by("reference"):
        settle = b.orders.order_by("settle_date").values_list("settle_date", flat=True).first()
        out.append(Ticket(
            cl_ord_id=b.reference, broker=b.broker.code, target_comp_id=b.broker.fix_target_comp_id, side=b.side,
            isin=b.listing.instrument.isin, ticker=b.listing.ticker, mic=b.listing.market.mic, currency=b.currency,
            quantity=b.quantity, trade_date=b.trade_date, settle_date=settle, accounts=b.orders.count(),
            transact_time=b.released_at,
        ))
    return out


def blocks_export_csv(*, blocks: Iterable[Block]) -> str:
    return tickets_csv(_tickets(blocks))


def blocks_export_fix(*, blocks: Iterable[Block], sender_comp_id: str = "MERIDIAN", first_seq: int = 1) -> list[str]:
    return [new_order_single(t, sender_comp_id=sender_comp_id, seq_num=n)
            for n, t in zip(itertools.count(first_seq), _tickets(blocks))]


# --- fills and allocation -----------------------------------------------------------------------------


@transaction.atomic
def execution_reports_import(*, content: str, file: str, actor: User | None = None) -> int:
    """Apply an execution report CSV to the blocks it names. The whole file is checked first
    (format, known blocks, no overfill, no repeated exec id); a bad file changes nothing."""
    try:
        rows = parse_execution_reports(content, file=file)
    except ExecutionFileError as exc:
        raise ExecutionImportRejected(str(exc), detail={"file": exc.file, "line": exc.line, "field": exc.field}) from None
    refs = {r.cl_ord_id for r in rows}
    blocks = {b.reference: b for b in Block.objects.select_for_update().filter(reference__in=refs).order_by("pk")}
    known = set(Fill.objects.filter(exec_id__in=[r.exec_id for r in rows]).values_list("exec_id", flat=True))
    added: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        def reject(field: str, why: str, line: int = r.line) -> NoReturn:
            raise ExecutionImportRejected(f"{file}: line {line}: field {field}: {why}",
                                          detail={"file": file, "line": line, "field": field})
        block = blocks.get(r.cl_ord_id)
        if block is None:
            reject("cl_ord_id", f"unknown block {r.cl_ord_id!r}")
        if block.status not in (BlockStatus.OPEN, BlockStatus.PARTIALLY_FILLED):
            reject("cl_ord_id", f"block {r.cl_ord_id} is {block.status}")
        if r.exec_id in known:
            reject("exec_id", f"already imported {r.exec_id!r}")
        added[r.cl_ord_id] += r.last_qty
        if block.filled_quantity + added[r.cl_ord_id] > block.quantity:
            reject("last_qty", f"overfills block {r.cl_ord_id} ({block.quantity})")
    Fill.objects.bulk_create([
        Fill(block=blocks[r.cl_ord_id], exec_id=r.exec_id, quantity=r.last_qty, price=r.last_px,
             executed_at=r.transact_time, venue=r.venue, source_file=file) for r in rows
    ])
    for ref in sorted(added):
        block = blocks[ref]
        fills = list(block.fills.values_list("quantity", "price"))
        qty = sum((q for q, _ in fills), Decimal(0))
        block.filled_quantity = qty
        block.average_price = (sum((q * p for q, p in fills), Decimal(0)) / qty).quantize(PRICE_Q)
        before = block.status
        block.fill() if qty == block.quantity else block.fill_partially()
        block.save()
        record_event(subject=block, event_type="block.filled", actor=actor, from_state=before, to_state=block.status,
                     firm=None, detail={"file": file, "filled": str(qty), "average_price": str(block.average_price)})
        _emit_block(block, "block.filled", block.orders.select_related("account").order_by("pk"),
                    filled_quantity=qty, average_price=block.average_price)
    return len(rows)


@transaction.atomic
def block_allocate(*, block: Block, actor: User | None = None) -> list[Allocation]:
    """Allocate the block's fills to its orders pro rata by lot size, each at the block's
    average price; orders with nothing allocated are cancelled."""
    orders = _locked_orders(block.orders.values_list("pk", flat=True))
    block = Block.objects.select_for_update().select_related("listing").get(pk=block.pk)
    if block.status not in (BlockStatus.FILLED, BlockStatus.PARTIALLY_FILLED):
        raise OrderStateError(f"block {block.reference} is {block.status}", detail={"block": block.reference})
    quantities = alloc_engine.allocate_pro_rata(
        wanted=[o.quantity for o in orders], keys=[o.reference for o in orders],
        filled=block.filled_quantity, lot=block.listing.lot_size if not block.listing.allows_fractional else Decimal(0),
    )
    allocations = []
    for order, qty in zip(orders, quantities):
        if qty <= 0:
            _transition(order, "cancel", actor=actor, event="order.cancelled", reason="nothing allocated from block")
            continue
        order.filled_quantity = qty
        order.average_price = block.average_price
        _transition(order, "fill" if qty == order.quantity else "fill_partially", actor=actor,
                    event="order.filled", detail={"quantity": str(qty), "price": str(block.average_price)})
        _transition(order, "allocate", actor=actor, event="order.allocated",
                    detail={"block": block.reference, "quantity": str(qty)})
        allocations.append(Allocation(block=block, order=order, quantity=qty, average_price=block.average_price))
    Allocation.objects.bulk_create(allocations)
    before = block.status
    block.allocate()
    block.save()
    record_event(subject=block, event_type="block.allocated", actor=actor, from_state=before, to_state=block.status,
                 detail={"allocations": {o.reference: str(q) for o, q in zip(orders, quantities)}})
    return allocations


# --- settlement ------------------------------------------------------------------------------------


@transaction.atomic
def order_settle(*, order: Order, actor: User | None = None, settled_on: dt.date | None = None) -> Order:
    """Book the allocated trade into the account's ledger and mark it settled."""
    (order,) = _locked_orders([order.pk])
    if order.status != OrderStatus.ALLOCATED:
        raise OrderStateError(f"{order} is {order.status}", detail={"order": order.reference})
    return _settle_one(order, actor=actor, as_of=settled_on or order.settle_date)


@transaction.atomic
def order_fail_settlement(*, order: Order, actor: User | None = None, reason: str) -> Order:
    (order,) = _locked_orders([order.pk])
    order.settlement_error = reason[:500]
    _transition(order, "fail_settlement", actor=actor, event="order.failed_to_settle", reason=reason)
    return order


@transaction.atomic
def order_settlement_retry(*, order: Order, actor: User | None = None, as_of: dt.date | None = None) -> Order:
    """Try a failed settlement again: it settles, or fails again and stays visible with the new
    reason."""
    (order,) = _locked_orders([order.pk])
    _transition(order, "retry_settlement", actor=actor, event="order.settlement_retried")
    try:
        with transaction.atomic():
            return _settle_one(order, actor=actor, as_of=as_of or order.settle_date)
    except MeridianError as exc:
        return order_fail_settlement(order=order, actor=actor, reason=exc.message)


def _settle_one(order: Order, *, actor: User | None, as_of: dt.date) -> Order:
    from .ledger import post_trade  # the accounts ledger adapter

    txn = post_trade(order=order, actor=actor)
    order.settlement_error = ""
    _transition(order, "settle", actor=actor, event="order.settled",
                detail={"transaction": txn.pk if txn is not None else None, "settled_on": as_of.isoformat()})
    return order


@dataclass
class SettlementReport:
    """One settlement pass on `as_of`: what settled, what failed (and why), and what waits
    because `as_of` is not a settlement day of its market or currency."""

    as_of: dt.date
    settled: list[str] = field(default_factory=list)
    fx_settled: list[str] = field(default_factory=list)
    transfers_settled: list[str] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    waiting: list[dict[str, Any]] = field(default_factory=list)


def settlements_run(*, as_of: dt.date, firm: Firm | None = None, actor: User | None = None) -> SettlementReport:
    """Settle into the ledger every allocated order due by `as_of` whose market and settlement
    currency are open for settlement on `as_of`, and every released FX order whose value date
    has come on both currencies' calendars. Each settles in its own transaction: a failure is
    recorded on the order (failed_to_settle, with the reason) and the rest carry on. Safe to run
    twice: a settled order is no longer due."""
    from trading.reference.calendars import is_currency_business_day, is_settlement_day
    from trading.reference.selectors import currency_calendars

    report = SettlementReport(as_of=as_of)
    due = Order.objects.filter(status=OrderStatus.ALLOCATED, settle_date__lte=as_of).select_related(
        "listing__market").order_by("settle_date", "pk")
    fx_due = FxOrder.objects.filter(status=FxOrderStatus.RELEASED, value_date__lte=as_of).order_by("value_date", "pk")
    if firm is not None:
        due, fx_due = due.filter(account__firm=firm), fx_due.filter(account__firm=firm)
    calendars: dict[tuple[Any, ...], bool] = {}
    for order in due:
        market = order.listing.market
        key = (market.calendar_code, market.settlement_currency)
        if key not in calendars:
            calendars[key] = is_settlement_day(as_of, calendar_code=market.calendar_code,
                                               currency_calendars=currency_calendars([market.settlement_currency]))
        if not calendars[key]:
            report.waiting.append({"reference": order.reference, "settle_date": order.settle_date.isoformat(),
                                   "reason": f"{as_of} is not a settlement day for {market.mic} "
                                             f"({market.settlement_currency})"})
            continue
        try:
            with transaction.atomic():
                (locked,) = _locked_orders([order.pk])
                if locked.status != OrderStatus.ALLOCATED:
                    continue
                _settle_one(locked, actor=actor, as_of=as_of)
            report.settled.append(order.reference)
        except MeridianError as exc:
            order_fail_settlement(order=order, actor=actor, reason=exc.message)
            report.failed.append({"reference": order.reference, "reason": exc.message})
    for fx in fx_due:
        specs = currency_calendars([fx.buy_currency, fx.sell_currency])
        if not all(is_currency_business_day(as_of, spec) for spec in specs):
            report.waiting.append({"reference": fx.reference, "settle_date": fx.value_date.isoformat(),
                                   "reason": f"{as_of} is not a business day for {fx.buy_currency}/{fx.sell_currency}"})
            continue
        try:
            fx_order_settle(fx_order=fx, actor=actor)
            report.fx_settled.append(fx.reference)
        except MeridianError as exc:
            report.failed.append({"reference": fx.reference, "reason": exc.message})
    transfers_due = CashTransfer.objects.filter(status=TransferStatus.APPROVED, value_date__lte=as_of).order_by(
        "value_date", "pk")
    if firm is not None:
        transfers_due = transfers_due.filter(account__firm=firm)
    for t in transfers_due:
        if not all(is_currency_business_day(as_of, spec) for spec in currency_calendars([t.currency])):
            report.waiting.append({"reference": t.reference, "settle_date": t.value_date.isoformat(),
                                   "reason": f"{as_of} is not a business day for {t.currency}"})
            continue
        try:
            cash_transfer_settle(transfer=t, actor=actor)
            report.transfers_settled.append(t.reference)
        except MeridianError as exc:
            report.failed.append({"reference": t.reference, "reason": exc.message})
    return report


__all__ = [
    "Side",
    "block_allocate",
    "blocks_export_csv",
    "blocks_export_fix",
    "block_cancel",
    "brokers_load",
    "execution_reports_import",
    "market_is_open",
    "order_cancel",
    "order_fail_settlement",
    "order_reject",
    "order_settlement_retry",
    "settlements_run",
    "order_settle",
    "assert_routable",
    "fx_order_cancel",
    "fx_orders_approve",
    "orders_approve",
    "orders_release",
    "release_wave",
]


# --- rebalance runs -----------------------------------------------------------------------------------


def unrouted_counts(book: Any, orders: Any, custody: Any, broker: Any) -> dict[str, Any]:
    """What was not routed, and why: orders whose account has no custody account covering the
    listing's market, and orders with a custody account but no broker reaching that market and
    settling with that custodian; each counted per market (and custodian)."""
    import numpy as np

    from accounts.models import CustodyAccount
    from trading.reference.models import Market

    no_custody = custody < 0
    no_broker = (custody >= 0) & (broker < 0)
    mics = dict(Market.objects.values_list("pk", "mic"))
    market = book.market_ids[orders.listing] if len(custody) else np.zeros(0, np.int64)
    by_market = {mics.get(int(m), str(m)): int(n) for m, n in zip(*np.unique(market[no_custody], return_counts=True))}
    custodian_of = dict(CustodyAccount.objects.filter(pk__in=set(custody[no_broker].tolist()))
                        .values_list("pk", "custodian__name"))
    pairs: dict[str, int] = defaultdict(int)
    for m, c in zip(market[no_broker].tolist(), custody[no_broker].tolist()):
        pairs[f"{mics.get(int(m), m)} at {custodian_of.get(int(c), c)}"] += 1
    return {"unrouted": int(no_custody.sum() + no_broker.sum()),
            "not_routed": {"no_custody_account": by_market, "no_broker": dict(sorted(pairs.items()))}}


def _repeatable_read() -> None:
    """On PostgreSQL, read the whole book from one snapshot when this is the outermost transaction."""
    from django.db import connection

    if connection.vendor == "postgresql" and len(connection.savepoint_ids) == 0:
        with connection.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


SYNC_ACCOUNT_LIMIT = 2000  # more accounts than this are rebalanced by the Celery chunk tasks
CHUNK_ACCOUNTS = 5000  # accounts per Celery chunk


@dataclass(frozen=True)
class RebalanceStarted:
    """A rebalance request: the run, and its result when it ran at once (None when queued)."""

    run: RebalanceRun
    accounts: int
    result: RebalanceResult | None = None

    @property
    def queued(self) -> bool:
        return self.result is None


EARLIEST_TRADE_DATE = dt.date(2010, 1, 1)  # the exchange calendars' first year (trading.reference.calendars)
LATEST_TRADE_DATE = dt.date(2030, 12, 31)  # their last year: past it sessions and holidays are unknown
MAX_DAYS_AHEAD = 366


def validate_rebalance_scope(scope: RebalanceScope, *, today: dt.date | None = None) -> None:
    """Refuse (400, nothing written) a trade date the calendars cannot settle or that is more
    than a year away, and a scope naming nothing."""
    today = today or timezone.localdate()
    problems: dict[str, list[str]] = {}
    day = scope.trade_date
    if not (EARLIEST_TRADE_DATE <= day <= LATEST_TRADE_DATE):
        problems["trade_date"] = [f"{day} is outside the market calendars ({EARLIEST_TRADE_DATE} to {LATEST_TRADE_DATE})"]
    elif day > today + dt.timedelta(days=MAX_DAYS_AHEAD):
        problems["trade_date"] = [f"{day} is more than {MAX_DAYS_AHEAD} days ahead of {today}"]
    if scope.accounts is not None and len(scope.accounts) == 0:
        problems["accounts"] = ["an empty list of accounts names nothing to rebalance"]
    if scope.id_range is not None and scope.id_range[0] > scope.id_range[1]:
        problems["id_range"] = [f"{scope.id_range[0]} is above {scope.id_range[1]}"]
    if problems:
        first = next(iter(problems))
        raise ValidationFailed(f"{first}: {problems[first][0]}", detail=problems)


def _run_failed(run_pk: int, *, reason: str, actor: User | None) -> None:
    """Mark the run failed with its reason, in its own transaction (the work rolled back)."""
    from .models import RunStatus

    with transaction.atomic():
        run = RebalanceRun.objects.select_for_update().get(pk=run_pk)
        if run.status != RunStatus.RUNNING:
            return
        before = run.status
        run.status, run.finished_at = RunStatus.FAILED, timezone.now()
        run.stats = {**run.stats, "error": reason}
        run.save()
        record_event(subject=run, event_type="rebalance.failed", actor=actor, from_state=before, to_state=run.status,
                     reason=reason[:500])


def _finish_chunked_run(run: RebalanceRun, *, actor: Any = None) -> None:
    """Called with the run's row locked, after a chunk wrote its orders: the chunk that finds every chunk
    of the run written (`stats["chunks"]`, set before any was queued) completes the run with the totals
    and sends `rebalance.completed`, as a run done at once does. The lock orders the chunks' commits,
    so exactly one of them sees the others all committed."""
    from django.db.models import Count, Sum

    from .models import RunChunk, RunStatus

    expected = run.stats.get("chunks")
    if expected is None or run.status != RunStatus.RUNNING:
        return
    totals = RunChunk.objects.filter(run=run).aggregate(
        n=Count("id"), accounts=Sum("accounts"), orders=Sum("orders"), fx_orders=Sum("fx_orders"))
    if totals["n"] < expected:
        return
    sums = {k: totals[k] or 0 for k in ("accounts", "orders", "fx_orders")}
    before = run.status
    run.status, run.finished_at = RunStatus.COMPLETED, timezone.now()
    run.stats = {**run.stats, **sums}
    run.save(update_fields=["status", "finished_at", "stats"])
    record_event(subject=run, event_type="rebalance.proposed", actor=actor, from_state=before, to_state=run.status,
                 detail={"chunks": expected, **sums})
    if run.firm_id is not None:
        webhooks.emit(firm=run.firm_id, event_type="rebalance.completed", data={
            "run": run.pk, "status": run.status, "trade_date": run.trade_date, **sums})


def rebalance_start(*, scope: RebalanceScope, actor: Any = None, dry_run: bool = False,
                    key: str | None = None) -> RebalanceStarted:
    """Rebalance the scope (a firm's, as the API asks): up to SYNC_ACCOUNT_LIMIT accounts at once,
    a larger book queued to Celery in id-range chunks after commit. An empty scope is refused."""
    from .rebalancing.book import scope_count
    from .tasks import rebalance_in_chunks

    validate_rebalance_scope(scope)
    accounts = scope_count(scope)
    if accounts == 0:
        raise ValidationFailed("no active account in the requested scope", detail={"accounts": 0})
    key = key or f"api-{scope.firm or 'all'}-{uuid.uuid4().hex}"
    if accounts > SYNC_ACCOUNT_LIMIT:
        run = RebalanceRun.objects.create(key=key, firm_id=scope.firm, created_by=actor, trade_date=scope.trade_date,
                                          dry_run=dry_run, scope=scope.as_json())
        transaction.on_commit(lambda: rebalance_in_chunks(key=key, scope=scope, chunk_size=CHUNK_ACCOUNTS,
                                                          dry_run=dry_run))
        return RebalanceStarted(run=run, accounts=accounts)
    result = rebalance_run(scope=scope, key=key, dry_run=dry_run, actor=actor)
    return RebalanceStarted(run=RebalanceRun.objects.get(pk=result.run), accounts=accounts, result=result)


def rebalance_run(*, scope: RebalanceScope, key: str, dry_run: bool = False, chunk: int | None = None,
                  actor: Any = None, engine_params: Any = None) -> RebalanceResult:
    """Load the accounts in scope in bulk, run the engine, route and write the proposed orders
    in bulk. Idempotent per (key, chunk): a chunk already written is not written again. The run
    is stamped with the scope's firm and the actor, and stores the scope as typed JSON. A whole
    run (dry or not) always ends `completed` or `failed` with the reason; an impossible scope is
    refused before any row is written."""
    validate_rebalance_scope(scope)
    try:
        return _rebalance_run(scope=scope, key=key, dry_run=dry_run, chunk=chunk, actor=actor,
                              engine_params=engine_params)
    except Exception as exc:
        if chunk is None and not transaction.get_connection().needs_rollback:
            run_pk = RebalanceRun.objects.filter(key=key).values_list("pk", flat=True).first()
            if run_pk is not None:
                _run_failed(run_pk, reason=f"{type(exc).__name__}: {exc}", actor=actor)
        raise


def _rebalance_run(*, scope: RebalanceScope, key: str, dry_run: bool, chunk: int | None, actor: Any,
                   engine_params: Any) -> RebalanceResult:
    import time

    from .models import RunChunk, RunStatus
    from .rebalancing import engine as eng
    from .rebalancing.book import load_book, scope_count
    from .rebalancing.write import route, write_orders

    t0 = time.perf_counter()
    with transaction.atomic():
        run, _ = RebalanceRun.objects.get_or_create(key=key, defaults={
            "trade_date": scope.trade_date, "dry_run": dry_run, "firm_id": scope.firm, "created_by": actor,
            "scope": scope.as_json()})
        if chunk is not None and RunChunk.objects.filter(run=run, number=chunk).exists():
            return RebalanceResult(run=run.pk, chunk=chunk, skipped=True, dry_run=dry_run)
    if scope_count(scope) == 0:  # nothing in scope
        empty = RebalanceResult(run=run.pk, dry_run=dry_run, chunk=chunk)
        if chunk is None:
            with transaction.atomic():
                run = RebalanceRun.objects.select_for_update().get(pk=run.pk)
                run.status, run.stats, run.finished_at = RunStatus.COMPLETED, empty.as_dict(), timezone.now()
                run.save()
                record_event(subject=run, event_type="rebalance.proposed", actor=actor, from_state="running",
                             to_state=run.status, detail=empty.as_dict())
        return empty
    with transaction.atomic():  # one snapshot for every table the book is read from
        _repeatable_read()
        book = load_book(scope)
    t1 = time.perf_counter()
    proposal = eng.rebalance(book.listings, book.currencies, book.accounts, book.lots, book.loss_sales,
                             engine_params or eng.Params(trade_day=scope.trade_date.toordinal()))
    t2 = time.perf_counter()
    result = RebalanceResult(
        run=run.pk, dry_run=dry_run, chunk=chunk, accounts=len(book.account_ids), holdings=book.positions,
        out_of_band=int(proposal.out_of_band.sum()), orders=len(proposal.orders), fx_orders=len(proposal.fx),
        forwards=len(proposal.forwards), cash_limited=int((proposal.buy_scale < 1).sum()),
        fx_too_late=int(proposal.stats.get("fx_too_late", 0)), transfers=len(proposal.transfers),
        transfer_too_late=int(proposal.stats.get("transfer_too_late", 0)),
        wash_sale_blocked=int(proposal.wash_blocked.sum()), load_detail=book.stats.get("load_detail"),
        proposal=proposal, book=book)
    seconds_route = seconds_copy = seconds_commit = None
    if not dry_run:
        with transaction.atomic():
            if chunk is not None:
                # Claim the chunk first: a redelivered task whose first attempt is still committing
                # waits here on the unique (run, number) row, then skips instead of failing.
                try:
                    with transaction.atomic():
                        RunChunk.objects.create(run=run, number=chunk, accounts=result.accounts,
                                                orders=result.orders, fx_orders=result.fx_orders)
                except IntegrityError:
                    return RebalanceResult(run=run.pk, chunk=chunk, skipped=True, dry_run=dry_run)
            tw = time.perf_counter()
            custody, broker = route(book, proposal.orders)
            counts = unrouted_counts(book, proposal.orders, custody, broker)
            result = replace(result, unrouted=counts["unrouted"], not_routed=counts["not_routed"])
            seconds_route = time.perf_counter() - tw
            tw = time.perf_counter()
            write_orders(run_id=run.pk, book=book, result=proposal, custody=custody, broker=broker, chunk=chunk)
            seconds_copy = time.perf_counter() - tw
            run = RebalanceRun.objects.select_for_update().get(pk=run.pk)
            before = run.status
            stats = replace(result, seconds=Timings(route=seconds_route, copy=seconds_copy)).as_dict()
            run.stats = {**run.stats, **({f"chunk_{chunk}": stats} if chunk is not None else stats)}
            if chunk is None:
                run.status = RunStatus.COMPLETED
                run.finished_at = timezone.now()
            run.save()
            record_event(subject=run, event_type="rebalance.proposed", actor=actor, from_state=before,
                         to_state=run.status, detail=stats)
            if chunk is None and run.firm_id is not None:
                webhooks.emit(firm=run.firm_id, event_type="rebalance.completed", data={
                    "run": run.pk, "status": run.status, "trade_date": run.trade_date, "accounts": result.accounts,
                    "orders": result.orders, "fx_orders": result.fx_orders})
            if chunk is not None:
                _finish_chunked_run(run, actor=actor)
            tw = time.perf_counter()
        seconds_commit = time.perf_counter() - tw  # deferred key checks run here
    elif chunk is None:  # a dry run ends too, with what it would have proposed
        with transaction.atomic():
            run = RebalanceRun.objects.select_for_update().get(pk=run.pk)
            before = run.status
            run.status, run.finished_at = RunStatus.COMPLETED, timezone.now()
            run.stats = result.as_dict()
            run.save()
            record_event(subject=run, event_type="rebalance.dry_run", actor=actor, from_state=before,
                         to_state=run.status, detail=run.stats)
    t3 = time.perf_counter()
    return replace(result, seconds=Timings(load=t1 - t0, compute=t2 - t1, write=t3 - t2, route=seconds_route,
                                           copy=seconds_copy, commit=seconds_commit))


# --- FX orders --------------------------------------------------------------------------------------


def _locked_fx(fx_order: FxOrder) -> FxOrder:
    return FxOrder.objects.select_for_update().select_related("account", "account__firm", "account__owner").get(
        pk=fx_order.pk)


def _approve_fx(rows: list[FxOrder], *, actor: User, reason: str = "") -> None:
    from accounts.approvals import assert_may_approve, policy_for

    for firm_id, items in _fx_items(rows).items():
        assert_may_approve(policy=policy_for(firm_id), kind="fx", actor=actor, items=items)
    for f in rows:
        _transition(f, "approve", actor=actor, event="fx_order.approved", reason=reason)


@transaction.atomic
def fx_orders_approve(*, fx_order_ids: Iterable[int], actor: User) -> int:
    """Approve FX orders, all or none, under the same rules as the orders they fund (the firm's
    FX roles and limit, four-eyes against whoever ran the rebalance, the sanity limit)."""
    rows = list(FxOrder.objects.select_for_update(of=("self",)).filter(pk__in=list(fx_order_ids)).order_by("pk")
                .select_related("account", "account__firm", "run"))
    _approve_fx(rows, actor=actor)
    return len(rows)


@transaction.atomic
def fx_order_cancel(*, fx_order: FxOrder, actor: User | None, reason: str) -> FxOrder:
    fx_order = _locked_fx(fx_order)
    _transition(fx_order, "cancel", actor=actor, event="fx_order.cancelled", reason=reason)
    return fx_order


@transaction.atomic
def fx_order_release(*, fx_order: FxOrder, actor: User | None = None) -> FxOrder:
    fx_order = _locked_fx(fx_order)
    assert_relationship_active(party=fx_order.account.owner, firm=fx_order.account.firm)
    _transition(fx_order, "release", actor=actor, event="fx_order.released")
    return fx_order


@transaction.atomic
def fx_order_settle(*, fx_order: FxOrder, actor: User | None = None) -> FxOrder:
    """Book the executed FX into the ledger (both legs on the value date) and mark it settled."""
    fx_order = _locked_fx(fx_order)
    if fx_order.status != FxOrderStatus.RELEASED:
        raise OrderStateError(f"{fx_order} is {fx_order.status}", detail={"fx_order": fx_order.reference})
    from .ledger import post_fx

    txn = post_fx(fx_order=fx_order, actor=actor)
    _transition(fx_order, "settle", actor=actor, event="fx_order.settled", detail={"transaction": txn.pk})
    return fx_order


# --- cash transfers between custody accounts -----------------------------------------------------------


def _locked_transfers(ids: Iterable[int]) -> list[CashTransfer]:
    return list(CashTransfer.objects.select_for_update(of=("self",)).filter(pk__in=list(ids)).order_by("pk")
                .select_related("account", "account__firm", "account__owner", "run", "from_custody_account",
                                "to_custody_account"))


@transaction.atomic
def cash_transfers_approve(*, transfer_ids: Iterable[int], actor: User) -> int:
    """Approve proposed cash transfers, all or none, under the firm's rules for transfers (roles,
    limit in base currency, four-eyes against whoever ran the rebalance, sanity limit)."""
    from accounts.approvals import Item, assert_may_approve, policy_for, to_base

    rows = _locked_transfers(transfer_ids)
    by_firm: dict[int, list[Any]] = defaultdict(list[Any])
    for t in rows:
        base = t.account.base_currency
        by_firm[t.account.firm_id].append(Item(
            label=f"cash transfer {t.reference} ({t.amount:f} {t.currency} from {t.from_custody_account} "
                  f"to {t.to_custody_account})",
            amount_base=to_base(amount=t.amount, currency=t.currency, base_currency=base, on=t.trade_date),
            base_currency=base, proposer_id=t.run.created_by_id if t.run_id and t.run else None))
    for firm_id, items in by_firm.items():
        assert_may_approve(policy=policy_for(firm_id), kind="transfer", actor=actor, items=items)
    for t in rows:
        _transition(t, "approve", actor=actor, event="cash_transfer.approved")
    return len(rows)


@transaction.atomic
def cash_transfer_cancel(*, transfer: CashTransfer, actor: User | None, reason: str) -> CashTransfer:
    (transfer,) = _locked_transfers([transfer.pk])
    _transition(transfer, "cancel", actor=actor, event="cash_transfer.cancelled", reason=reason)
    return transfer


@transaction.atomic
def cash_transfer_settle(*, transfer: CashTransfer, actor: User | None = None) -> CashTransfer:
    """Book an approved transfer into the ledger: out of one custody account's cash, into the
    other's, on the value date; then mark it settled."""
    (transfer,) = _locked_transfers([transfer.pk])
    if transfer.status != TransferStatus.APPROVED:
        raise OrderStateError(f"cash transfer {transfer.reference} is {transfer.status}",
                              detail={"cash_transfer": transfer.reference, "status": transfer.status})
    from .ledger import post_transfer

    txn = post_transfer(transfer=transfer, actor=actor)
    _transition(transfer, "settle", actor=actor, event="cash_transfer.settled", detail={"transaction": txn.pk})
    return transfer
