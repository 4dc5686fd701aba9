"""Settlement into the accounts ledger, through accounts services only."""
from __future__ import annotations

from accounts import services as account_services

from .models import FxOrder, Order


def post_trade(*, order: Order, actor=None):
    """Book an allocated order (quantity filled, average price) into the account's books."""
    return account_services.trade_post(order=order, actor=actor)


def post_fx(*, fx_order: FxOrder, actor=None):
    """Book an executed FX order (both cash legs, value date) into the account's books."""
    return account_services.fx_post(fx_order=fx_order, actor=actor)
