"""Reconciliation errors, with stable codes (mapped to {"code", "message", "detail"} by the API)."""
from __future__ import annotations

from onboarding.exceptions import FourEyesViolation, InvalidTransition, MeridianError


class FileRefused(MeridianError):
    """The custodian file is malformed and was refused whole; nothing was changed."""

    code = "recon_file_refused"
    status_code = 422


class UnknownFormat(MeridianError):
    """Unknown file format."""

    code = "recon_unknown_format"


class BreakTransitionNotAllowed(InvalidTransition):
    """This action is not allowed in the break's current state."""


class WriteOffNeedsSecondPerson(FourEyesViolation):
    """A write-off must be approved by someone other than the person who requested it."""


class ResolveNeedsWriteOff(FourEyesViolation):
    """An unexplained difference with an amount is closed by a write-off, which a second person
    approves (request-write-off, then approve-write-off); it cannot simply be resolved."""


class BreakRoleRefused(MeridianError):
    """Reconciliation breaks are worked by operations staff (and platform officers)."""

    code = "permission_denied"
    status_code = 403


class BookImportRefused(MeridianError):
    """The books file was refused whole (each problem named by line and field); nothing was imported."""

    code = "book_import_refused"
    status_code = 422
