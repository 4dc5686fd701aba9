"""Partner API for reference data (read-only, shared by every firm): instruments with their listings, listings,
markets with their time zone, session, settlement cycles and calendar, and currencies. Custodians are served by
accounts (`/api/v1/custodians/`).

Look an instrument up by any of its identifiers (`?isin=`, `?cusip=`, `?sedol=`, `?figi=`), by a listing's
`?ticker=` and `?mic=`, or by name (`?search=`). Thin: querysets and selectors, no business logic."""
from __future__ import annotations

import datetime as dt

import django_filters
from django.db.models import Prefetch, Q
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from onboarding.api.ids import ID_REGEX, MAX_ID
from onboarding.exceptions import ValidationFailed
from onboarding.money import minor_units

from . import calendars
from .models import Currency, Instrument, InstrumentType, Listing, Market, SettlementCycle
from .selectors import currency_calendars

MAX_CALENDAR_DAYS = 366


# --------------------------------------------------------------------------------------------------------------------
# Serializers
class ListingSerializer(serializers.ModelSerializer):
    mic = serializers.CharField(source="market.mic", read_only=True)
    instrument = serializers.IntegerField(source="instrument_id", read_only=True)
    isin = serializers.CharField(source="instrument.isin", read_only=True)

    class Meta:
        model = Listing
        fields = ["id", "instrument", "isin", "mic", "ticker", "trading_currency", "price_unit", "price_divisor",
                  "lot_size", "tick_size", "allows_fractional", "is_primary", "figi", "sedol", "is_active"]
        read_only_fields = fields


class InstrumentListingSerializer(ListingSerializer):
    class Meta(ListingSerializer.Meta):
        fields = [f for f in ListingSerializer.Meta.fields if f not in ("instrument", "isin")]
        read_only_fields = fields


class InstrumentSerializer(serializers.ModelSerializer):
    issuer = serializers.CharField(source="issuer.name", read_only=True, allow_null=True, default=None)
    issuer_lei = serializers.CharField(source="issuer.lei", read_only=True, allow_null=True, default=None)
    listings = InstrumentListingSerializer(many=True, read_only=True)

    class Meta:
        model = Instrument
        fields = ["id", "isin", "cusip", "sedol", "figi", "name", "instrument_type", "country", "currency",
                  "line_kind", "issuer", "issuer_lei", "eligibility_tags", "is_active", "listings"]
        read_only_fields = fields


class SettlementCycleSerializer(serializers.ModelSerializer):
    class Meta:
        model = SettlementCycle
        fields = ["instrument_type", "days", "cash_days", "effective_from", "source"]
        read_only_fields = fields


class MarketSerializer(serializers.ModelSerializer):
    settlement_cycles = serializers.SerializerMethodField(
        help_text="The cycles in force today, one per instrument type (blank: every type without its own)")

    class Meta:
        model = Market
        fields = ["id", "mic", "name", "country", "time_zone", "open_time", "close_time", "calendar_code",
                  "settlement_currency", "is_otc", "settlement_cycles"]
        read_only_fields = fields

    @extend_schema_field(SettlementCycleSerializer(many=True))
    def get_settlement_cycles(self, market: Market) -> list[dict]:
        today = timezone.localdate()
        in_force: dict[str, SettlementCycle] = {}
        for cycle in market.settlement_cycles.all():  # prefetched, newest first
            if cycle.effective_from <= today and cycle.instrument_type not in in_force:
                in_force[cycle.instrument_type] = cycle
        return SettlementCycleSerializer(sorted(in_force.values(), key=lambda c: c.instrument_type), many=True).data


class CalendarDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    weekday = serializers.CharField(help_text="Mon ... Sun")
    is_session = serializers.BooleanField(help_text="the exchange trades (exchange calendar; weekdays where none)")
    is_settlement_day = serializers.BooleanField(
        help_text="securities settle: an exchange session that is also a business day of the settlement currency")


class MarketCalendarSerializer(serializers.Serializer):
    mic = serializers.CharField()
    time_zone = serializers.CharField()
    calendar_code = serializers.CharField()
    currency_calendars = serializers.ListField(child=serializers.CharField())
    start = serializers.DateField()
    end = serializers.DateField()
    days = CalendarDaySerializer(many=True)


class CurrencySerializer(serializers.ModelSerializer):
    minor_units = serializers.SerializerMethodField(help_text="decimal places amounts are rounded to (ISO 4217)")

    class Meta:
        model = Currency
        fields = ["code", "name", "minor_units", "holiday_calendar"]
        read_only_fields = fields

    def get_minor_units(self, currency: Currency) -> int:
        return minor_units(currency.code)


# --------------------------------------------------------------------------------------------------------------------
# Filters
class InstrumentFilter(django_filters.FilterSet):
    isin = django_filters.CharFilter(field_name="isin", lookup_expr="iexact", help_text="ISO 6166 ISIN")
    cusip = django_filters.CharFilter(field_name="cusip", lookup_expr="iexact")
    sedol = django_filters.CharFilter(method="filter_sedol", help_text="the instrument's or a listing's SEDOL")
    figi = django_filters.CharFilter(method="filter_figi", help_text="composite or exchange-level FIGI")
    ticker = django_filters.CharFilter(field_name="listings__ticker", lookup_expr="iexact",
                                       help_text="a listing's ticker (combine with `mic` for one venue)")
    mic = django_filters.CharFilter(field_name="listings__market__mic", lookup_expr="iexact",
                                    help_text="listed on this market (ISO 10383 MIC)")
    instrument_type = django_filters.ChoiceFilter(choices=InstrumentType.choices)
    country = django_filters.CharFilter(lookup_expr="iexact")
    currency = django_filters.CharFilter(lookup_expr="iexact")
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = Instrument
        fields = ["isin", "cusip", "sedol", "figi", "ticker", "mic", "instrument_type", "country", "currency",
                  "is_active"]

    def filter_queryset(self, queryset):
        data = self.form.cleaned_data
        if data.get("ticker") and data.get("mic"):  # one listing has both, not two listings one each
            listings = Listing.objects.filter(ticker__iexact=data["ticker"], market__mic__iexact=data["mic"])
            queryset = queryset.filter(pk__in=listings.values("instrument_id"))
            self.form.cleaned_data = {k: v for k, v in data.items() if k not in ("ticker", "mic")}
        return super().filter_queryset(queryset).distinct()

    def filter_sedol(self, queryset, name, value):
        return queryset.filter(Q(sedol__iexact=value) | Q(listings__sedol__iexact=value))

    def filter_figi(self, queryset, name, value):
        return queryset.filter(Q(figi__iexact=value) | Q(listings__figi__iexact=value))


class ListingFilter(django_filters.FilterSet):
    instrument = django_filters.NumberFilter(field_name="instrument_id", min_value=1, max_value=MAX_ID,
                                             decimal_places=0, help_text="an instrument id")
    isin = django_filters.CharFilter(field_name="instrument__isin", lookup_expr="iexact")
    ticker = django_filters.CharFilter(lookup_expr="iexact")
    mic = django_filters.CharFilter(field_name="market__mic", lookup_expr="iexact")
    trading_currency = django_filters.CharFilter(lookup_expr="iexact")
    is_primary = django_filters.BooleanFilter()
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = Listing
        fields = ["instrument", "isin", "ticker", "mic", "trading_currency", "is_primary", "is_active"]


class MarketFilter(django_filters.FilterSet):
    country = django_filters.CharFilter(lookup_expr="iexact")
    settlement_currency = django_filters.CharFilter(lookup_expr="iexact")
    is_otc = django_filters.BooleanFilter()

    class Meta:
        model = Market
        fields = ["country", "settlement_currency", "is_otc"]


# --------------------------------------------------------------------------------------------------------------------
# Views
class InstrumentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Instruments with their listings. Shared reference data: every firm reads the same."""

    serializer_class = InstrumentSerializer
    lookup_value_regex = ID_REGEX
    filterset_class = InstrumentFilter
    search_fields = ["name", "isin", "listings__ticker", "issuer__name"]

    def get_queryset(self):
        listings = Listing.objects.select_related("market").order_by("-is_primary", "pk")
        return (Instrument.objects.select_related("issuer")
                .prefetch_related(Prefetch("listings", queryset=listings)).order_by("pk"))


class ListingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Listings: an instrument on a market, with its ticker, trading currency, quote unit, lot and tick size."""

    serializer_class = ListingSerializer
    lookup_value_regex = ID_REGEX
    filterset_class = ListingFilter
    search_fields = ["ticker", "instrument__name", "instrument__isin"]

    def get_queryset(self):
        return Listing.objects.select_related("market", "instrument").order_by("pk")


class MarketViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Markets by MIC: time zone, local continuous session, settlement currency, the settlement cycles in force
    and (`/calendar/`) which days trade and settle."""

    serializer_class = MarketSerializer
    lookup_field = "mic"
    lookup_value_regex = "[A-Za-z0-9]{4}"
    filterset_class = MarketFilter
    search_fields = ["mic", "name"]

    def get_queryset(self):
        cycles = SettlementCycle.objects.order_by("-effective_from", "-pk")
        return Market.objects.prefetch_related(Prefetch("settlement_cycles", queryset=cycles)).order_by("mic")

    def get_object(self):
        self.kwargs[self.lookup_field] = self.kwargs[self.lookup_field].upper()
        return super().get_object()

    @extend_schema(responses={200: MarketCalendarSerializer}, parameters=[
        OpenApiParameter("start", OpenApiTypes.DATE, description="first day (default: today)"),
        OpenApiParameter("end", OpenApiTypes.DATE,
                         description=f"last day (default: start + 30 days; at most {MAX_CALENDAR_DAYS} days)")])
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def calendar(self, request, mic=None):
        """Every day from `start` to `end`: an exchange session or not, a settlement day or not."""
        market = self.get_object()
        start = _date_param(request, "start", timezone.localdate())
        end = _date_param(request, "end", start + dt.timedelta(days=30))
        if end < start or (end - start).days >= MAX_CALENDAR_DAYS:
            message = f"end must be on or after start and at most {MAX_CALENDAR_DAYS} days later"
            raise ValidationFailed(f"end: {message}", detail={"end": [message]})
        ccy = currency_calendars([market.settlement_currency])
        days = []
        day = start
        while day <= end:
            days.append({"date": day, "weekday": day.strftime("%a"),
                         "is_session": calendars.is_exchange_session(day, market.calendar_code),
                         "is_settlement_day": calendars.is_settlement_day(
                             day, calendar_code=market.calendar_code, currency_calendars=ccy)})
            day += dt.timedelta(days=1)
        return Response(MarketCalendarSerializer({
            "mic": market.mic, "time_zone": market.time_zone, "calendar_code": market.calendar_code,
            "currency_calendars": list(ccy), "start": start, "end": end, "days": days}).data)


def _date_param(request, name: str, default: dt.date) -> dt.date:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        message = "a date as YYYY-MM-DD"
        raise ValidationFailed(f"{name}: {message}", detail={name: [message]}) from None


class CurrencyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """ISO 4217 currencies with their minor units and the holiday calendar their value dates follow."""

    serializer_class = CurrencySerializer
    lookup_field = "code"
    lookup_value_regex = "[A-Za-z]{3}"
    filterset_fields: list[str] = []
    search_fields = ["code", "name"]

    def get_queryset(self):
        return Currency.objects.order_by("code")

    def get_object(self):
        self.kwargs[self.lookup_field] = self.kwargs[self.lookup_field].upper()
        return super().get_object()
