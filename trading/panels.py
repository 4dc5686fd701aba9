"""Trading's panel on the account page (accounts/panels.py): the account's proposed and working
orders (approved, with the broker, filled, allocated and awaiting settlement, or failed to
settle), oldest trade date first. Registered in TradingConfig.ready()."""
from __future__ import annotations

from typing import Any

from accounts.models import Account
from accounts.panels import account_page

from .models import OrderStatus

DONE = (OrderStatus.SETTLED, OrderStatus.CANCELLED, OrderStatus.REJECTED)


def account_orders(account: Account) -> list[Any]:
    from .models import Order

    return list(Order.objects.filter(account=account).exclude(status__in=DONE)
                .select_related("listing", "listing__market", "broker", "block")
                .order_by("trade_date", "reference")[:100])


def register() -> None:
    account_page.register("orders", account_orders)
