"""Errors of the accounts app, each with a stable code."""
from __future__ import annotations

from onboarding.exceptions import (  # noqa: F401
    InvalidTransition,
    MeridianError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)


class AccountNotActive(MeridianError):
    """The account is not active; this action needs an active account."""

    code = "account_not_active"
    status_code = 409


class InsufficientPosition(MeridianError):
    """Not enough of the instrument is held to deliver this quantity."""

    code = "insufficient_position"
    status_code = 409


class LotSelectionError(MeridianError):
    """The requested tax lots cannot cover this disposal."""

    code = "lot_selection_invalid"


class IneligibleInstrument(MeridianError):
    """The account may not hold this instrument."""

    code = "instrument_ineligible"
    status_code = 409


class LedgerError(MeridianError):
    """The transaction does not balance or does not fit the ledger's rules."""

    code = "ledger_invalid"


class ModelFileError(MeridianError):
    """The model delivery file is invalid; nothing was loaded."""

    code = "model_file_invalid"
