"""The account page's panels that upper apps fill (see onboarding/panels.py for the rule):
trading registers the proposed orders, reconciliation the open breaks. Also accounts' own panel
on onboarding's dashboard (accounts by status), registered in AccountsConfig.ready()."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from onboarding.panels import PanelRegistry, dashboard

account_page = PanelRegistry("account page", {
    "orders": "(account) -> proposed and working orders of the account, oldest trade date first",
    "breaks": "(account, custody_accounts) -> open reconciliation breaks on these custody accounts",
})


def accounts_by_status(user: Any) -> dict[str, int]:
    """The dashboard's account tiles: the firm's accounts by status."""
    from . import selectors

    if user.firm_id is None:
        return {}
    counts: dict[str, int] = defaultdict(int)
    for status in selectors.accounts_for_firm(firm=user.firm).values_list("status", flat=True):
        counts[status] += 1
    return dict(sorted(counts.items()))


def register() -> None:
    """Accounts' panels on onboarding's pages."""
    dashboard.register("accounts_by_status", accounts_by_status)
