"""The API's filter backend under the one tenant rule: a filter on a related object (?party=,
?account=, ?owner=...) accepts only ids the user may see, so another firm's id is answered
exactly like a missing id (400 "select a valid choice"), never with an empty 200 that confirms
it exists (issue 15)."""
from __future__ import annotations

from django.core.exceptions import FieldDoesNotExist
from django_filters import ModelChoiceFilter, ModelMultipleChoiceFilter
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.filters import SearchFilter

from ..selectors import scope_to_user

# How a related model reaches its firm, tried in order.
FIRM_PATHS = ("firm", "party__firm", "account__firm", "endpoint__firm", "custody_account__account__firm",
              "block__firm", "order__account__firm", "case__firm")


def firm_path(model) -> str | None:
    from django.contrib.auth import get_user_model

    if model is get_user_model():
        return "firm"
    for path in FIRM_PATHS:
        current = model
        try:
            for part in path.split("__"):
                current = current._meta.get_field(part).related_model
        except FieldDoesNotExist:
            continue
        if current is not None and current._meta.label == "onboarding.Firm":
            return path
    return None


def _not_a_list(view) -> bool:
    """Query-string filters narrow a list; a read or an action on one object (`get_object` also runs the
    filter backends) has nothing to narrow, so it skips building a filter set on every request (about a
    quarter of a case-status read's time, measured with pyinstrument)."""
    return getattr(view, "action", "list") not in ("list", None)


class TenantFilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request, queryset, view):
        if _not_a_list(view):
            return queryset
        return super().filter_queryset(request, queryset, view)

    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is None:
            return None
        for name, flt in filterset.filters.items():
            if not isinstance(flt, (ModelChoiceFilter, ModelMultipleChoiceFilter)):
                continue
            field = filterset.form.fields.get(name)
            if field is None or getattr(field, "queryset", None) is None:
                continue
            model = field.queryset.model
            path = firm_path(model)
            if model._meta.label == "onboarding.Firm":
                field.queryset = scope_to_user(field.queryset, request.user, firm_field="pk")
            elif path is not None:
                field.queryset = scope_to_user(field.queryset, request.user, firm_field=path)
        return filterset


BOOLEAN_VALUES = {"true", "false", "True", "False"}


class StrictFilterBackend(TenantFilterBackend):
    """The tenant rule above, and strict: a filter the schema documents as an enum or a boolean refuses what
    is not one of its values (400 validation_failed naming the parameter) instead of silently ignoring it and
    answering the unfiltered list (found by the contract run, tests/api/test_contract_findings.py)."""

    def get_filterset(self, request, queryset, view):
        import django_filters

        from ..exceptions import ValidationFailed

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
            elif isinstance(flt, (django_filters.ChoiceFilter, ModelChoiceFilter)) and raw == "":
                errors[name] = ["must be one of the documented values"]
            elif isinstance(flt, (django_filters.DateFilter, django_filters.DateTimeFilter,
                                  django_filters.NumberFilter)) and raw == "":
                errors[name] = ["must not be empty"]  # documented as a date or a number, not as optional text
        if errors:
            raise ValidationFailed("a filter parameter is not valid", detail=errors)
        return filterset


class DocumentedSearchFilter(SearchFilter):
    """`?search=` documented only on the lists that search (those with `search_fields`), naming what it
    searches; a list without them does not offer a parameter it would ignore (issue 18)."""

    def filter_queryset(self, request, queryset, view):
        if _not_a_list(view):
            return queryset
        return super().filter_queryset(request, queryset, view)

    def get_schema_operation_parameters(self, view):
        fields = getattr(view, "search_fields", None)
        if not fields:
            return []
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            readable = ", ".join(f.lstrip("^=@$").replace("__", " ") for f in fields)
            parameter["description"] = f"Case-insensitive search in: {readable}."
        return parameters
