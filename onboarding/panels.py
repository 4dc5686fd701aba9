"""Panels on onboarding's multi-app pages (the officer's review desk): the apps above onboarding
register what they show about a case (screening hits, the risk rating, tax forms), as they
register requirement providers, so onboarding imports none of them."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.safestring import SafeString


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    html: SafeString


# name -> (order, render(request, case, party_ids) -> Panel | None)
_desk_panels: dict[str, tuple[int, Callable[..., Panel | None]]] = {}


def register_desk_panel(name: str, render: Callable[..., Panel | None], *, order: int = 50) -> None:
    _desk_panels[name] = (order, render)


def desk_panels() -> dict[str, tuple[int, Callable[..., Panel | None]]]:
    return dict(_desk_panels)


def render_panels(request: Any, case: Any, party_ids: list[int]) -> list[Panel]:
    panels = []
    for _name, (_order, render) in sorted(_desk_panels.items(), key=lambda kv: (kv[1][0], kv[0])):
        panel = render(request, case, party_ids)
        if panel is not None:
            panels.append(panel)
    return panels
