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


# What the header calls the site, by the signed-in user's role (never "advisor portal" to an officer).
SITE_NAMES = {"advisor": "advisor portal", "firm_admin": "firm administration", "operations": "operations",
              "compliance_officer": "compliance review desk"}


@register.filter
def site_name(user) -> str:
    if not getattr(user, "is_authenticated", False):
        return "client onboarding and operations"
    if user.is_superuser and not user.firm_id:
        return "administration and review desk"
    return SITE_NAMES.get(user.role, "portal")


@register.filter
def document_kind(content_type: str) -> str:
    """A file's type in words ("PDF document"), never its MIME type."""
    from onboarding.labels import document_kind as label

    return label(content_type)


@register.filter
def local_datetime(value) -> str:
    """An aware datetime in the site's local time, as people write it: 3 Mar 2026, 14:05."""
    if not value:
        return ""
    from django.utils import timezone
    from django.utils.dateformat import format as date_format

    return date_format(timezone.localtime(value), "j M Y, H:i")
