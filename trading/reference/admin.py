from django.contrib import admin

from .models import (
    Currency,
    EligibilityRule,
    FxRate,
    Instrument,
    Issuer,
    Listing,
    Market,
    Price,
    SettlementCycle,
)
from .services import rule_row_save


@admin.register(Currency)
class CurrencyAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "holiday_calendar", "source")
    search_fields = ("code", "name")


@admin.register(Market)
class MarketAdmin(admin.ModelAdmin):
    list_display = ("mic", "name", "country", "time_zone", "open_time", "close_time", "calendar_code", "settlement_currency", "is_otc")
    list_filter = ("country", "settlement_currency", "is_otc")
    search_fields = ("mic", "name")


@admin.register(Issuer)
class IssuerAdmin(admin.ModelAdmin):
    list_display = ("name", "country", "lei")
    list_filter = ("country",)
    search_fields = ("name", "lei")


class ListingInline(admin.TabularInline):
    model = Listing
    extra = 0
    fields = ("market", "ticker", "trading_currency", "price_unit", "price_divisor", "lot_size", "tick_size", "allows_fractional", "is_primary", "is_active")


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = ("name", "isin", "instrument_type", "line_kind", "currency", "underlying", "underlying_ratio", "sponsorship", "is_active")
    list_filter = ("instrument_type", "line_kind", "sponsorship", "currency", "is_active")
    search_fields = ("name", "isin", "cusip", "sedol", "figi", "issuer__name")
    raw_id_fields = ("issuer", "underlying")
    inlines = (ListingInline,)


@admin.register(Listing)
class ListingAdmin(admin.ModelAdmin):
    list_display = ("ticker", "market", "instrument", "trading_currency", "price_unit", "price_divisor", "lot_size", "tick_size", "allows_fractional", "is_primary")
    list_filter = ("market", "trading_currency", "price_unit", "is_primary", "allows_fractional")
    search_fields = ("ticker", "instrument__isin", "instrument__name", "sedol", "figi")
    raw_id_fields = ("instrument",)


class RuleAdmin(admin.ModelAdmin):
    """Rule rows edited by a compliance officer are saved through the service, audited."""

    def save_model(self, request, obj, form, change):
        rule_row_save(obj=obj, actor=request.user, changed_fields=form.changed_data)


@admin.register(SettlementCycle)
class SettlementCycleAdmin(RuleAdmin):
    list_display = ("market", "instrument_type", "days", "cash_days", "effective_from", "version", "source")
    list_filter = ("market", "instrument_type", "days")
    search_fields = ("market__mic", "source")


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    list_display = ("listing", "price_date", "price_type", "price", "price_unit", "currency", "source", "as_of")
    list_filter = ("source", "price_type", "currency")
    search_fields = ("listing__ticker", "listing__instrument__isin")
    date_hierarchy = "price_date"
    raw_id_fields = ("listing",)


@admin.register(FxRate)
class FxRateAdmin(admin.ModelAdmin):
    list_display = ("base_currency", "quote_currency", "rate_date", "rate", "source", "as_of")
    list_filter = ("source", "base_currency", "quote_currency")
    date_hierarchy = "rate_date"


@admin.register(EligibilityRule)
class EligibilityRuleAdmin(RuleAdmin):
    list_display = ("code", "tag", "us_persons_allowed", "effective_from", "effective_to", "version")
    list_filter = ("tag", "us_persons_allowed")
    search_fields = ("code", "tag", "description", "source")
