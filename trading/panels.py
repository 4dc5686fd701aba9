"""Trading's panel on the account page (accounts/panels.py): the account's proposed and working
orders. Registered in TradingConfig.ready()."""
from __future__ import annotations

from typing import Any

from accounts.models import Account
from accounts.panels import account_page


def account_orders(account: Account) -> list[Any]:
    from . import selectors

    return list(selectors.orders_in_state(firm=account.firm_id).filter(account=account)
                .order_by("trade_date", "reference")[:100])


def register() -> None:
    account_page.register("orders", account_orders)
