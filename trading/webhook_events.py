"""trading's webhook events (orders, blocks, FX orders, rebalance runs), registered in
onboarding's catalogue from TradingConfig.ready().

Every order event carries the order's common fields (`ORDER_FIELDS`) and a few of its own; a block serves
several firms, so each firm receives a block's event with its own orders only."""
from __future__ import annotations

from typing import Any

from onboarding.webhook_events import (
    BOOL,
    CURRENCY,
    DATE,
    DECIMAL,
    ID,
    INT,
    STR,
    Schema,
    array,
    data_schema,
    enum,
    nullable,
    register,
)


def _order_fields() -> dict[str, Schema]:
    from .models import OrderStatus, Side

    return {"order": ID, "reference": STR, "account": ID, "side": enum(*Side.values), "quantity": DECIMAL,
            "currency": CURRENCY, "trade_date": DATE, "status": enum(*OrderStatus.values), "block": nullable(STR)}


ORDER_EXAMPLE: dict[str, Any] = {"order": 501, "reference": "R20261207-77-1", "account": 77, "side": "buy",
                                 "quantity": "120", "currency": "GBP", "trade_date": "2026-12-07",
                                 "status": "released", "block": "B20261207093000-14-B-2-501"}

ORDER_EVENTS: dict[str, tuple[str, dict[str, Schema], dict[str, Any]]] = {
    "order.approved": ("An order was approved under the firm's approval rules (role, limit, four-eyes).",
                       {}, {"status": "approved", "block": None}),
    "order.rejected": ("An order was rejected before release.", {"reason": STR},
                       {"status": "rejected", "block": None, "reason": "outside the model's band"}),
    "order.released": ("An order was released to its broker in a block (the market was open).",
                       {"broker": STR}, {"broker": "BRKA"}),
    "order.filled": ("A block's fills were allocated to the order: `complete` false for a partial fill.",
                     {"filled_quantity": DECIMAL, "average_price": DECIMAL, "complete": BOOL},
                     {"status": "filled", "filled_quantity": "120", "average_price": "101.25", "complete": True}),
    "order.cancelled": ("An order was cancelled (by a person, with its block, or nothing was allocated to it).",
                        {"reason": STR}, {"status": "cancelled", "reason": "block cancelled"}),
    "order.settled": ("An allocated order settled: the trade is booked in the account's ledger.",
                      {"settled_on": DATE}, {"status": "settled", "settled_on": "2026-12-08"}),
    "order.failed_to_settle": ("An allocated order failed to settle; it stays visible with the reason and "
                               "can be retried.", {"reason": STR},
                               {"status": "failed_to_settle", "reason": "insufficient cash in GBP"}),
}


def _block_fields() -> dict[str, Schema]:
    from .models import BlockStatus, Side

    return {"block": STR, "status": enum(*BlockStatus.values), "side": enum(*Side.values), "quantity": DECIMAL,
            "currency": CURRENCY, "trade_date": DATE, "orders": array(STR)}


BLOCK_EXAMPLE: dict[str, Any] = {"block": "B20261207093000-14-B-2-501", "status": "open", "side": "buy",
                                 "quantity": "1200", "currency": "GBP", "trade_date": "2026-12-07",
                                 "orders": ["R20261207-77-1"]}

BLOCK_EVENTS: dict[str, tuple[str, dict[str, Schema], dict[str, Any]]] = {
    "block.released": ("Orders of one listing, side and broker were blocked and released to the broker "
                       "(`orders`: this firm's orders in the block).", {"broker": STR}, {"broker": "BRKA"}),
    "block.filled": ("An execution report filled a block, in full or in part.",
                     {"filled_quantity": DECIMAL, "average_price": DECIMAL},
                     {"status": "filled", "filled_quantity": "1200", "average_price": "101.25"}),
    "block.cancelled": ("A block with no fill was withdrawn from its broker; its orders are cancelled.",
                        {"reason": STR}, {"status": "cancelled", "reason": "market halted"}),
}


def _fx_fields() -> dict[str, Schema]:
    from .models import FxKind, FxOrderStatus

    return {"fx_order": ID, "reference": STR, "account": ID, "kind": enum(*FxKind.values), "buy_currency": CURRENCY,
            "buy_amount": DECIMAL, "sell_currency": CURRENCY, "sell_amount": DECIMAL, "value_date": DATE,
            "status": enum(*FxOrderStatus.values)}


FX_EXAMPLE: dict[str, Any] = {"fx_order": 88, "reference": "FX20261207-77-GBPUSD", "account": 77, "kind": "spot",
                              "buy_currency": "USD", "buy_amount": "12500.00", "sell_currency": "GBP",
                              "sell_amount": "9842.52", "value_date": "2026-12-09", "status": "approved"}

FX_EVENTS = {
    "fx_order.approved": ("An FX order was approved (with the orders it funds, or on its own).", "approved"),
    "fx_order.released": ("An FX order was released for execution.", "released"),
    "fx_order.settled": ("An FX order settled: both legs are booked on the value date.", "settled"),
    "fx_order.cancelled": ("An FX order was cancelled.", "cancelled"),
}


def _transfer_fields() -> dict[str, Schema]:
    from .models import TransferStatus

    return {"cash_transfer": ID, "reference": STR, "account": ID, "currency": CURRENCY, "amount": DECIMAL,
            "from_custody_account": ID, "to_custody_account": ID, "value_date": DATE,
            "status": enum(*TransferStatus.values)}


TRANSFER_EXAMPLE: dict[str, Any] = {"cash_transfer": 5, "reference": "R12-T0", "account": 77, "currency": "EUR",
                                    "amount": "50000.00", "from_custody_account": 3, "to_custody_account": 4,
                                    "value_date": "2026-12-08", "status": "approved"}

TRANSFER_EVENTS = {
    "cash_transfer.approved": ("A cash transfer between two custody accounts was approved.", "approved"),
    "cash_transfer.settled": ("A cash transfer settled: out of one custody account's cash, into the other's, "
                               "on the value date.", "settled"),
    "cash_transfer.cancelled": ("A cash transfer was cancelled.", "cancelled"),
}


def register_events() -> None:
    from .models import RunStatus

    for name, (summary, extra, example) in ORDER_EVENTS.items():
        register(name, summary=summary, data=data_schema(**_order_fields(), **extra),
                 example={**ORDER_EXAMPLE, **example})
    for name, (summary, extra, example) in BLOCK_EVENTS.items():
        register(name, summary=summary, data=data_schema(**_block_fields(), **extra),
                 example={**BLOCK_EXAMPLE, **example})
    for name, (summary, state) in FX_EVENTS.items():
        register(name, summary=summary, data=data_schema(**_fx_fields()), example={**FX_EXAMPLE, "status": state})
    for name, (summary, state) in TRANSFER_EVENTS.items():
        register(name, summary=summary, data=data_schema(**_transfer_fields()),
                 example={**TRANSFER_EXAMPLE, "status": state})
    register("rebalance.completed", summary="A rebalance run of the firm finished (not a dry run): the orders "
             "and FX orders it proposed wait for approval. A large book rebalanced in Celery chunks sends it once, "
             "when its last chunk is written, with the totals over every chunk.",
             data=data_schema(run=ID, status=enum(*RunStatus.values), trade_date=DATE, accounts=INT, orders=INT,
                              fx_orders=INT),
             example={"run": 12, "status": "completed", "trade_date": "2026-12-07", "accounts": 40, "orders": 95,
                      "fx_orders": 6})
