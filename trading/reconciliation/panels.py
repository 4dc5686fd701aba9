"""Reconciliation's panel on the account page (accounts/panels.py): open breaks on the account's
custody accounts. Registered in ReconciliationConfig.ready()."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Q

from accounts.models import Account, CustodyAccount
from accounts.panels import account_page


def account_breaks(account: Account, custody_accounts: Iterable[CustodyAccount]) -> list[Any]:
    from . import selectors

    numbers = [c.number for c in custody_accounts]
    mine = Q(firm_id=account.firm_id) | Q(firm__isnull=True)  # breaks are keyed by custody account number
    return list(selectors.open_breaks().filter(mine, custody_account__in=numbers)[:100])


def register() -> None:
    account_page.register("breaks", account_breaks)
