"""Adapter from settled orders to the accounts ledger.

The accounts app owns the ledger (`accounts.models.Transaction` / `Movement`). Until
`accounts.services` offers a trade-posting function, this adapter writes the append-only
transaction with its two legs (security quantity, cash principal) itself, inside the caller's
transaction; when `accounts.services.trade_post` exists it is used instead."""
from __future__ import annotations

from decimal import Decimal

from onboarding.money import quantize_money

from .models import Order, Side


def post_trade(*, order: Order, actor=None):
    try:
        from accounts import services as account_services  # noqa: PLC0415
    except ImportError:  # pragma: no cover - accounts services not there yet
        account_services = None
    if account_services is not None and hasattr(account_services, "trade_post"):
        return account_services.trade_post(order=order, actor=actor)

    from accounts.models import CashPurpose, LegType, Movement, Transaction, TransactionKind  # noqa: PLC0415

    listing = order.listing
    qty = order.filled_quantity
    price = (order.average_price or order.estimated_price) / listing.price_divisor
    principal = quantize_money(qty * price, order.currency)
    sign = Decimal(1) if order.side == Side.BUY else Decimal(-1)
    txn = Transaction.objects.create(
        account=order.account, kind=TransactionKind.BUY if order.side == Side.BUY else TransactionKind.SELL,
        trade_date=order.trade_date, settle_date=order.settle_date, external_ref=order.reference,
        description=f"{order.side} {qty} {listing.ticker}",
        detail={"price": str(order.average_price), "price_unit": listing.price_unit, "order": order.reference,
                "block": order.block.reference if order.block_id else None},
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    common = {"transaction": txn, "account": order.account, "custody_account": order.custody_account,
              "trade_date": order.trade_date, "settle_date": order.settle_date, "currency": order.currency}
    Movement.objects.bulk_create([
        Movement(**common, leg=LegType.SECURITY, instrument=listing.instrument, listing=listing,
                 quantity=sign * qty, amount=sign * principal),
        Movement(**common, leg=LegType.CASH, cash_purpose=CashPurpose.PRINCIPAL, amount=-sign * principal),
    ])
    return txn
