"""Settlement into the accounts ledger, through accounts services only."""
from __future__ import annotations

from accounts import services as account_services

from .models import CashTransfer, FxOrder, Order


def post_trade(*, order: Order, actor=None):
    """Book an allocated order (quantity filled, average price) into the account's books."""
    return account_services.trade_post(order=order, actor=actor)


def post_fx(*, fx_order: FxOrder, actor=None):
    """Book an executed FX order (both cash legs, value date) into the account's books."""
    return account_services.fx_post(fx_order=fx_order, actor=actor, custody_account=fx_order.custody_account)


def post_transfer(*, transfer: CashTransfer, actor=None):
    """Book a cash transfer between two custody accounts (out of one, into the other, value date)."""
    return account_services.cash_transfer(
        account=transfer.account, from_custody=transfer.from_custody_account, to_custody=transfer.to_custody_account,
        currency=transfer.currency, amount=transfer.amount, value_date=transfer.value_date, actor=actor,
        external_ref=transfer.reference, trade_date=transfer.trade_date)
