"""The advisor portal: server-rendered pages over `onboarding.services` (writes) and
`onboarding.selectors` (reads). Views hold no business rules: they turn form input into a
service call and put a service's error back next to the field it names. Every page is scoped
to the signed-in user's firm; another firm's case is a 404.

One module per page group: `dashboard`, `wizard` (new client and the onboarding steps, the tax
step in `tax_step`), `cases` (the case page, withdrawal), `live_validation`; `common` holds what
they share. What other apps show on these pages comes through the panels they register
(onboarding/panels.py); onboarding imports no other app.
"""
from .cases import case_detail, case_withdraw
from .dashboard import dashboard
from .live_validation import validate_field
from .wizard import client_new, ownership_remove, wizard_resume, wizard_step

__all__ = [
    "case_detail",
    "case_withdraw",
    "client_new",
    "dashboard",
    "ownership_remove",
    "validate_field",
    "wizard_resume",
    "wizard_step",
]
