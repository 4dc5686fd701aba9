"""The filter backend of the API: django-filter, strict. A filter parameter the schema documents as an enum or
a boolean refuses what is not one of its values (400 validation_failed naming the parameter) instead of
silently ignoring it and answering the unfiltered list."""
from __future__ import annotations

import django_filters
from django_filters.rest_framework import DjangoFilterBackend

from ..exceptions import ValidationFailed

BOOLEAN_VALUES = {"true", "false", "True", "False"}


class StrictFilterBackend(DjangoFilterBackend):
    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is None:
            return None
        errors: dict[str, list[str]] = {}
        for name, flt in filterset.filters.items():
            if name not in request.query_params:
                continue
            raw = request.query_params.get(name)
            if isinstance(flt, django_filters.BooleanFilter) and raw not in BOOLEAN_VALUES:
                errors[name] = ["must be true or false"]
            elif isinstance(flt, (django_filters.ChoiceFilter, django_filters.ModelChoiceFilter)) and raw == "":
                errors[name] = ["must be one of the documented values"]
        if errors:
            raise ValidationFailed("a filter parameter is not valid", detail=errors)
        return filterset
