from django.contrib import admin, messages

from onboarding.exceptions import MeridianError

from . import services
from .models import Allocation, Block, Broker, CashTransfer, Fill, FxOrder, Order, RebalanceRun, RunChunk


@admin.register(Broker)
class BrokerAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "priority", "effective_from", "is_active")
    list_filter = ("is_active",)
    search_fields = ("code", "name", "lei")


@admin.register(RebalanceRun)
class RebalanceRunAdmin(admin.ModelAdmin):
    list_display = ("key", "firm", "trade_date", "dry_run", "status", "created_at")
    list_filter = ("status", "dry_run", "trade_date")
    search_fields = ("key",)


@admin.register(RunChunk)
class RunChunkAdmin(admin.ModelAdmin):
    list_display = ("run", "number", "accounts", "orders", "fx_orders", "created_at")
    search_fields = ("run__key",)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("reference", "account", "listing", "side", "quantity", "currency", "status", "trade_date",
                    "settle_date", "broker", "block")
    list_filter = ("status", "side", "trade_date", "currency", "broker")
    search_fields = ("reference", "account__number", "listing__ticker")
    raw_id_fields = ("account", "custody_account", "listing", "block", "run")
    readonly_fields = ("status",)
    actions = ["approve_orders", "release_orders"]

    @admin.action(description="Approve the selected proposed orders")
    def approve_orders(self, request, queryset):
        try:
            count = services.orders_approve(order_ids=list(queryset.values_list("pk", flat=True)), actor=request.user)
        except MeridianError as exc:
            self.message_user(request, f"Nothing approved: {exc.message}", level=messages.ERROR)
            return
        self.message_user(request, f"{count} order(s) approved.")

    @admin.action(description="Release the selected approved orders whose market is open now")
    def release_orders(self, request, queryset):
        approved = queryset.filter(status="approved")
        total = 0
        skipped: list[str] = []
        held: list[str] = []
        try:
            report = services.orders_release(actor=request.user, order_ids=list(approved.values_list("pk", flat=True)))
            total += report.released
            skipped += [f"{s['market']}: {s['reason']}" for s in report.skipped_markets]
            held += [f"{h['reference']}: {h['reason']}" for h in report.held]
        except MeridianError as exc:
            self.message_user(request, f"Release refused: {exc.message}", level=messages.ERROR)
            return
        self.message_user(request, f"{total} order(s) released.")
        for line in sorted(set(skipped)) + held:
            self.message_user(request, line, level=messages.WARNING)


@admin.register(FxOrder)
class FxOrderAdmin(admin.ModelAdmin):
    list_display = ("reference", "account", "kind", "buy_currency", "buy_amount", "sell_currency", "sell_amount",
                    "value_date", "custody_account", "status")
    list_filter = ("kind", "status", "value_date")
    search_fields = ("reference", "account__number")
    raw_id_fields = ("account", "run", "custody_account")
    readonly_fields = ("status", "funds_orders")
    actions = ["approve_fx", "release_fx", "settle_fx"]

    @admin.display(description="Funds / netting")
    def funds_orders(self, obj):
        from .selectors import fx_funding

        if obj.pk is None:
            return "-"
        info = fx_funding([obj])[obj.pk]
        net = info["netting"]
        refs = ", ".join(f"{o['reference']} ({o['side']}, {o['status']})" for o in info["orders"]) or "no order"
        return (f"{refs}; {net['currency']} buys {net['buys']} less sells {net['sells']} = {net['net']} "
                f"against {net['fx_amount']} for value {net['value_date']}")

    def _each(self, request, queryset, call, verb):
        done = 0
        for fx in queryset.order_by("pk"):
            try:
                call(fx)
                done += 1
            except MeridianError as exc:
                self.message_user(request, f"{fx.reference}: {exc.message}", level=messages.ERROR)
        self.message_user(request, f"{done} FX order(s) {verb}.")

    @admin.action(description="Approve the selected FX orders (firm approval rules apply)")
    def approve_fx(self, request, queryset):
        try:
            n = services.fx_orders_approve(fx_order_ids=list(queryset.values_list("pk", flat=True)), actor=request.user)
        except MeridianError as exc:
            self.message_user(request, f"Nothing approved: {exc.message}", level=messages.ERROR)
            return
        self.message_user(request, f"{n} FX order(s) approved.")

    @admin.action(description="Release the selected approved FX orders")
    def release_fx(self, request, queryset):
        self._each(request, queryset, lambda fx: services.fx_order_release(fx_order=fx, actor=request.user), "released")

    @admin.action(description="Settle the selected released FX orders into the ledger")
    def settle_fx(self, request, queryset):
        self._each(request, queryset, lambda fx: services.fx_order_settle(fx_order=fx, actor=request.user), "settled")


@admin.register(CashTransfer)
class CashTransferAdmin(admin.ModelAdmin):
    list_display = ("reference", "account", "currency", "amount", "from_custody_account", "to_custody_account",
                    "value_date", "status")
    list_filter = ("status", "currency", "value_date")
    search_fields = ("reference", "account__number")
    raw_id_fields = ("account", "run", "from_custody_account", "to_custody_account")
    readonly_fields = ("status",)
    actions = ["approve_transfers", "settle_transfers"]

    @admin.action(description="Approve the selected cash transfers (firm approval rules apply)")
    def approve_transfers(self, request, queryset):
        try:
            n = services.cash_transfers_approve(transfer_ids=list(queryset.values_list("pk", flat=True)),
                                                actor=request.user)
        except MeridianError as exc:
            self.message_user(request, f"Nothing approved: {exc.message}", level=messages.ERROR)
            return
        self.message_user(request, f"{n} cash transfer(s) approved.")

    @admin.action(description="Settle the selected approved cash transfers into the ledger")
    def settle_transfers(self, request, queryset):
        done = 0
        for t in queryset.order_by("pk"):
            try:
                services.cash_transfer_settle(transfer=t, actor=request.user)
                done += 1
            except MeridianError as exc:
                self.message_user(request, f"{t.reference}: {exc.message}", level=messages.ERROR)
        self.message_user(request, f"{done} cash transfer(s) settled.")


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    list_display = ("reference", "listing", "broker", "side", "quantity", "filled_quantity", "average_price", "status")
    list_filter = ("status", "side", "broker", "trade_date")
    search_fields = ("reference", "listing__ticker")
    readonly_fields = ("status",)
    actions = ["cancel_blocks"]

    @admin.action(description="Cancel the selected blocks (only those with no fill)")
    def cancel_blocks(self, request, queryset):
        done = 0
        for block in queryset.order_by("pk"):
            try:
                services.block_cancel(block=block, actor=request.user, reason="cancelled in the admin")
                done += 1
            except MeridianError as exc:
                self.message_user(request, f"{block.reference}: {exc.message}", level=messages.ERROR)
        self.message_user(request, f"{done} block(s) cancelled.")


@admin.register(Fill)
class FillAdmin(admin.ModelAdmin):
    list_display = ("exec_id", "block", "quantity", "price", "executed_at", "venue")
    search_fields = ("exec_id", "block__reference")


@admin.register(Allocation)
class AllocationAdmin(admin.ModelAdmin):
    list_display = ("order", "block", "quantity", "average_price")
    search_fields = ("order__reference", "block__reference")
