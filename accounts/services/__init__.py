"""Business actions on accounts and their books. One keyword-only function per action, each in
`transaction.atomic`, each writing an audit event.

Gating: every client-initiated, account-level action (activate, fund, withdraw, trade, FX,
transfer, subscribe to a model) calls `_gate`, which asks onboarding whether the owner's
relationship is active (`onboarding.services.assert_relationship_active`) and, except for
activation itself, requires the account to be active. Income, fees and corporate actions are
booked whatever the relationship state: they happen to the account, the client does not ask.

The ledger (`Transaction` + `Movement`) is append-only; `_post` is its only writer. Positions,
cash balances and tax lots are derived from it here.

The actions live in modules by domain; this package re-exports every public name so that
`from accounts.services import X` works for callers:

- `access`: the gate, access checks, row locks and small helpers
- `structures`: households, custodians, accounts, custody accounts, sleeves, account lifecycle
- `ledger`: the ledger writer, trades, securities transfers, reversals
- `cash`: cash movements, FX, income and fees
- `corporate_actions`: splits, ADR ratio changes, cash dividends for every holder
- `books`: derived positions and cash balances
- `model_portfolios`: model portfolios, delivery files, subscriptions and overrides
"""
from .access import (
    ZERO,
)
from .books import (
    books_refresh,
)
from .cash import (
    cash_deposit,
    cash_transfer,
    cash_withdraw,
    dividend_book,
    fee_book,
    fx_post,
    fx_spot_book,
    interest_book,
)
from .corporate_actions import (
    corporate_action_adr_ratio_change,
    corporate_action_cash_dividend,
    corporate_action_split,
)
from .ledger import (
    ACQUISITIONS,
    DISPOSALS,
    TRADE_SIDES,
    Leg,
    OpeningLot,
    opening_balance_book,
    securities_transfer,
    trade_book,
    trade_post,
    trade_post_many,
    transaction_reverse,
)
from .model_portfolios import (
    WEIGHT_TOLERANCE,
    TargetLine,
    model_delivery_load,
    model_override_add,
    model_publish,
    model_subscribe,
)
from .structures import (
    account_activate,
    account_close,
    account_open,
    account_reinstate,
    account_suspend,
    custodian_create,
    custody_account_add,
    custody_cash_account_add,
    household_create,
    sleeve_add,
)

__all__ = [
    "ACQUISITIONS",
    "DISPOSALS",
    "Leg",
    "TRADE_SIDES",
    "TargetLine",
    "WEIGHT_TOLERANCE",
    "ZERO",
    "account_activate",
    "account_close",
    "account_open",
    "account_reinstate",
    "account_suspend",
    "books_refresh",
    "cash_deposit",
    "cash_transfer",
    "cash_withdraw",
    "corporate_action_adr_ratio_change",
    "corporate_action_cash_dividend",
    "corporate_action_split",
    "custodian_create",
    "custody_account_add",
    "custody_cash_account_add",
    "dividend_book",
    "fee_book",
    "fx_post",
    "fx_spot_book",
    "household_create",
    "interest_book",
    "model_delivery_load",
    "model_override_add",
    "model_publish",
    "model_subscribe",
    "securities_transfer",
    "OpeningLot",
    "opening_balance_book",
    "sleeve_add",
    "trade_book",
    "trade_post",
    "trade_post_many",
    "transaction_reverse",
]
