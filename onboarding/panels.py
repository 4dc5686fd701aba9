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
from dataclasses import dataclass
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
    "next_steps": "(case, user) -> list of NextStep: what follows an approval (open an account, fund it, ...)",
    "tax_forms": "(case) -> {'source', 'required': [...], 'on_file': [...]} (error: message)",
    "tax_capture": "TaxCapture: form_choices(case, tax_forms), statuses(), record(party, form_type, data, signed_on, actor)",
})


@dataclass(frozen=True)
class NextStep:
    """One step after approval, in words, with the page where it is taken ('' where this user
    does not take it) and whether it is done."""

    label: str
    done: bool
    url: str = ""
    hint: str = ""


def next_steps(case: Any, user: Any) -> list[NextStep]:
    """What follows the approval of `case`, in order; the first step not done is the next one.
    Nothing before approval; the accounts app says which accounts steps there are."""
    if case.state != "approved":
        return []
    provider = case_page.provider("next_steps")
    if provider is None:
        return [NextStep("Open an account for the client", False, "", "Not available in this installation.")]
    steps: list[NextStep] = provider(case, user)
    return steps


def next_steps_context(case: Any, user: Any) -> dict[str, Any]:
    """The template context of `portal/_next_steps.html`: the steps and the index of the next one."""
    steps = next_steps(case, user)
    index = next((i for i, step in enumerate(steps) if not step.done), -1)
    return {"next_steps": steps, "next_index": index}


class Panel:
    """What a review-desk provider returns: a section of the case page, rendered by its app."""

    def __init__(self, key: str, title: str, html: Any) -> None:
        self.key, self.title, self.html = key, title, html


review_desk = PanelRegistry("officer's review desk", {
    "screening": "(request, case, party_ids) -> Panel: screening hits with their explanation and actions",
    "risk": "(request, case, party_ids) -> Panel: the risk rating with its factor breakdown",
    "tax_forms": "(request, case, party_ids) -> Panel: forms needed, forms on file and their validity",
})

DESK_ORDER = ("screening", "risk", "tax_forms")


def render_desk_panels(request: Any, case: Any, party_ids: list[int]) -> list[Panel]:
    """The desk's panels in order; a slot nobody filled says so rather than vanishing."""
    panels = []
    for slot in DESK_ORDER:
        provider = review_desk.provider(slot)
        if provider is None:
            panels.append(Panel(slot, slot.replace("_", " ").capitalize(), "Not available in this installation."))
            continue
        panel = provider(request, case, party_ids)
        if panel is not None:
            panels.append(panel)
    return panels
