"""Errors raised by compliance.tax. Each has a stable code for the API."""
from __future__ import annotations

from onboarding.exceptions import InvalidTransition, MeridianError


class TaxError(MeridianError):
    """A tax documentation error."""

    code = "tax_error"


class TaxRuleFileInvalid(TaxError):
    """A tax rule file is invalid."""

    code = "tax_rules_invalid"


class TaxFormInvalid(TaxError):
    """The tax form is not valid."""

    code = "tax_form_invalid"


class TaxFormStateError(InvalidTransition, TaxError):
    """This action is not allowed on the tax form in its current state."""

    code = "invalid_transition"
    status_code = 409


class ReportError(TaxError):
    """The report cannot be produced."""

    code = "tax_report_error"
