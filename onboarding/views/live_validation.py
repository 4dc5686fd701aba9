"""Live validation of a form field (country, identifier) as the advisor types."""
from __future__ import annotations

import pycountry
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html
from django.views.decorators.http import require_GET

from ..exceptions import MeridianError
from ..validation import validate_country, validate_identifier
from .common import IDENTIFIER_CHECKS, portal_view


@portal_view
@require_GET
def validate_field(request: HttpRequest) -> HttpResponse:
    """A message fragment for live validation: `check` is country or an identifier kind, `field`
    names the input holding the value, `country_field` the input holding the issuing country
    (`check_field` names an input holding the kind, for a select of identifier kinds)."""
    check = request.GET.get("check") or request.GET.get(request.GET.get("check_field", ""), "")
    value = request.GET.get(request.GET.get("field", "value"), "")
    country = request.GET.get(request.GET.get("country_field", "country"), "")
    if not value.strip():
        return HttpResponse("")
    try:
        if check == "country":
            code = validate_country(value)
            name = pycountry.countries.get(alpha_2=code).name
            return HttpResponse(format_html('<span class="ok">✓ {} ({})</span>', name, code))
        if check == "countries":
            codes = [validate_country(part.strip(), field="nationalities") for part in value.split(",") if part.strip()]
            return HttpResponse(format_html('<span class="ok">✓ {}</span>', ", ".join(codes)))
        if check in IDENTIFIER_CHECKS:
            result = validate_identifier(check, country, value)
            how = "checksum verified" if result.validator.startswith("stdnum") else "format checked"
            return HttpResponse(format_html('<span class="ok">✓ {} ({})</span>', result.value, how))
    except MeridianError as exc:
        head, sep, rest = exc.message.partition(": ")
        message = rest if sep and " " not in head.strip() else exc.message
        return HttpResponse(format_html('<span class="error">{}</span>', message))
    return HttpResponse(format_html('<span class="error">{}</span>', f"cannot check '{check}'"), status=400)
