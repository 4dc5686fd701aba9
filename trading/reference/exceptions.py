"""Errors of the instrument and market master."""
from __future__ import annotations

from onboarding.exceptions import MeridianError, NotFound


class ReferenceDataError(MeridianError):
    """A reference data file is invalid; nothing was loaded."""

    code = "reference_data_invalid"


class SettlementCycleMissing(NotFound):
    """No settlement cycle is on file for this market and instrument type on this date."""

    code = "settlement_cycle_missing"


class PriceMissing(NotFound):
    """No price is on file for this listing."""

    code = "price_missing"


class FxRateMissing(NotFound):
    """No FX rate is on file for this currency pair."""

    code = "fx_rate_missing"
