"""Partner API for accounts.

Accounts (by the accounts app): open and activate accounts, fund them, read positions, cash,
projected cash, valuation and the ledger. Around them: households, custodians, custody
accounts, model portfolios (read; publish a version from JSON or a delivery CSV through the
loader service) and model subscriptions (through the activation gate). Thin: services decide,
selectors read, every read is scoped to the caller's firm (platform officers see all).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import django_filters
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from onboarding.api.idempotency import idempotent
from onboarding.api.ids import ID_REGEX, MAX_ID
from onboarding.exceptions import NotFound, PermissionDenied, ValidationFailed
from onboarding.selectors import get_party_for, scope_to_user

from . import selectors, services
from .models import (
    Account,
    Basis,
    Custodian,
    CustodyAccount,
    Household,
    ModelPortfolio,
    ModelSubscription,
    ModelTarget,
    Sleeve,
    TradeScope,
    Transaction,
)
from .selectors import models_visible_to

MAX_DELIVERY_BYTES = 5 * 1024 * 1024


DATE_PARAMS = [
    OpenApiParameter("as_of", str, description="YYYY-MM-DD (default today)"),
    OpenApiParameter("basis", str, enum=["trade", "settle"]),
]


class AccountSerializer(serializers.ModelSerializer):
    trade_scope = serializers.ChoiceField(
        choices=TradeScope.choices, allow_blank=True, read_only=True,
        help_text="Out of band: trade the whole account or only the lines out of band; empty: inherited")

    class Meta:
        model = Account
        fields = ["id", "number", "name", "owner", "household", "base_currency", "booking_centre",
                  "booking_jurisdiction", "tax_status", "investor_type", "is_us_person", "lot_relief_method",
                  "band_abs", "band_rel", "min_trade", "min_improvement", "trade_scope",
                  "status", "opened_at", "closed_at", "created_at"]
        read_only_fields = fields


class AccountOpenSerializer(serializers.Serializer):
    owner = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    household = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True)
    number = serializers.CharField(max_length=40)
    name = serializers.CharField(max_length=200)
    base_currency = serializers.CharField(max_length=3)
    booking_centre = serializers.ChoiceField(choices=["onshore", "offshore"])
    booking_jurisdiction = serializers.CharField(max_length=2)
    tax_status = serializers.CharField(required=False, default="taxable")
    investor_type = serializers.CharField(required=False, default="retail")


class DepositSerializer(serializers.Serializer):
    custody_account = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    currency = serializers.CharField(max_length=3)
    amount = serializers.DecimalField(max_digits=24, decimal_places=6)
    value_date = serializers.DateField()
    external_ref = serializers.CharField(required=False, default="", allow_blank=True,
                                         max_length=Transaction._meta.get_field("external_ref").max_length)


class MovementSerializer(serializers.Serializer):
    leg = serializers.CharField()
    custody_account = serializers.IntegerField(source="custody_account_id")
    sleeve = serializers.IntegerField(source="sleeve_id", allow_null=True)
    instrument = serializers.IntegerField(source="instrument_id", allow_null=True)
    quantity = serializers.DecimalField(max_digits=28, decimal_places=8, allow_null=True)
    cash_purpose = serializers.CharField()
    currency = serializers.CharField()
    amount = serializers.DecimalField(max_digits=24, decimal_places=6)
    settle_date = serializers.DateField()


class TransactionSerializer(serializers.ModelSerializer):
    movements = MovementSerializer(many=True, read_only=True)

    class Meta:
        model = Transaction
        fields = ["id", "kind", "trade_date", "settle_date", "external_ref", "corporate_action_ref", "reverses",
                  "description", "detail", "created_at", "movements"]
        read_only_fields = fields


def _firm_of(request):
    firm = request.user.firm
    if firm is None:
        raise PermissionDenied("this action is for a firm's users")
    return firm


def _date(request, name: str) -> dt.date:
    raw = request.query_params.get(name)
    if not raw:
        return timezone.localdate()
    try:
        return dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise ValidationFailed(f"{name}: {raw!r} is not a date (YYYY-MM-DD)", detail={name: raw}) from exc


def _basis(request, default: str) -> str:
    basis = request.query_params.get("basis", default)
    if basis not in Basis.values:
        raise ValidationFailed("basis: must be trade or settle", detail={"basis": basis})
    return basis


def _dec(value) -> str | None:
    return None if value is None else str(value)


class AccountViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = AccountSerializer
    lookup_value_regex = ID_REGEX
    filterset_fields = ["status", "base_currency", "booking_centre", "household"]
    search_fields = ["name", "number"]

    queryset = Account.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Account.objects.none()
        return selectors.accounts_visible_to(user=self.request.user).order_by("pk")

    def _account(self, pk) -> Account:
        return selectors.account_get(user=self.request.user, pk=pk)

    @extend_schema(request=AccountOpenSerializer, responses={201: AccountSerializer})
    @idempotent
    def create(self, request):
        data = AccountOpenSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        firm = _firm_of(request)
        owner = get_party_for(request.user, v.pop("owner"))
        household_id = v.pop("household", None)
        household = Household.objects.filter(firm=firm, pk=household_id).first() if household_id else None
        account = services.account_open(firm=firm, owner=owner, household=household, actor=request.user, **v)
        return Response(AccountSerializer(account).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: AccountSerializer})
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        account = services.account_activate(account=self._account(pk), actor=request.user)
        return Response(AccountSerializer(account).data)

    @extend_schema(request=DepositSerializer, responses={201: dict})
    @action(detail=True, methods=["post"])
    @idempotent
    def deposits(self, request, pk=None):
        account = self._account(pk)
        data = DepositSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        custody = account.custody_accounts.filter(pk=v["custody_account"]).first()
        if custody is None:
            raise ValidationFailed("custody_account: not an account of this account", detail={"custody_account": v["custody_account"]})
        txn = services.cash_deposit(account=account, custody_account=custody, currency=v["currency"],
                                    amount=v["amount"], value_date=v["value_date"], actor=request.user,
                                    external_ref=v["external_ref"])
        return Response(TransactionSerializer(txn).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=DATE_PARAMS, responses={200: dict})
    @action(detail=True, methods=["get"])
    def positions(self, request, pk=None):
        account = self._account(pk)
        as_of, basis = _date(request, "as_of"), _basis(request, Basis.TRADE)
        rows = selectors.positions(account=account, as_of=as_of, basis=basis)
        return Response({"as_of": as_of, "basis": basis, "positions": [
            {"custody_account": r.custody_account_id, "sleeve": r.sleeve_id, "instrument": r.instrument_id,
             "currency": r.currency, "quantity": _dec(r.quantity)} for r in rows]})

    @extend_schema(parameters=DATE_PARAMS, responses={200: dict})
    @action(detail=True, methods=["get"])
    def cash(self, request, pk=None):
        account = self._account(pk)
        as_of, basis = _date(request, "as_of"), _basis(request, Basis.SETTLE)
        rows = selectors.cash_balances(account=account, as_of=as_of, basis=basis)
        by_currency: dict[str, object] = {}
        for (_c, ccy), amount in rows.items():
            by_currency[ccy] = by_currency.get(ccy, 0) + amount
        return Response({"as_of": as_of, "basis": basis, "cash": [
            {"custody_account": c, "currency": ccy, "amount": _dec(a)} for (c, ccy), a in sorted(rows.items())],
            "by_currency": [{"currency": ccy, "amount": _dec(a)} for ccy, a in sorted(by_currency.items())]})

    @extend_schema(parameters=DATE_PARAMS[:1], responses={200: dict})
    @action(detail=True, methods=["get"], url_path="projected-cash")
    def projected_cash(self, request, pk=None):
        account = self._account(pk)
        as_of = _date(request, "as_of")
        rows = selectors.projected_cash(account=account, as_of=as_of)
        by_custody = [
            {"custody_account": custody.pk, "custodian": custody.custodian.name, "currency": r.currency,
             "value_date": r.value_date, "flow": _dec(r.flow), "balance": _dec(r.balance)}
            for custody in account.custody_accounts.select_related("custodian").order_by("pk")
            for r in selectors.projected_cash(account=account, as_of=as_of, custody_account=custody)]
        return Response({"as_of": as_of, "projection": [
            {"currency": r.currency, "value_date": r.value_date, "flow": _dec(r.flow), "balance": _dec(r.balance)}
            for r in rows], "by_custody_account": by_custody})

    @extend_schema(parameters=[OpenApiParameter("on", str), DATE_PARAMS[1]], responses={200: dict})
    @action(detail=True, methods=["get"])
    def valuation(self, request, pk=None):
        account = self._account(pk)
        on, basis = _date(request, "on"), _basis(request, Basis.TRADE)
        val = selectors.valuation(account=account, on=on, basis=basis)
        return Response({
            "on": on, "basis": basis, "base_currency": val.base_currency, "total_base": _dec(val.total_base),
            "securities_base": _dec(val.securities_base), "cash_base": _dec(val.cash_base),
            "lines": [{
                "kind": line.kind, "custody_account": line.custody_account_id, "instrument": line.instrument_id,
                "listing": line.listing_id, "quantity": _dec(line.quantity), "price": _dec(line.price),
                "price_unit": line.price_unit, "price_divisor": _dec(line.price_divisor), "currency": line.currency,
                "local_value": _dec(line.local_value), "fx_rate": _dec(line.fx_rate), "fx_source": line.fx_source,
                "base_value": _dec(line.base_value), "price_source": line.price_source,
                "price_as_of": line.price_as_of,
            } for line in val.lines],
        })

    @extend_schema(responses={200: TransactionSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def transactions(self, request, pk=None):
        account = self._account(pk)
        qs = Transaction.objects.filter(account=account).prefetch_related("movements").order_by("-trade_date", "-pk")
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(TransactionSerializer(page, many=True).data)


# --- Households, custody accounts, models, subscriptions ------------------------------


def firm_of(request):
    """The firm a request acts for; platform officers act in the admin, not through the API."""
    firm = request.user.firm
    if firm is None:
        raise PermissionDenied("this action is for a firm's users; platform officers act in the admin")
    return firm


def _get(qs, pk, what: str):
    try:
        return qs.get(pk=int(pk))
    except (qs.model.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound(f"{what} not found") from None


class HouseholdSerializer(serializers.ModelSerializer):
    class Meta:
        model = Household
        fields = ["id", "name", "created_at"]
        read_only_fields = ["id", "created_at"]


class HouseholdCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)


class CustodianSerializer(serializers.ModelSerializer):
    markets = serializers.SlugRelatedField(slug_field="mic", many=True, read_only=True)

    class Meta:
        model = Custodian
        fields = ["id", "code", "name", "bic", "country", "markets", "file_formats", "is_active"]
        read_only_fields = fields


class CustodyAccountSerializer(serializers.ModelSerializer):
    custodian = serializers.CharField(source="custodian.bic", read_only=True)
    markets = serializers.SlugRelatedField(slug_field="mic", many=True, read_only=True)

    class Meta:
        model = CustodyAccount
        fields = ["id", "account", "custodian", "number", "markets", "is_active", "created_at"]
        read_only_fields = fields


class CustodyAccountCreateSerializer(serializers.Serializer):
    account = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    custodian = serializers.CharField(max_length=11, help_text="The custodian's BIC")
    number = serializers.CharField(max_length=40)
    markets = serializers.ListField(
        child=serializers.CharField(max_length=4), required=False, default=list,
        help_text=("MICs this custody account settles; each must be one the custodian settles. Omitted or empty: "
                   "every market the custodian settles (orders are routed to the custody account covering their "
                   "market, so an account covering none would receive nothing)."))


class ModelTargetSerializer(serializers.ModelSerializer):
    isin = serializers.CharField(source="instrument.isin", read_only=True, default=None, allow_null=True)
    sleeve_model = serializers.CharField(source="sleeve_model.code", read_only=True, default=None, allow_null=True)

    class Meta:
        model = ModelTarget
        fields = ["id", "instrument", "isin", "sleeve_model", "cash_currency", "weight"]
        read_only_fields = fields


class ModelPortfolioSerializer(serializers.ModelSerializer):
    targets = ModelTargetSerializer(many=True, read_only=True)
    trade_scope = serializers.ChoiceField(
        choices=TradeScope.choices, allow_blank=True, read_only=True,
        help_text="Out of band: trade the whole account or only the lines out of band; empty: inherited")

    class Meta:
        model = ModelPortfolio
        fields = ["id", "publisher", "provider", "code", "version", "name", "base_currency", "effective_from",
                  "status", "source_file", "checksum", "band_abs", "band_rel", "min_trade", "min_improvement",
                  "trade_scope", "created_at", "targets"]
        read_only_fields = fields


class TargetLineInputSerializer(serializers.Serializer):
    weight = serializers.DecimalField(max_digits=9, decimal_places=8, min_value=0, max_value=1)
    isin = serializers.CharField(max_length=12, required=False, allow_blank=True, default="")
    sleeve_model = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    cash_currency = serializers.CharField(max_length=3, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        given = [k for k in ("isin", "sleeve_model", "cash_currency") if attrs.get(k)]
        if len(given) != 1:
            raise serializers.ValidationError("give exactly one of isin, sleeve_model, cash_currency")
        return attrs


class ModelPublishSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=60)
    name = serializers.CharField(max_length=200)
    provider = serializers.CharField(max_length=200)
    base_currency = serializers.CharField(max_length=3, min_length=3)
    effective_from = serializers.DateField()
    lines = TargetLineInputSerializer(many=True, allow_empty=False)


class ModelDeliverySerializer(serializers.Serializer):
    file = serializers.FileField(help_text="Model delivery CSV (see accounts.modelfiles)")


class ModelDeliveryResultSerializer(serializers.Serializer):
    code = serializers.CharField()
    version = serializers.IntegerField()
    lines = serializers.IntegerField()
    created = serializers.BooleanField()


class SubscriptionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelSubscription
        fields = ["id", "account", "sleeve", "model", "follow_latest", "status", "start_date", "end_date",
                  "created_at"]
        read_only_fields = fields


class SubscriptionCreateSerializer(serializers.Serializer):
    account = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    model = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    sleeve = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True)
    start_date = serializers.DateField(required=False)
    follow_latest = serializers.BooleanField(default=True)



class HouseholdViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = HouseholdSerializer
    lookup_value_regex = ID_REGEX
    filterset_fields = ["name"]
    search_fields = ["name"]

    def get_queryset(self):
        return scope_to_user(Household.objects.all(), self.request.user).order_by("pk")

    @extend_schema(request=HouseholdCreateSerializer, responses={201: HouseholdSerializer})
    @idempotent
    def create(self, request):
        data = HouseholdCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        household = services.household_create(firm=firm_of(request), name=data.validated_data["name"],
                                              actor=request.user)
        return Response(HouseholdSerializer(household).data, status=status.HTTP_201_CREATED)


class CustodianFilter(django_filters.FilterSet):
    code = django_filters.CharFilter(lookup_expr="iexact")
    bic = django_filters.CharFilter(lookup_expr="iexact")
    country = django_filters.CharFilter(lookup_expr="iexact")
    market = django_filters.CharFilter(field_name="markets__mic", lookup_expr="iexact",
                                       help_text="settles on this market (ISO 10383 MIC)")
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = Custodian
        fields = ["code", "bic", "country", "market", "is_active"]

    def filter_queryset(self, queryset):
        return super().filter_queryset(queryset).distinct()


class CustodianViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Custodians are shared reference data (no firm's data): filter by code, BIC, country or a market they
    settle (`?market=XLON`), search by name."""

    serializer_class = CustodianSerializer
    lookup_value_regex = ID_REGEX
    filterset_class = CustodianFilter
    search_fields = ["name", "code", "bic"]

    def get_queryset(self):
        return Custodian.objects.prefetch_related("markets").order_by("pk")


class CustodyAccountViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = CustodyAccountSerializer
    lookup_value_regex = ID_REGEX
    filterset_fields = ["account", "is_active"]

    def get_queryset(self):
        return scope_to_user(CustodyAccount.objects.select_related("custodian").prefetch_related("markets"),
                             self.request.user, firm_field="account__firm").order_by("pk")

    @extend_schema(request=CustodyAccountCreateSerializer, responses={201: CustodyAccountSerializer})
    @idempotent
    def create(self, request):
        data = CustodyAccountCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        firm_of(request)
        account = _get(scope_to_user(Account.objects.all(), request.user), data.validated_data["account"], "account")
        custodian = Custodian.objects.filter(bic=data.validated_data["custodian"], is_active=True).first()
        if custodian is None:
            raise ValidationFailed("custodian: unknown BIC", detail={"custodian": data.validated_data["custodian"]})
        custody = services.custody_account_add(account=account, custodian=custodian,
                                               number=data.validated_data["number"],
                                               markets=data.validated_data["markets"], actor=request.user)
        custody = self.get_queryset().get(pk=custody.pk)
        return Response(CustodyAccountSerializer(custody).data, status=status.HTTP_201_CREATED)


class ModelPortfolioViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Asset managers' model portfolios, one row per version."""

    serializer_class = ModelPortfolioSerializer
    lookup_value_regex = ID_REGEX
    filterset_fields = ["code", "status", "provider", "base_currency"]
    search_fields = ["name", "code", "provider"]

    def get_queryset(self):
        return (models_visible_to(self.request.user)
                .prefetch_related("targets__instrument", "targets__sleeve_model").order_by("code", "-version"))

    @extend_schema(request=ModelPublishSerializer, responses={201: ModelPortfolioSerializer})
    @idempotent
    def create(self, request):
        """Publish the next version of a model from JSON target lines (weights sum to 1)."""
        data = ModelPublishSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        firm = firm_of(request)
        fields = dict(data.validated_data)
        _check_model_codes_owned(firm, {fields["code"]})
        lines = [services.TargetLine(**line) for line in fields.pop("lines")]
        model = services.model_publish(lines=lines, publisher=firm, actor=request.user, **fields)
        return Response(ModelPortfolioSerializer(self.get_queryset().get(pk=model.pk)).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(request={"multipart/form-data": ModelDeliverySerializer},
                   responses={201: ModelDeliveryResultSerializer(many=True)})
    @action(detail=False, methods=["post"], parser_classes=[MultiPartParser, FormParser, JSONParser])
    @idempotent
    def delivery(self, request):
        """Load an asset manager's model delivery CSV through the loader service; a bad file is
        rejected whole (file, line, field) and changes nothing."""
        data = ModelDeliverySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        firm = firm_of(request)
        upload = data.validated_data["file"]
        if upload.size > MAX_DELIVERY_BYTES:
            raise ValidationFailed("file: larger than 5 MB", detail={"file": "too_large"})
        name = Path(upload.name or "delivery.csv").name or "delivery.csv"
        try:  # read in memory: no temporary file whose path an error could show
            text = upload.read().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationFailed(f"file: {name} is not UTF-8 text (byte {exc.start})",
                                   detail={"file": [f"not UTF-8 text (byte {exc.start})"]}) from None
        _check_model_codes_owned(firm, _codes_in_delivery(text))
        report = services.model_delivery_load(text=text, name=name, publisher=firm, actor=request.user)
        return Response(ModelDeliveryResultSerializer(report, many=True).data, status=status.HTTP_201_CREATED)


def _codes_in_delivery(text: str) -> set[str]:
    import csv
    import io

    try:
        return {(row.get("model_code") or "").strip() for row in csv.DictReader(io.StringIO(text, newline=""))} - {""}
    except csv.Error:
        return set()  # the loader names the problem


def _check_model_codes_owned(firm, codes: set[str]) -> None:
    """A firm publishes new versions only of its own models (or of new codes). To move into
    `accounts.services.model_publish`, which does not check the publisher today."""
    taken = set(ModelPortfolio.objects.filter(code__in=codes).exclude(publisher=firm).values_list("code", flat=True))
    if taken:
        raise PermissionDenied(f"model code(s) {sorted(taken)} belong to another publisher",
                               detail={"codes": sorted(taken)})


class SubscriptionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = SubscriptionSerializer
    lookup_value_regex = ID_REGEX
    filterset_fields = ["account", "model", "status"]

    def get_queryset(self):
        return scope_to_user(ModelSubscription.objects.all(), self.request.user,
                             firm_field="account__firm").order_by("pk")

    @extend_schema(request=SubscriptionCreateSerializer, responses={201: SubscriptionSerializer})
    @idempotent
    def create(self, request):
        """Subscribe an account (or a sleeve) to a model; the activation gate applies."""
        data = SubscriptionCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        firm_of(request)
        v = data.validated_data
        account = _get(scope_to_user(Account.objects.all(), request.user), v["account"], "account")
        model = _get(models_visible_to(request.user), v["model"], "model")
        sleeve = _get(Sleeve.objects.filter(account=account), v["sleeve"], "sleeve") if v.get("sleeve") else None
        subscription = services.model_subscribe(account=account, model=model, actor=request.user, sleeve=sleeve,
                                                start_date=v.get("start_date") or timezone.localdate(),
                                                follow_latest=v["follow_latest"])
        return Response(SubscriptionSerializer(subscription).data, status=status.HTTP_201_CREATED)
