"""Trading's and reconciliation's words for their audit events, registered with onboarding's
label table."""
from __future__ import annotations

from onboarding.labels import register_code_labels, register_event_labels

EVENTS = {
    "block.allocated": "Block allocated to accounts",
    "block.cancelled": "Block cancelled",
    "block.filled": "Block filled",
    "block.released": "Block released to the broker",
    "order.filled": "Order filled",
    "rebalance.dry_run": "Rebalance tried without orders (dry run)",
    "rebalance.failed": "Rebalance failed",
    "rebalance.proposed": "Rebalance proposed orders",
    "instrument.ratio_changed": "Instrument ratio changed",
    "reference.rule_created": "Reference rule loaded",
    "reference.rule_changed": "Reference rule changed",
    "break.opened": "Reconciliation break opened",
    "break.note_added": "Note added to a reconciliation break",
    "break.write_off_requested": "Write-off of a reconciliation break requested",
    "recon.corporate_action_loaded": "Corporate-action events loaded",
    "recon.corporate_action_saved": "Corporate-action event saved",
    "recon.daily_run_started": "Daily reconciliation started",
    "recon.daily_run_finished": "Daily reconciliation finished",
    "recon.file_received": "Custodian file received",
    "recon.run_completed": "Reconciliation run completed",
}


# a reconciliation break's kind (Break.kind), in the words of the run report
BREAK_KINDS = {
    "quantity": "Quantity differs",
    "price": "Price differs",
    "market_value": "Market value differs (price or FX source)",
    "pending_settlement": "Trade pending settlement",
    "corporate_action": "Corporate action",
    "unknown_instrument": "Instrument not recognised",
    "missing_at_custodian": "In our books, not at the custodian",
    "missing_in_books": "At the custodian, not in our books",
    "cash": "Cash balance differs",
}


def register() -> None:
    register_event_labels(EVENTS)
    register_code_labels("reconciliation.break.kind", BREAK_KINDS)
