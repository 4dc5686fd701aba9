"""The tax documents this app knows, with their display names."""
from __future__ import annotations

FORM_TYPES: dict[str, str] = {
    "W9": "Form W-9",
    "W8BEN": "Form W-8BEN",
    "W8BENE": "Form W-8BEN-E",
    "W8IMY": "Form W-8IMY",
    "W8ECI": "Form W-8ECI",
    "CRS_IND": "CRS self-certification (individual)",
    "CRS_ENT": "CRS self-certification (entity)",
    "CRS_CP": "CRS self-certification (controlling person)",
}

W8_FORMS = frozenset({"W8BEN", "W8BENE", "W8IMY", "W8ECI"})
US_FORMS = W8_FORMS | {"W9"}
CRS_FORMS = frozenset({"CRS_IND", "CRS_ENT", "CRS_CP"})
ENTITY_FORMS = frozenset({"W8BENE", "W8IMY", "CRS_ENT"})
