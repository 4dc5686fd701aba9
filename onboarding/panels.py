"""Panels: what upper apps add to pages that a lower app owns.

A page that shows several apps belongs to the lowest app it shows. That app names the panels
its page has (slots) and shows whatever the upper apps registered for them; it never imports
them. Upper apps register their providers in their AppConfig.ready(), as they register
requirement providers (onboarding.requirements). A slot nobody filled is shown as absent
("not available in this installation") or with the owning app's fallback.

`PanelRegistry` is the mechanism; each owning app declares its registries beside its views:
onboarding's `dashboard` and `case_page` here, accounts' `account_page` in accounts/panels.py.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

Provider = Callable[..., Any]


class PanelRegistry:
    """The slots of one page and the provider an upper app registered for each."""

    def __init__(self, page: str, slots: dict[str, str]) -> None:
        self.page = page
        self.slots = dict(slots)  # slot -> what its provider takes and returns
        self._providers: dict[str, Provider] = {}

    def register(self, slot: str, provider: Provider) -> None:
        if slot not in self.slots:
            raise KeyError(f"the {self.page} has no panel {slot!r} (it has {', '.join(sorted(self.slots))})")
        self._providers[slot] = provider

    def provider(self, slot: str) -> Provider | None:
        if slot not in self.slots:
            raise KeyError(f"the {self.page} has no panel {slot!r}")
        return self._providers.get(slot)

    def __contains__(self, slot: object) -> bool:
        return slot in self._providers


dashboard = PanelRegistry("advisor dashboard", {
    "tax_expiring": "(user) -> list of tax forms expiring soon, soonest first",
    "accounts_by_status": "(user) -> {status label: number of accounts}",
})

case_page = PanelRegistry("onboarding case", {
    "tax_forms": "(case) -> {'source', 'required': [...], 'on_file': [...]} (error: message)",
    "tax_capture": "TaxCapture: form_choices(case, tax_forms), statuses(), record(party, form_type, data, signed_on, actor)",
})
