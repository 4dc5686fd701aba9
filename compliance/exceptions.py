"""Compliance errors, each with a stable code (mapped to {"code", "message", "detail"} by the API)."""
from __future__ import annotations

from onboarding.exceptions import FourEyesViolation, InvalidTransition, MeridianError, PermissionDenied


class WatchlistFormatError(MeridianError):
    """A watchlist file is not in the expected format; nothing was imported."""

    code = "watchlist_format_invalid"

    def __init__(self, *, file: str, line: int | None, field: str, problem: str):
        self.file = str(file)
        self.line = line
        self.field = field
        self.problem = problem
        where = f"{self.file}" + (f", line {line}" if line is not None else "") + f", field {field!r}"
        super().__init__(f"{where}: {problem}", detail={"file": self.file, "line": line, "field": field})


class RiskModelError(MeridianError):
    """A risk model file is invalid."""

    code = "risk_model_invalid"


class AlertNoteRequired(MeridianError):
    """Clearing or deciding an alert needs a note."""

    code = "alert_note_required"


class AlertFourEyesRequired(FourEyesViolation):
    """Clearing a high-scoring alert needs a second officer, different from the first."""


class AlertInvalidTransition(InvalidTransition):
    """This alert action is not allowed in the alert's current state."""


class NotAComplianceOfficer(PermissionDenied):
    """Only a platform compliance officer may decide screening alerts."""
