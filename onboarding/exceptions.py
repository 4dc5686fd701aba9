"""Onboarding's exceptions. Each carries a stable `code`; the API maps them to
`{"code", "message", "detail"}` with `status_code`."""
from __future__ import annotations

from typing import Any


class MeridianError(Exception):
    """Base of every business error in Meridian. Other apps subclass it."""

    code = "error"
    status_code = 400

    def __init__(self, message: str = "", *, detail: Any = None, code: str | None = None):
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = message or (self.__class__.__doc__ or self.code).strip()
        self.detail = detail
        if code:
            self.code = code

    def api_detail(self) -> Any:
        """The detail as the API shows it (see onboarding.api.errors): by default the detail itself."""
        return self.detail


class ValidationFailed(MeridianError):
    """The data is not valid."""

    code = "validation_failed"


class PermissionDenied(MeridianError):
    """You may not do this."""

    code = "permission_denied"
    status_code = 403


class NotFound(MeridianError):
    """Not found."""

    code = "not_found"
    status_code = 404


class InvalidTransition(MeridianError):
    """This action is not allowed in the current state."""

    code = "invalid_transition"
    status_code = 409


class RequirementsOutstanding(MeridianError):
    """The case cannot be approved while requirements are outstanding."""

    code = "requirements_outstanding"
    status_code = 409

    def api_detail(self) -> Any:
        """{"requirements": [reason, ...]}: the reasons a person can act on; the items in full are at
        GET /api/v1/cases/{id}/requirements/."""
        if isinstance(self.detail, list):
            return {"requirements": [item["reason"] if isinstance(item, dict) else str(item) for item in self.detail]}
        return self.detail


class FourEyesViolation(PermissionDenied):
    """Four eyes: this needs a second person, different from whoever submitted, requested or first approved it."""

    code = "four_eyes_required"
    status_code = 403


class SecondFactorRequired(MeridianError):
    """This session has not passed the second factor: enter your authentication code first."""

    code = "second_factor_required"
    status_code = 403


class RelationshipNotActive(MeridianError):
    """The owner's relationship is not approved and current; account-level actions are blocked."""

    code = "relationship_not_active"
    status_code = 409


class RulePackError(MeridianError):
    """A rule pack file is invalid."""

    code = "rulepack_invalid"
