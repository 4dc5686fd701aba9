"""Admin for tax documentation. Forms are read-only records here: actions call the services
(validate again, invalidate); treaty rates and withholding rules are editable rule rows."""
from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages

from onboarding.crypto import mask
from onboarding.exceptions import MeridianError

from . import selectors, services
from .models import (
    FormRule,
    ReportingInstitution,
    TaxForm,
    TaxReportRun,
    TreatyRate,
    WithholdingRule,
    WithholdingStatus,
)

SENSITIVE_KEYS = ("tin", "date_of_birth", "birth_date")


def mask_sensitive(value: Any, key: str = "") -> Any:
    """Mask TINs and dates of birth anywhere in form data."""
    if isinstance(value, dict):
        return {k: mask_sensitive(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_sensitive(v, key) for v in value]
    if value and any(key == s or key.endswith("_" + s) for s in SENSITIVE_KEYS):
        return mask(str(value))
    return value


class ExpiringFilter(admin.SimpleListFilter):
    title = "expiry"
    parameter_name = "expiring"

    def lookups(self, request, model_admin):
        return [("soon", "Expires within the warning window")]

    def queryset(self, request, queryset):
        if self.value() == "soon":
            return queryset.filter(pk__in=selectors.forms_expiring().values("pk"))
        return queryset


@admin.register(TaxForm)
class TaxFormAdmin(admin.ModelAdmin):
    list_display = ("id", "form_type", "party", "related_party", "status", "signed_on", "valid_until", "firm")
    list_filter = ("form_type", "status", ExpiringFilter, "firm", "chapter4_status")
    search_fields = ("party__given_names", "party__family_name", "party__legal_name")
    date_hierarchy = "signed_on"
    raw_id_fields = ("party", "related_party", "captured_by")
    exclude = ("data", "party_snapshot")
    readonly_fields = (
        "firm", "party", "related_party", "form_type", "data_masked", "signed_on", "valid_until", "status",
        "chapter3_status", "chapter4_status", "treaty_country", "treaty_income_types", "certified_tin",
        "exempt_payee", "indicia", "cure_documents", "validation_errors", "status_reason",
        "expiry_notified_on", "captured_by", "created_at", "updated_at",
    )
    actions = ["validate_again", "invalidate"]

    def has_add_permission(self, request) -> bool:  # forms come in through tax_form_capture
        return False

    @admin.display(description="Form data (TINs and dates of birth masked)")
    def data_masked(self, obj: TaxForm) -> str:
        return json.dumps(mask_sensitive(obj.data), indent=2, sort_keys=True)

    @admin.action(description="Validate again")
    def validate_again(self, request, queryset):
        for form in queryset:
            try:
                form = services.tax_form_validate(form=form, actor=request.user)
                self.message_user(request, f"Form {form.pk}: {form.status}")
            except MeridianError as exc:
                self.message_user(request, f"Form {form.pk}: {exc.message}", level=messages.ERROR)

    @admin.action(description="Invalidate (change in circumstances)")
    def invalidate(self, request, queryset):
        for form in queryset:
            try:
                services.tax_form_invalidate(form=form, actor=request.user,
                                             reason="invalidated by a compliance officer in the admin")
            except MeridianError as exc:
                self.message_user(request, f"Form {form.pk}: {exc.message}", level=messages.ERROR)


class RuleRowAdmin(admin.ModelAdmin):
    """Rule rows are editable by compliance officers; every save is audited by the service."""

    def save_model(self, request, obj, form, change):
        services.tax_rule_row_save(row=obj, actor=request.user, changed=list(form.changed_data))


@admin.register(TreatyRate)
class TreatyRateAdmin(RuleRowAdmin):
    list_display = ("country", "income_type", "article", "rate", "effective_from", "effective_to", "is_active", "source")
    list_filter = ("income_type", "is_active", "country")
    search_fields = ("country", "article", "source")


@admin.register(WithholdingRule)
class WithholdingRuleAdmin(RuleRowAdmin):
    list_display = ("priority", "code", "rate", "conditions", "effective_from", "is_active", "source")
    list_filter = ("is_active",)
    search_fields = ("code", "description", "source")


@admin.register(FormRule)
class FormRuleAdmin(RuleRowAdmin):
    list_display = ("position", "code", "form_type", "conditions", "per", "effective_from", "is_active")
    list_filter = ("form_type", "is_active")
    search_fields = ("code", "reason", "source")


@admin.register(ReportingInstitution)
class ReportingInstitutionAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "country", "giin", "tin")
    search_fields = ("code", "name", "giin", "tin")
    list_filter = ("country",)


@admin.register(TaxReportRun)
class TaxReportRunAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "year", "institution", "receiving_country", "accounts_reported",
                    "message_ref_id")
    list_filter = ("kind", "year", "receiving_country")
    search_fields = ("message_ref_id",)
    readonly_fields = [f.name for f in TaxReportRun._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(WithholdingStatus)
class WithholdingStatusAdmin(admin.ModelAdmin):
    list_display = ("party", "basis", "form", "reason", "updated_at")
    list_filter = ("basis",)
    search_fields = ("party__given_names", "party__family_name", "party__legal_name")
    readonly_fields = ("party", "firm", "basis", "form", "reason", "updated_at")
