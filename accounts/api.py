"""Partner API for accounts: households, accounts (open, activate), custody accounts, positions,
cash per currency, projected cash, valuation, model portfolios (read, publish from JSON or a
delivery CSV) and model subscriptions. Thin: parse, call `accounts.services` / `accounts.selectors`,
shape the answer. Every queryset is scoped to the user's firm (platform officers see all)."""
from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from django.db.models import Q
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from onboarding.api.idempotency import idempotent
from onboarding.exceptions import NotFound, PermissionDenied, ValidationFailed
from onboarding.selectors import get_party_for, scope_to_user
from trading.reference.models import BookingCentreKind, Instrument, InvestorType

from . import selectors, services
from .models import (
    Account,
    Basis,
    Custodian,
    CustodyAccount,
    Household,
    LotReliefMethod,
    ModelPortfolio,
    ModelSubscription,
    ModelTarget,
    Sleeve,
    TaxStatus,
)

ID_REGEX = r"[0-9]{1,18}"  # a longer id cannot exist: 404 from the router, not a database overflow
MAX_ID = 2**63 - 1
MAX_DELIVERY_BYTES = 5 * 1024 * 1024


def firm_of(request):
    """The firm a request acts for; platform officers act in the admin, not through the API."""
    firm = request.user.firm
    if firm is None:
        raise PermissionDenied("this action is for a firm's users; platform officers act in the admin")
    return firm


def models_visible_to(user):
    """The shared catalogue (no publisher) and the user's own firm's models; officers see all."""
    qs = ModelPortfolio.objects.all()
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    if user.is_superuser or user.is_platform_officer:
        return qs
    if user.firm_id is None:
        return qs.none()
    return qs.filter(Q(publisher__isnull=True) | Q(publisher_id=user.firm_id))


def _get(qs, pk, what: str):
    try:
        return qs.get(pk=int(pk))
    except (qs.model.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound(f"{what} not found") from None


# --- Serializers -----------------------------------------------------------------------------------


class HouseholdSerializer(serializers.ModelSerializer):
    class Meta:
        model = Household
        fields = ["id", "name", "created_at"]
        read_only_fields = ["id", "created_at"]


class HouseholdCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)


class AccountSerializer(serializers.ModelSerializer):
    class Meta:
        model = Account
        fields = ["id", "owner", "household", "number", "name", "base_currency", "booking_centre",
                  "booking_jurisdiction", "tax_status", "investor_type", "is_us_person", "lot_relief_method",
                  "allows_short", "status", "opened_at", "closed_at", "created_at"]
        read_only_fields = fields


class AccountCreateSerializer(serializers.Serializer):
    owner = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    household = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True)
    number = serializers.CharField(max_length=40)
    name = serializers.CharField(max_length=200)
    base_currency = serializers.CharField(max_length=3, min_length=3)
    booking_centre = serializers.ChoiceField(choices=BookingCentreKind.choices)
    booking_jurisdiction = serializers.CharField(max_length=2, min_length=2)
    tax_status = serializers.ChoiceField(choices=TaxStatus.choices, default=TaxStatus.TAXABLE)
    investor_type = serializers.ChoiceField(choices=InvestorType.choices, default=InvestorType.RETAIL)
    is_us_person = serializers.BooleanField(required=False, allow_null=True, default=None)
    lot_relief_method = serializers.ChoiceField(choices=LotReliefMethod.choices, default=LotReliefMethod.FIFO)
    allows_short = serializers.BooleanField(default=False)


class CustodianSerializer(serializers.ModelSerializer):
    markets = serializers.SlugRelatedField(slug_field="mic", many=True, read_only=True)

    class Meta:
        model = Custodian
        fields = ["id", "name", "bic", "country", "markets", "file_formats", "is_active"]
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
    markets = serializers.ListField(child=serializers.CharField(max_length=4), required=False, default=list)


class AsOfQuerySerializer(serializers.Serializer):
    on = serializers.DateField(required=False, help_text="As-of date (default today)")
    basis = serializers.ChoiceField(choices=Basis.choices, required=False, default=Basis.TRADE)


class PositionLineSerializer(serializers.Serializer):
    custody_account = serializers.IntegerField()
    sleeve = serializers.IntegerField(allow_null=True)
    instrument = serializers.IntegerField()
    isin = serializers.CharField()
    currency = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=30, decimal_places=10)


class PositionsSerializer(serializers.Serializer):
    account = serializers.IntegerField()
    on = serializers.DateField()
    basis = serializers.CharField()
    positions = PositionLineSerializer(many=True)


class CashLineSerializer(serializers.Serializer):
    currency = serializers.CharField()
    amount = serializers.DecimalField(max_digits=30, decimal_places=4)


class CashSerializer(serializers.Serializer):
    account = serializers.IntegerField()
    on = serializers.DateField()
    basis = serializers.CharField()
    cash = CashLineSerializer(many=True)


class ProjectedCashLineSerializer(serializers.Serializer):
    currency = serializers.CharField()
    value_date = serializers.DateField()
    flow = serializers.DecimalField(max_digits=30, decimal_places=4)
    balance = serializers.DecimalField(max_digits=30, decimal_places=4)


class ValuationLineSerializer(serializers.Serializer):
    kind = serializers.CharField()
    custody_account = serializers.IntegerField(source="custody_account_id")
    instrument = serializers.IntegerField(source="instrument_id", allow_null=True)
    listing = serializers.IntegerField(source="listing_id", allow_null=True)
    quantity = serializers.DecimalField(max_digits=30, decimal_places=10)
    price = serializers.DecimalField(max_digits=30, decimal_places=10, allow_null=True)
    price_unit = serializers.CharField()
    currency = serializers.CharField()
    local_value = serializers.DecimalField(max_digits=30, decimal_places=4)
    fx_rate = serializers.DecimalField(max_digits=30, decimal_places=12)
    fx_source = serializers.CharField()
    base_value = serializers.DecimalField(max_digits=30, decimal_places=4)
    price_source = serializers.CharField()
    price_as_of = serializers.DateTimeField(allow_null=True)


class ValuationSerializer(serializers.Serializer):
    account = serializers.IntegerField(source="account_id")
    base_currency = serializers.CharField()
    on = serializers.DateField()
    basis = serializers.CharField()
    total_base = serializers.DecimalField(max_digits=30, decimal_places=4)
    securities_base = serializers.DecimalField(max_digits=30, decimal_places=4)
    cash_base = serializers.DecimalField(max_digits=30, decimal_places=4)
    lines = ValuationLineSerializer(many=True)


class ModelTargetSerializer(serializers.ModelSerializer):
    isin = serializers.CharField(source="instrument.isin", read_only=True, default=None)
    sleeve_model = serializers.CharField(source="sleeve_model.code", read_only=True, default=None)

    class Meta:
        model = ModelTarget
        fields = ["id", "instrument", "isin", "sleeve_model", "cash_currency", "weight"]
        read_only_fields = fields


class ModelPortfolioSerializer(serializers.ModelSerializer):
    targets = ModelTargetSerializer(many=True, read_only=True)

    class Meta:
        model = ModelPortfolio
        fields = ["id", "publisher", "provider", "code", "version", "name", "base_currency", "effective_from",
                  "status", "source_file", "checksum", "created_at", "targets"]
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


# --- Views -----------------------------------------------------------------------------------------


def _as_of(request) -> tuple[dt.date, str]:
    query = AsOfQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data.get("on") or timezone.localdate(), query.validated_data["basis"]


AS_OF_PARAMS = [
    OpenApiParameter("on", dt.date, description="As-of date, YYYY-MM-DD (default today)"),
    OpenApiParameter("basis", str, enum=list(Basis.values), description="trade (default) or settle"),
]


class HouseholdViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = HouseholdSerializer
    lookup_value_regex = ID_REGEX
    filterset_fields = ["name"]

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


class AccountViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = AccountSerializer
    lookup_value_regex = ID_REGEX
    filterset_fields = ["status", "owner", "household", "base_currency", "booking_centre"]

    def get_queryset(self):
        return scope_to_user(Account.objects.all(), self.request.user).order_by("pk")

    @extend_schema(request=AccountCreateSerializer, responses={201: AccountSerializer})
    @idempotent
    def create(self, request):
        data = AccountCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        firm = firm_of(request)
        owner = get_party_for(request.user, fields.pop("owner"))
        household_id = fields.pop("household", None)
        household = (_get(scope_to_user(Household.objects.all(), request.user), household_id, "household")
                     if household_id else None)
        account = services.account_open(firm=firm, owner=owner, household=household, actor=request.user, **fields)
        return Response(AccountSerializer(account).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: AccountSerializer})
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        """Pending -> active, through the activation gate (active relationship, a custody account)."""
        account = services.account_activate(account=self.get_object(), actor=request.user)
        return Response(AccountSerializer(account).data)

    @extend_schema(parameters=AS_OF_PARAMS, responses={200: PositionsSerializer})
    @action(detail=True, methods=["get"])
    def positions(self, request, pk=None):
        account = self.get_object()
        on, basis = _as_of(request)
        rows = selectors.positions(account=account, as_of=on, basis=basis)
        isins = dict(Instrument.objects.filter(pk__in={r.instrument_id for r in rows}).values_list("pk", "isin"))
        lines = [{"custody_account": r.custody_account_id, "sleeve": r.sleeve_id, "instrument": r.instrument_id,
                  "isin": isins.get(r.instrument_id, ""), "currency": r.currency, "quantity": r.quantity}
                 for r in rows]
        return Response(PositionsSerializer({"account": account.pk, "on": on, "basis": basis,
                                             "positions": lines}).data)

    @extend_schema(parameters=AS_OF_PARAMS, responses={200: CashSerializer})
    @action(detail=True, methods=["get"])
    def cash(self, request, pk=None):
        """Cash per currency on the trade-date or settlement-date basis."""
        account = self.get_object()
        on, basis = _as_of(request)
        by_ccy = selectors.cash_by_currency(account=account, as_of=on, basis=basis)
        lines = [{"currency": ccy, "amount": amount} for ccy, amount in sorted(by_ccy.items())]
        return Response(CashSerializer({"account": account.pk, "on": on, "basis": basis, "cash": lines}).data)

    @extend_schema(parameters=AS_OF_PARAMS[:1], responses={200: ProjectedCashLineSerializer(many=True)})
    @action(detail=True, methods=["get"], url_path="projected-cash")
    def projected_cash(self, request, pk=None):
        """Per currency: the settled balance, then each later date on which done trades settle."""
        account = self.get_object()
        on, _basis = _as_of(request)
        rows = selectors.projected_cash(account=account, as_of=on)
        return Response(ProjectedCashLineSerializer(rows, many=True).data)

    @extend_schema(parameters=AS_OF_PARAMS, responses={200: ValuationSerializer})
    @action(detail=True, methods=["get"])
    def valuation(self, request, pk=None):
        account = self.get_object()
        on, basis = _as_of(request)
        return Response(ValuationSerializer(selectors.valuation(account=account, on=on, basis=basis)).data)


class CustodianViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Custodians are shared reference data (no firm's data)."""

    serializer_class = CustodianSerializer
    lookup_value_regex = ID_REGEX
    filterset_fields = ["bic", "country", "is_active"]

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
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            path.write_bytes(upload.read())
            _check_model_codes_owned(firm, _codes_in_delivery(path))
            report = services.model_delivery_load(path=str(path), publisher=firm, actor=request.user)
        return Response(ModelDeliveryResultSerializer(report, many=True).data, status=status.HTTP_201_CREATED)


def _codes_in_delivery(path: Path) -> set[str]:
    import csv

    try:
        with path.open(encoding="utf-8", newline="") as fh:
            return {(row.get("model_code") or "").strip() for row in csv.DictReader(fh)} - {""}
    except (UnicodeDecodeError, csv.Error):
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
