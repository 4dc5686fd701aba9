"""Trading's exceptions, each with a stable code."""
from __future__ import annotations

from onboarding.exceptions import InvalidTransition, MeridianError


class TradingError(MeridianError):
    """A trading action failed."""

    code = "trading_error"


class OrderStateError(InvalidTransition, TradingError):
    """The order is not in a state that allows this."""

    code = "invalid_transition"
    status_code = 409


class RoutingFailed(TradingError):
    """No custody account or broker can take this order."""

    code = "routing_failed"


class ExecutionImportRejected(TradingError):
    """The execution report file was rejected; nothing was written."""

    code = "execution_import_rejected"


class MarketClosed(TradingError):
    """The order's market is not open."""

    code = "market_closed"
    status_code = 409


class OrderNotRoutable(TradingError):
    """The order has no custody account or no broker, so it cannot be approved or released."""

    code = "order_not_routable"
    status_code = 409
