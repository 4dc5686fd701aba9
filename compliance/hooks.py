"""What compliance registers with onboarding: a requirement provider (live screening alerts
block approval), an activation check (a confirmed match blocks account actions) and a case
hook (screen and rate on submission; re-screen on a change of party data or ownership)."""
from __future__ import annotations

from typing import Any

from onboarding.requirements import (
    Outstanding,
    register_activation_check,
    register_case_hook,
    register_provider,
)

SOURCE = "Meridian screening policy: no approval while a possible sanctions/PEP match is unresolved"


def screening_outstanding(case: Any) -> list[Outstanding]:
    """Live or confirmed alerts on the case's parties. The reason never names the list or the
    entry: firm users see it."""
    from .models import AlertState, ScreeningAlert
    from .selectors import case_party_ids

    items = []
    alerts = (ScreeningAlert.objects.filter(party_id__in=case_party_ids(case))
              .exclude(state=AlertState.CLEARED)
              .exclude(state=AlertState.CONFIRMED, is_pep=True)  # a confirmed PEP means EDD, not a refusal
              .select_related("party").order_by("pk"))
    for alert in alerts:
        confirmed = alert.state == AlertState.CONFIRMED
        items.append(Outstanding(
            code="screening.confirmed_match" if confirmed else "screening.alert_open",
            subject=f"party:{alert.party_id}",
            reason=(f"{alert.party.display_name}: compliance has declined this party" if confirmed else
                    f"{alert.party.display_name}: a possible screening match is being reviewed by compliance"),
            category="screening",
            source=SOURCE,
            detail={"alert": alert.pk, "state": alert.state},
        ))
    return items


def confirmed_match_check(relationship: Any) -> list[str]:
    from .models import AlertState, ScreeningAlert

    if ScreeningAlert.objects.filter(party_id=relationship.party_id, state=AlertState.CONFIRMED,
                                     is_pep=False).exists():
        return ["compliance has declined this client"]
    return []


def on_case_event(case_or_party: Any, event: str) -> None:
    from . import tasks

    if event == "submitted":
        tasks.screen_case.delay(case_or_party.pk)
    elif event == "party_changed":
        tasks.party_changed.delay(case_or_party.pk)
    elif event == "ownership_changed":
        tasks.ownership_changed.delay(case_or_party.pk)


def register() -> None:
    from onboarding.requirements import register_screening_lists

    from .screening.importers import SOURCES

    register_screening_lists(SOURCES)
    register_provider("compliance.screening", screening_outstanding)
    register_activation_check("compliance.screening", confirmed_match_check)
    register_case_hook("compliance.screening", on_case_event)
