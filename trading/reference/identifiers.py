"""Validators for security and institution identifiers, all backed by python-stdnum.

Each validator normalises nothing: it refuses a value that is not already in compact form, so
what is stored is what was checked."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from stdnum import bic, cusip, figi, isin, lei
from stdnum.gb import sedol

_CHECKERS = {
    "ISIN": isin,
    "CUSIP": cusip,
    "SEDOL": sedol,
    "FIGI": figi,
    "LEI": lei,
    "BIC": bic,
}


def is_valid(kind: str, value: str) -> bool:
    module = _CHECKERS[kind]
    return bool(value) and module.compact(value) == value and module.is_valid(value)


def _validator(kind: str):
    def validate(value: str) -> None:
        if value and not is_valid(kind, value):
            raise ValidationError(f"{value!r} is not a valid {kind}", code=f"invalid_{kind.lower()}")

    validate.__name__ = f"validate_{kind.lower()}"
    validate.__qualname__ = validate.__name__
    return validate


validate_isin = _validator("ISIN")
validate_cusip = _validator("CUSIP")
validate_sedol = _validator("SEDOL")
validate_figi = _validator("FIGI")
validate_lei = _validator("LEI")
validate_bic = _validator("BIC")
