"""Partner API for accounts: open and activate accounts, fund them, read positions, cash,
projected cash, valuation and the ledger. Thin: services decide, selectors read, every read is
scoped to the caller's firm.

Wire it in `config/api_urls.py`: `router.register("accounts", AccountViewSet, basename="account")`.
"""
from __future__ import annotations

import datetime as dt

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from onboarding.api.idempotency import idempotent
from onboarding.exceptions import PermissionDenied, ValidationFailed
from onboarding.selectors import get_party_for

from . import selectors, services
from .models import Account, Basis, Household, Transaction

DATE_PARAMS = [
    OpenApiParameter("as_of", str, description="YYYY-MM-DD (default today)"),
    OpenApiParameter("basis", str, enum=["trade", "settle"]),
]


class AccountSerializer(serializers.ModelSerializer):
    class Meta:
        model = Account
        fields = ["id", "number", "name", "owner", "household", "base_currency", "booking_centre",
                  "booking_jurisdiction", "tax_status", "investor_type", "is_us_person", "lot_relief_method",
                  "status", "opened_at", "closed_at", "created_at"]
        read_only_fields = fields


class AccountOpenSerializer(serializers.Serializer):
    owner = serializers.IntegerField()
    household = serializers.IntegerField(required=False, allow_null=True)
    number = serializers.CharField(max_length=40)
    name = serializers.CharField(max_length=200)
    base_currency = serializers.CharField(max_length=3)
    booking_centre = serializers.ChoiceField(choices=["onshore", "offshore"])
    booking_jurisdiction = serializers.CharField(max_length=2)
    tax_status = serializers.CharField(required=False, default="taxable")
    investor_type = serializers.CharField(required=False, default="retail")


class DepositSerializer(serializers.Serializer):
    custody_account = serializers.IntegerField()
    currency = serializers.CharField(max_length=3)
    amount = serializers.DecimalField(max_digits=24, decimal_places=6)
    value_date = serializers.DateField()
    external_ref = serializers.CharField(required=False, default="", allow_blank=True)


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
    filterset_fields = ["status", "base_currency", "booking_centre", "household"]

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
        return Response({"as_of": as_of, "basis": basis, "cash": [
            {"custody_account": c, "currency": ccy, "amount": _dec(a)} for (c, ccy), a in sorted(rows.items())]})

    @extend_schema(parameters=DATE_PARAMS[:1], responses={200: dict})
    @action(detail=True, methods=["get"], url_path="projected-cash")
    def projected_cash(self, request, pk=None):
        account = self._account(pk)
        as_of = _date(request, "as_of")
        rows = selectors.projected_cash(account=account, as_of=as_of)
        return Response({"as_of": as_of, "projection": [
            {"currency": r.currency, "value_date": r.value_date, "flow": _dec(r.flow), "balance": _dec(r.balance)}
            for r in rows]})

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
