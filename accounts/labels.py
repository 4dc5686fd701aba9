"""Accounts' words for its audit events, registered with onboarding's label table."""
from __future__ import annotations

from onboarding.labels import register_event_labels

EVENTS = {
    "account.opened": "Account opened",
    "account.custody_added": "Custody account added",
    "account.cash_account_added": "Cash account added at the custodian",
    "account.sleeve_added": "Sleeve added",
    "account.subscribed": "Subscribed to a model portfolio",
    "account.override_added": "Model override added",
    "approval_policy.changed": "Approval rules changed",
    "corporate_action.dividend": "Dividend booked",
    "custodian.created": "Custodian recorded",
    "household.created": "Household created",
    "ledger.posted": "Posted to the ledger",
    "model.published": "Model portfolio published",
}


def register() -> None:
    register_event_labels(EVENTS)
