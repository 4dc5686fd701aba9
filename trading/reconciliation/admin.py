from django.contrib import admin

from .models import (
    BookCash,
    BookCorporateAction,
    BookPendingTrade,
    BookPosition,
    Break,
    BreakNote,
    CustodianFile,
    DailyRun,
    InstrumentIdentifier,
    ReconRun,
    RuleSet,
    StatementBalance,
)


@admin.register(RuleSet)
class RuleSetAdmin(admin.ModelAdmin):
    list_display = ("kind", "code", "version", "effective_from", "source", "loaded_at")
    list_filter = ("kind",)
    search_fields = ("code", "source")


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
