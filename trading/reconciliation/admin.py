from django import forms
from django.contrib import admin

from . import services
from .exceptions import UnknownFormat
from .models import (
    BookCash,
    BookCorporateAction,
    BookImport,
    BookPendingTrade,
    BookPosition,
    Break,
    BreakNote,
    CustodianFile,
    CustodianFormat,
    DailyRun,
    InstrumentIdentifier,
    ReconRun,
    RuleKind,
    RuleSet,
    StatementBalance,
)
from .parsers.layouts import LayoutError, validate_layout


class RuleSetForm(forms.ModelForm):
    class Meta:
        model = RuleSet
        fields = ("kind", "code", "source", "effective_from", "spec", "note")

    def clean(self):
        data = super().clean()
        kind = data.get("kind") or self.instance.kind
        code = data.get("code") or self.instance.code
        if kind == RuleKind.LAYOUT and isinstance(data.get("spec"), dict):
            try:
                validate_layout(data["spec"], name=code or "layout")
            except LayoutError as exc:
                raise forms.ValidationError({"spec": str(exc)}) from None
            if data["spec"].get("code") != code:
                raise forms.ValidationError({"spec": "the layout's code must be the rule set's code"})
        return data


@admin.register(RuleSet)
class RuleSetAdmin(admin.ModelAdmin):
    """Layouts, tolerances and SLA rules. A saved change is a new version beside the old one
    (who and when kept, audited); versions are never edited in place or deleted."""

    form = RuleSetForm
    list_display = ("kind", "code", "version", "effective_from", "source", "created_by", "loaded_at")
    list_filter = ("kind",)
    search_fields = ("code", "source")
    readonly_fields = ("version", "sha256", "created_by", "loaded_at")

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "kind", "code") if obj else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            previous = RuleSet.objects.get(pk=obj.pk)
            new = services.ruleset_new_version(previous=previous, spec=data["spec"], source=data["source"],
                                               effective_from=data["effective_from"], actor=request.user,
                                               note=data.get("note", ""))
        else:
            new = services.ruleset_add(kind=data["kind"], code=data["code"], spec=data["spec"], source=data["source"],
                                       effective_from=data["effective_from"], actor=request.user,
                                       note=data.get("note", ""))
        obj.pk, obj.version = new.pk, new.version


class CustodianFormatForm(forms.ModelForm):
    class Meta:
        model = CustodianFormat
        fields = ("custodian_code", "format", "file_pattern", "active", "source", "effective_from", "note")

    def clean(self):
        data = super().clean()
        if data.get("format") and data.get("active", True):
            try:
                services.check_format(data["format"])
            except UnknownFormat as exc:
                raise forms.ValidationError({"format": exc.message}) from None
        return data


@admin.register(CustodianFormat)
class CustodianFormatAdmin(admin.ModelAdmin):
    """Which formats each custodian sends. A saved change (or switching a format off) is a new
    version, with who and when, audited; versions are never edited in place or deleted."""

    form = CustodianFormatForm
    list_display = ("custodian_code", "format", "file_pattern", "active", "version", "effective_from", "created_by",
                    "created_at")
    list_filter = ("custodian_code", "active")
    search_fields = ("custodian_code", "format")
    readonly_fields = ("version", "created_by", "created_at")

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "custodian_code", "format") if obj else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        code = obj.custodian_code if change else data["custodian_code"]
        fmt = obj.format if change else data["format"]
        new = services.custodian_format_set(custodian_code=code, fmt=fmt, file_pattern=data.get("file_pattern", ""),
                                            active=data.get("active", True), source=data.get("source", ""),
                                            effective_from=data["effective_from"], actor=request.user,
                                            note=data.get("note", ""))
        obj.pk, obj.version = new.pk, new.version


@admin.register(CustodianFile)
class CustodianFileAdmin(admin.ModelAdmin):
    list_display = ("custodian_code", "name", "format", "kind", "as_of", "size", "received_at")
    list_filter = ("custodian_code", "format", "kind")
    search_fields = ("name", "sha256")
    readonly_fields = ("sha256", "stored_path", "checks")


@admin.register(StatementBalance)
class StatementBalanceAdmin(admin.ModelAdmin):
    list_display = ("custody_account", "currency", "statement_number", "opening", "closing", "closing_date")
    search_fields = ("custody_account",)


@admin.register(DailyRun)
class DailyRunAdmin(admin.ModelAdmin):
    list_display = ("as_of", "status", "started_at", "finished_at")
    list_filter = ("status",)


@admin.register(ReconRun)
class ReconRunAdmin(admin.ModelAdmin):
    list_display = ("pk", "custodian_code", "as_of", "engine", "status", "started_at", "finished_at")
    list_filter = ("custodian_code", "status", "engine")


class BreakNoteInline(admin.TabularInline):
    model = BreakNote
    extra = 0
    readonly_fields = ("author", "text", "created_at")


@admin.register(Break)
class BreakAdmin(admin.ModelAdmin):
    """Read-only here: every state change goes through the services (and the audit trail)."""

    list_display = ("priority", "kind", "custodian_code", "custody_account", "instrument_id", "identifier",
                    "amount_base", "state", "owner", "first_seen", "last_seen", "due_at")
    list_filter = ("state", "kind", "custodian_code", "priority", "explained")
    search_fields = ("custody_account", "identifier", "key")
    inlines = [BreakNoteInline]

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(InstrumentIdentifier)
class InstrumentIdentifierAdmin(admin.ModelAdmin):
    list_display = ("kind", "value", "custodian_code", "instrument_id", "quantity_factor")
    list_filter = ("kind",)
    search_fields = ("value",)


@admin.register(BookPosition)
class BookPositionAdmin(admin.ModelAdmin):
    list_display = ("custodian_code", "custody_account", "instrument_id", "quantity", "price", "price_currency")
    list_filter = ("custodian_code",)
    search_fields = ("custody_account",)


@admin.register(BookCash)
class BookCashAdmin(admin.ModelAdmin):
    list_display = ("custodian_code", "custody_account", "currency", "amount")
    list_filter = ("custodian_code", "currency")


@admin.register(BookPendingTrade)
class BookPendingTradeAdmin(admin.ModelAdmin):
    list_display = ("custodian_code", "custody_account", "instrument_id", "quantity", "trade_date", "settle_date")


@admin.register(BookCorporateAction)
class BookCorporateActionAdmin(admin.ModelAdmin):
    """Corporate-action events: announced and confirmed ones are entered here (or loaded with
    `corporate_actions_load`); every change is audited."""

    list_display = ("instrument_id", "effective_date", "ratio", "status", "description", "reference")
    list_filter = ("status",)

    def save_model(self, request, obj, form, change):
        from onboarding.audit import record_event

        super().save_model(request, obj, form, change)
        record_event(subject=obj, event_type="recon.corporate_action_saved", actor=request.user,
                     detail={"status": obj.status, "ratio": str(obj.ratio), "changed": list(form.changed_data)})


@admin.register(BookImport)
class BookImportAdmin(admin.ModelAdmin):
    """Books files imported (`book_import`): read-only, the ledger holds what they posted."""

    list_display = ("name", "as_of", "counts", "created_by", "created_at")
    readonly_fields = ("sha256", "name", "as_of", "counts", "created_by", "created_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
