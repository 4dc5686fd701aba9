"""The account page's panels that upper apps fill (see onboarding/panels.py for the rule):
trading registers the proposed orders, reconciliation the open breaks. Also accounts' own panel
on onboarding's dashboard (accounts by status), registered in AccountsConfig.ready()."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.urls import reverse

from onboarding.panels import NextStep, PanelRegistry, case_page, dashboard

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


def case_next_steps(case: Any, user: Any) -> list[NextStep]:
    """After approval: open an account, activate it, fund it, subscribe it to a model. Each step is
    done once any of the client's accounts has reached it; the link goes where the step is taken
    (the open-account form for the firm's users, the account page for everyone)."""
    from .models import (
        Account,
        AccountStatus,
        ModelSubscription,
        SubscriptionStatus,
        Transaction,
        TransactionKind,
    )

    accounts = list(Account.objects.filter(firm_id=case.firm_id, owner_id=case.party_id).order_by("pk"))
    ids = [a.pk for a in accounts]
    firm_user = getattr(user, "firm_id", None) == case.firm_id
    open_url = reverse("portal:account_open", args=[case.party_id]) if firm_user else ""
    first = accounts[0] if accounts else None
    page = reverse("portal:account_detail", args=[first.pk]) if first else ""
    active = [a for a in accounts if a.status == AccountStatus.ACTIVE]
    funded = Transaction.objects.filter(account_id__in=ids, kind=TransactionKind.DEPOSIT).exists()
    subscribed = ModelSubscription.objects.filter(account_id__in=ids, status=SubscriptionStatus.ACTIVE).exists()
    where = "" if firm_user else " (the advisor's firm does this)"
    target = active[0] if active else first
    fund_url = reverse("portal:account_deposit", args=[target.pk]) if target and firm_user else page
    subscribe_url = reverse("portal:account_subscribe", args=[target.pk]) if target and firm_user else page
    return [
        NextStep("Open an account for the client", bool(accounts), open_url or page,
                 f"{len(accounts)} account(s) open." if accounts else f"Base currency, booking centre and number{where}."),
        NextStep("Activate the account", bool(active), f"{page}#activate" if page and firm_user else page,
                 "Add its custody account; activation checks the relationship and the tax forms." if accounts
                 else "After it is opened."),
        NextStep("Fund it", funded, fund_url, f"Record the client's deposit{where}."),
        NextStep("Subscribe it to a model portfolio", subscribed, subscribe_url,
                 f"Then the rebalancer proposes the orders{where}."),
    ]


def register() -> None:
    """Accounts' panels on onboarding's pages."""
    dashboard.register("accounts_by_status", accounts_by_status)
    case_page.register("next_steps", case_next_steps)
