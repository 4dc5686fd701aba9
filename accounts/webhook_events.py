"""accounts' webhook events, registered in onboarding's catalogue from AccountsConfig.ready()."""
from __future__ import annotations

from onboarding.webhook_events import ID, STR, data_schema, enum, register

ACCOUNT_EVENTS = {
    "account.activated": "An account became active (its owner's relationship is active and it has a custody "
                         "account): it can be funded and subscribed to a model.",
    "account.suspended": "An account was suspended: no orders are released for it until it is reinstated.",
    "account.reinstated": "A suspended account is active again.",
    "account.closed": "An account with flat books was closed; its model subscriptions ended.",
}


def register_events() -> None:
    from .models import AccountStatus

    for name, summary in ACCOUNT_EVENTS.items():
        register(name, summary=summary,
                 data=data_schema(account=ID, number=STR, owner=ID, **{"from": enum(*AccountStatus.values),
                                                                       "to": enum(*AccountStatus.values)}),
                 example={"account": 77, "number": "TH-000123", "owner": 12, "from": "pending", "to": "active"})
