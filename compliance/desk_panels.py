"""What compliance shows on the officer's review desk: the screening hits of the case's parties
with their explanation in words and the actions on them, and the risk rating with its factor
breakdown. Registered with onboarding's panel registry."""
from __future__ import annotations

from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse

from onboarding.labels import humanize
from onboarding.panels import Panel, review_desk

FEATURES = {"name": "name", "identifier": "identifier", "dob": "date of birth", "dob_day": "day of birth",
            "dob_year": "year of birth", "country": "country"}


def _value(value) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def explanation_in_words(explanation: dict) -> list[str]:
    """A screening hit's explanation as sentences a reviewer reads (the matcher's structured
    explanation: what matched and what conflicts)."""
    try:
        from .screening.explain import explanation_sentences  # the screening work's own wording, when present
    except ImportError:
        explanation_sentences = None
    if explanation_sentences is not None:
        return list(explanation_sentences(explanation))
    lines = []
    for item in (explanation or {}).get("matched", []):
        feature = FEATURES.get(item.get("feature"), item.get("feature", ""))
        if item.get("feature") == "name":
            weak = " (a weak alias)" if item.get("weak_alias") else ""
            lines.append(f"Name matches: \u201c{item.get('query', '')}\u201d against the listed \u201c{item.get('listed', '')}\u201d{weak}.")
        elif "listed" in item:
            lines.append(f"The {feature} matches: {_value(item.get('query', ''))} is listed ({_value(item['listed'])}).")
        else:
            lines.append(f"The {feature} matches: {_value(item.get('value', ''))}.")
    for item in (explanation or {}).get("conflicts", []):
        feature = FEATURES.get(item.get("feature"), item.get("feature", ""))
        lines.append(f"The {feature} differs: the client's is {_value(item.get('query', ''))}, "
                     f"the list has {_value(item.get('listed', ''))}.")
    if "name_score" in (explanation or {}):
        lines.append(f"Name similarity {float(explanation['name_score']):.0%}.")
    return lines


def _admin_url(name: str, pk: int) -> str:
    try:
        return reverse(name, args=[pk])
    except NoReverseMatch:
        return ""


def screening_panel(request, case, party_ids):
    from .models import ScreeningAlert

    alerts = list(ScreeningAlert.objects.filter(party_id__in=party_ids).select_related("party")
                  .order_by("state", "-score", "pk")[:50])
    rows = [{"alert": a, "party": a.party.display_name, "source": a.get_source_display(), "state": a.get_state_display(),
             "score": f"{float(a.score):.0%}", "why": explanation_in_words(a.explanation),
             "open": a.state in ("open", "under_review", "escalated"),
             "url": _admin_url("admin:compliance_screeningalert_change", a.pk)} for a in alerts]
    open_count = sum(1 for r in rows if r["open"])
    html = render_to_string("desk/_screening_panel.html", {"rows": rows, "open_count": open_count}, request=request)
    return Panel("screening", f"Screening hits ({open_count} open)", html)


def risk_panel(request, case, party_ids):
    from .models import RiskAssessment

    assessment = (RiskAssessment.objects.filter(case=case).select_related("model").first()
                  or RiskAssessment.objects.filter(party_id=case.party_id).select_related("model").first())
    groups = []
    if assessment is not None:
        detail = assessment.factors or {}
        for gname, group in (detail.get("groups") or {}).items():
            groups.append({"name": humanize(gname), "score": group.get("score"), "weight": group.get("weight"),
                           "factors": [{"name": humanize(f), "score": s} for f, s in (group.get("factors") or {}).items()]})
        floors = [{"factor": humanize(f.get("factor", "")), "level": f.get("level", ""), "source": f.get("source", "")}
                  for f in detail.get("floors", [])]
    else:
        floors = []
    html = render_to_string("desk/_risk_panel.html", {"assessment": assessment, "groups": groups, "floors": floors,
                                                      "case": case}, request=request)
    return Panel("risk", "Risk rating", html)


def register() -> None:
    review_desk.register("screening", screening_panel)
    review_desk.register("risk", risk_panel)
