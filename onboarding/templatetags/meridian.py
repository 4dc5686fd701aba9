"""Template filters that put words where codes would be: audit events, states, countries."""
from __future__ import annotations

import pycountry
from django import template

from onboarding import labels

register = template.Library()


@register.filter
def describe(event) -> str:
    return labels.describe(event)


@register.filter
def event_label(event_type: str) -> str:
    return labels.event_label(event_type)


@register.filter
def state_label(state: str, subject_type: str = "") -> str:
    return labels.state_label(subject_type, state)


@register.filter
def country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=(code or "").upper()) if code else None
    return f"{country.name} ({code})" if country else (code or "")


@register.filter
def countries(codes) -> str:
    return ", ".join(country_name(c) for c in (codes or [])) or "—"
