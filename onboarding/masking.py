"""The one masking rule (issue 15). Sensitive values -- tax identification numbers, identity
document numbers, dates of birth, documents -- are shown masked everywhere (pages, API, PDFs,
exports) unless revealed through an audited reveal action by a role that may see them.

`may_reveal(user)` is the role rule; `mask_sensitive(data)` masks a JSON-like structure by key;
`crypto.mask` masks one value. The reveal actions (party reveal, tax-form PDF reveal, case file
reveal) check `may_reveal` and write an audit event before they return anything in full."""
from __future__ import annotations

import re
from typing import Any

from .crypto import mask
from .models import Role

REVEAL_ROLES = frozenset({Role.ADVISOR, Role.FIRM_ADMIN, Role.COMPLIANCE_OFFICER})
# Keys whose values are sensitive wherever they appear in form data: tin, us_tin, foreign_tin,
# ssn, itin, ein, date_of_birth, passport_number, national_id...
SENSITIVE_KEY = re.compile(r"(^|_)(tin|ftin|ssn|itin|ein|date_of_birth|dob|birth_date|passport(_number)?|"
                           r"national_id(_number)?|identifier|id_number)$", re.IGNORECASE)

DATE_KEY = re.compile(r"(date_of_birth|dob|birth_date)$", re.IGNORECASE)


def may_reveal(user) -> bool:
    """Whether `user`'s role may see sensitive values in full (through an audited reveal)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return bool(user.is_superuser or user.role in REVEAL_ROLES)


def mask_sensitive(data: Any) -> Any:
    """A copy of `data` with the value of every sensitive key masked (recursively)."""
    if isinstance(data, dict):
        return {key: (_mask_any(value, whole=bool(DATE_KEY.search(key)))
                      if isinstance(key, str) and SENSITIVE_KEY.search(key) else mask_sensitive(value))
                for key, value in data.items()}
    if isinstance(data, list):
        return [mask_sensitive(item) for item in data]
    return data


def _mask_any(value: Any, *, whole: bool = False) -> Any:
    if value in (None, ""):
        return value
    if isinstance(value, (dict, list)):
        return mask_sensitive(value)
    return "•" * len(str(value)) if whole else mask(str(value))  # dates: nothing kept, not even the day
