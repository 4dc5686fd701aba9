"""Admin for accounts. The ledger is read-only here: corrections are reversals through services."""
from django.contrib import admin, messages

from onboarding.exceptions import MeridianError

from . import services
from .models import (
    Account,
    ApprovalPolicy,
    CashBalance,
    Custodian,
    CustodyAccount,
    CustodyCashAccount,
    Household,
    LotRelief,
    ModelOverride,
    ModelPortfolio,
    ModelSubscription,
    ModelTarget,
    Movement,
    Position,
    RebalancePolicy,
    Sleeve,
    TaxLot,
    Transaction,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Household)
class HouseholdAdmin(admin.ModelAdmin):
    list_display = ("name", "firm", "created_at")
    list_filter = ("firm",)
    search_fields = ("name",)


@admin.register(Custodian)
class CustodianAdmin(admin.ModelAdmin):
    list_display = ("name", "bic", "country", "file_formats", "csv_layout", "is_active")
    list_filter = ("country", "is_active")
    search_fields = ("name", "bic")
    filter_horizontal = ("markets",)


class CustodyAccountInline(admin.TabularInline):
    model = CustodyAccount
    extra = 0
    fields = ("custodian", "number", "is_active")


class SleeveInline(admin.TabularInline):
    model = Sleeve
    extra = 0


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["number", "name", "firm", "owner", "household", "base_currency", "booking_centre",
                    "booking_jurisdiction", "investor_type", "tax_status", "status"]
    list_filter = ("status", "firm", "base_currency", "booking_centre", "booking_jurisdiction", "investor_type", "tax_status")
    search_fields = ("number", "name", "owner__family_name", "owner__legal_name")
    raw_id_fields = ("owner", "household")
    readonly_fields = ("status", "opened_at", "closed_at", "created_at")
    inlines = (CustodyAccountInline, SleeveInline)
    actions = ("activate_accounts", "suspend_accounts")

    def _each(self, request, queryset, label, call):
        done = 0
        for account in queryset:
            try:
                call(account)
                done += 1
            except MeridianError as exc:
                self.message_user(request, f"{account.number}: {exc.message}", level=messages.ERROR)
        if done:
            self.message_user(request, f"{label} {done} account(s)")

    @admin.action(description="Activate (gated by the owner's relationship)")
    def activate_accounts(self, request, queryset):
        self._each(request, queryset, "Activated", lambda a: services.account_activate(account=a, actor=request.user))

    @admin.action(description="Suspend")
    def suspend_accounts(self, request, queryset):
        self._each(request, queryset, "Suspended",
                   lambda a: services.account_suspend(account=a, actor=request.user, reason="suspended in the admin"))


@admin.register(CustodyAccount)
class CustodyAccountAdmin(admin.ModelAdmin):
    list_display = ("number", "account", "custodian", "is_active")
    list_filter = ("custodian", "is_active")
    search_fields = ("number", "account__number")
    raw_id_fields = ("account",)
    filter_horizontal = ("markets",)


@admin.register(Sleeve)
class SleeveAdmin(admin.ModelAdmin):
    list_display = ("account", "name", "model", "target_weight", "is_active")
    search_fields = ("account__number", "name")
    raw_id_fields = ("account", "model")


class ModelTargetInline(admin.TabularInline):
    model = ModelTarget
    fk_name = "model"
    extra = 0
    raw_id_fields = ("instrument", "sleeve_model")


@admin.register(ModelPortfolio)
class ModelPortfolioAdmin(admin.ModelAdmin):
    list_display = ("code", "version", "name", "provider", "base_currency", "effective_from", "status", "source_file")
    list_filter = ("status", "provider", "base_currency")
    search_fields = ("code", "name", "provider")
    inlines = (ModelTargetInline,)


class ModelOverrideInline(admin.TabularInline):
    model = ModelOverride
    extra = 0
    raw_id_fields = ("instrument", "substitute")


@admin.register(ModelSubscription)
class ModelSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("account", "sleeve", "model", "follow_latest", "status", "start_date", "end_date")
    list_filter = ("status", "follow_latest")
    search_fields = ("account__number", "model__code")
    raw_id_fields = ("account", "sleeve", "model")
    inlines = (ModelOverrideInline,)


class MovementInline(admin.TabularInline):
    model = Movement
    extra = 0
    can_delete = False
    fields = ["leg", "custody_account", "sleeve", "instrument", "quantity", "is_short", "cash_purpose", "currency",
              "amount", "amount_base", "settle_date"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = ("pk", "account", "kind", "trade_date", "settle_date", "external_ref", "corporate_action_ref", "reverses")
    list_filter = ("kind",)
    search_fields = ("account__number", "external_ref", "corporate_action_ref", "description")
    date_hierarchy = "trade_date"
    inlines = (MovementInline,)


@admin.register(Movement)
class MovementAdmin(ReadOnlyAdmin):
    list_display = ["pk", "transaction", "account", "custody_account", "leg", "instrument", "quantity", "currency",
                    "amount", "trade_date", "settle_date"]
    list_filter = ("leg", "cash_purpose", "currency")
    search_fields = ("account__number", "instrument__isin")
    date_hierarchy = "settle_date"


@admin.register(TaxLot)
class TaxLotAdmin(ReadOnlyAdmin):
    list_display = ["pk", "account", "custody_account", "instrument", "acquisition_date", "quantity", "quantity_open",
                    "cost_local", "local_currency", "cost_base", "base_currency"]
    list_filter = ("local_currency",)
    search_fields = ("account__number", "instrument__isin")


@admin.register(LotRelief)
class LotReliefAdmin(ReadOnlyAdmin):
    list_display = ("lot", "movement", "quantity", "method", "cost_local", "proceeds_local", "cost_base", "proceeds_base")
    list_filter = ("method",)


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    list_display = ["account", "custody_account", "sleeve", "instrument", "basis", "quantity", "cost_local",
                    "local_currency", "as_of"]
    list_filter = ("basis", "local_currency")
    search_fields = ("account__number", "instrument__isin")


@admin.register(CashBalance)
class CashBalanceAdmin(ReadOnlyAdmin):
    list_display = ("account", "custody_account", "sleeve", "currency", "basis", "amount", "as_of")
    list_filter = ("basis", "currency")
    search_fields = ("account__number",)


@admin.register(ModelTarget)
class ModelTargetAdmin(admin.ModelAdmin):
    list_display = ("model", "instrument", "sleeve_model", "cash_currency", "weight")
    list_filter = ("model__code",)
    search_fields = ("model__code", "instrument__isin")
    raw_id_fields = ("model", "instrument", "sleeve_model")


@admin.register(ModelOverride)
class ModelOverrideAdmin(admin.ModelAdmin):
    list_display = ("subscription", "kind", "instrument", "substitute", "currency", "weight", "sell_if_held", "reason")
    list_filter = ("kind",)
    search_fields = ("subscription__account__number", "instrument__isin", "reason")
    raw_id_fields = ("subscription", "instrument", "substitute")


@admin.register(CustodyCashAccount)
class CustodyCashAccountAdmin(admin.ModelAdmin):
    list_display = ("number", "currency", "custody_account", "is_active")
    list_filter = ("currency", "is_active")
    search_fields = ("number", "custody_account__number")
    raw_id_fields = ("custody_account",)


@admin.register(ApprovalPolicy)
class ApprovalPolicyAdmin(admin.ModelAdmin):
    """The firm's approval rules; each change is audited with the fields changed."""

    list_display = ("firm", "proposer_may_approve", "auto_approve_fx", "order_limit", "deposit_limit", "sanity_limit",
                    "updated_at")
    readonly_fields = ("updated_at", "updated_by")
    raw_id_fields = ("firm",)

    def save_model(self, request, obj, form, change):
        from onboarding.audit import record_event

        obj.updated_by = request.user
        super().save_model(request, obj, form, change)
        record_event(subject=obj, event_type="approval_policy.changed", actor=request.user, firm=obj.firm,
                     detail={"fields": sorted(form.changed_data),
                             "values": {f: str(form.cleaned_data.get(f)) for f in sorted(form.changed_data)}})


@admin.register(RebalancePolicy)
class RebalancePolicyAdmin(admin.ModelAdmin):
    """The firm's rebalancing defaults (an account's own settings, then its model's, come first);
    each change is audited with the fields changed."""

    list_display = ("firm", "band_abs", "band_rel", "min_trade", "min_trade_currency", "min_improvement",
                    "trade_scope", "updated_at")
    readonly_fields = ("updated_at", "updated_by")
    raw_id_fields = ("firm",)

    def save_model(self, request, obj, form, change):
        from onboarding.audit import record_event

        obj.updated_by = request.user
        super().save_model(request, obj, form, change)
        record_event(subject=obj, event_type="rebalance_policy.changed", actor=request.user, firm=obj.firm,
                     detail={"fields": sorted(form.changed_data),
                             "values": {f: str(form.cleaned_data.get(f)) for f in sorted(form.changed_data)}})
