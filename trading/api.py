"""Partner API for trading: orders (list, filter, approve, reject, cancel), blocks, fills,
rebalance requests and execution-report imports. Thin: the services in `trading.services` decide.

Blocks group orders of one listing, side and broker across accounts, possibly of several firms:
a firm user sees a block only when it holds one of the firm's orders, and sees its totals (and
its fills' quantities) only when every order in it is the firm's."""
from __future__ import annotations

import datetime as dt

import django_filters
from django.db.models import Exists, OuterRef
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from accounts.api import ID_REGEX, MAX_ID, firm_of, models_visible_to
from accounts.models import Account
from onboarding.api.idempotency import idempotent
from onboarding.api.pagination import Cursor
from onboarding.exceptions import NotFound, PermissionDenied, ValidationFailed
from onboarding.selectors import scope_to_user

from . import selectors, services
from .exceptions import ExecutionImportRejected
from .models import Block, CashTransfer, Fill, FxOrder, Order, RebalanceRun
from .orders.execution_reports import ExecutionFileError, parse_execution_reports
from .rebalancing.scope import RebalanceScope
from .selectors import blocks_for, orders_for, sees_all_firms

MAX_REPORT_BYTES = 5 * 1024 * 1024


# --- Serializers -----------------------------------------------------------------------------------


class OrderSerializer(serializers.ModelSerializer):
    ticker = serializers.CharField(source="listing.ticker", read_only=True)
    market = serializers.CharField(source="listing.market.mic", read_only=True)

    class Meta:
        model = Order
        fields = ["id", "reference", "run", "account", "custody_account", "listing", "ticker", "market", "broker",
                  "block", "side", "quantity", "currency", "estimated_price", "estimated_value", "filled_quantity",
                  "average_price", "trade_date", "settle_date", "estimated_gain", "loss_sale", "status",
                  "settlement_error", "released_at", "created_at"]
        read_only_fields = fields


class OrderFilter(django_filters.FilterSet):
    market = django_filters.CharFilter(field_name="listing__market__mic", help_text="MIC of the listing's market")
    trade_date = django_filters.DateFilter()

    class Meta:
        model = Order
        fields = ["status", "account", "run", "side", "block", "market", "trade_date"]


class OrderReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class ApproveManySerializer(serializers.Serializer):
    orders = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID), allow_empty=False, max_length=10000)


class ApprovedSerializer(serializers.Serializer):
    approved = serializers.IntegerField()


class ReleaseRequestSerializer(serializers.Serializer):
    market = serializers.RegexField(r"^[A-Z0-9]{4}$", required=False, help_text="Only this market (MIC)")
    account = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, help_text="Only this account")
    run = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False,
                                   help_text="Only the orders of this rebalance run")
    now = serializers.DateTimeField(required=False, help_text=(
        "The instant of the wave (default: the server's clock). Markets are judged open or closed at "
        "this instant in their own time zone and on their own calendar; it may not be in the future."))


class ReleaseResultSerializer(serializers.Serializer):
    now = serializers.DateTimeField()
    released = serializers.IntegerField(help_text="Orders released")
    blocks = serializers.ListField(child=serializers.DictField(), help_text="Blocks sent (id, reference, broker, ...)")
    skipped_markets = serializers.ListField(child=serializers.DictField(),
                                            help_text="Markets with approved orders that are closed now, and why")
    held = serializers.ListField(child=serializers.DictField(), help_text="Orders held back, and why")


class SettleRequestSerializer(serializers.Serializer):
    as_of = serializers.DateField(required=False, help_text="The settlement day (default: today); not in the future")


class SettlementResultSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    settled = serializers.ListField(child=serializers.CharField())
    fx_settled = serializers.ListField(child=serializers.CharField())
    transfers_settled = serializers.ListField(child=serializers.CharField())
    failed = serializers.ListField(child=serializers.DictField(), help_text="reference and reason")
    waiting = serializers.ListField(child=serializers.DictField(),
                                    help_text="Due but not settling today (market or currency holiday), with why")


class BlockSerializer(serializers.ModelSerializer):
    ticker = serializers.CharField(source="listing.ticker", read_only=True)
    market = serializers.CharField(source="listing.market.mic", read_only=True)
    broker = serializers.CharField(source="broker.code", read_only=True)
    quantity = serializers.SerializerMethodField()
    filled_quantity = serializers.SerializerMethodField()
    shared = serializers.BooleanField(read_only=True, help_text="Holds other firms' orders; totals hidden")

    class Meta:
        model = Block
        fields = ["id", "reference", "listing", "ticker", "market", "broker", "side", "trade_date", "currency",
                  "quantity", "filled_quantity", "average_price", "status", "released_at", "shared"]
        read_only_fields = fields

    def get_quantity(self, obj) -> str | None:
        return None if getattr(obj, "shared", False) else str(obj.quantity)

    def get_filled_quantity(self, obj) -> str | None:
        return None if getattr(obj, "shared", False) else str(obj.filled_quantity)


class FillSerializer(serializers.ModelSerializer):
    block = serializers.PrimaryKeyRelatedField(read_only=True)
    block_reference = serializers.CharField(source="block.reference", read_only=True)
    quantity = serializers.SerializerMethodField()

    class Meta:
        model = Fill
        fields = ["id", "block", "block_reference", "exec_id", "quantity", "price", "executed_at", "venue",
                  "source_file", "created_at"]
        read_only_fields = fields

    def get_quantity(self, obj) -> str | None:
        return None if getattr(obj, "shared", False) else str(obj.quantity)


class RebalanceRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = RebalanceRun
        fields = ["id", "key", "firm", "trade_date", "dry_run", "status", "stats", "created_at", "finished_at"]
        read_only_fields = fields


class RebalanceRequestSerializer(serializers.Serializer):
    account = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True,
                                       help_text="Rebalance one account of the firm")
    model = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True,
                                     help_text="Rebalance the firm's accounts subscribed to this model")
    trade_date = serializers.DateField(required=False)
    dry_run = serializers.BooleanField(default=False)

    def validate(self, attrs):
        if attrs.get("account") and attrs.get("model"):
            raise serializers.ValidationError("give account or model, not both")
        return attrs


class RebalanceResultSerializer(serializers.Serializer):
    run = RebalanceRunSerializer()
    stats = serializers.DictField()


class ExecutionReportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="Execution report CSV (exec_id, cl_ord_id, last_qty, last_px, transact_time)")


class ExecutionImportResultSerializer(serializers.Serializer):
    file = serializers.CharField()
    fills = serializers.IntegerField()


class FxOrderSerializer(serializers.ModelSerializer):
    funds = serializers.SerializerMethodField(help_text="Security orders of the same run and account this FX "
                                                        "order funds (buys) or sweeps from (sells)")
    netting = serializers.SerializerMethodField(help_text="Buys less sells in the currency, against the FX amount")

    class Meta:
        model = FxOrder
        fields = ["id", "reference", "run", "account", "kind", "buy_currency", "buy_amount", "sell_currency",
                  "sell_amount", "rate", "trade_date", "value_date", "custody_account", "cash_accounts", "status",
                  "created_at", "funds", "netting"]
        read_only_fields = fields

    cash_accounts = serializers.SerializerMethodField(
        help_text="The custody account's cash account numbers where each leg settles: {bought: ..., sold: ...} "
                  "(empty where the custodian keeps none in that currency)")

    def get_cash_accounts(self, obj) -> dict:
        numbers = selectors.cash_account_numbers([(obj.custody_account_id, obj.buy_currency),
                                                  (obj.custody_account_id, obj.sell_currency)])
        return {"bought": numbers.get((obj.custody_account_id, obj.buy_currency), ""),
                "sold": numbers.get((obj.custody_account_id, obj.sell_currency), "")}

    def _funding(self, obj) -> dict:
        funding = self.context.get("funding")
        if funding is None or obj.pk not in funding:
            funding = selectors.fx_funding([obj])
        return funding[obj.pk]

    def get_funds(self, obj) -> list[dict]:
        return self._funding(obj)["orders"]

    def get_netting(self, obj) -> dict:
        netting = dict(self._funding(obj)["netting"])
        if netting.get("latest_settlement") is not None:
            netting["latest_settlement"] = str(netting["latest_settlement"])
        return netting


class FxOrderFilter(django_filters.FilterSet):
    currency = django_filters.CharFilter(method="filter_currency", help_text="Bought or sold currency (ISO 4217)")
    value_date = django_filters.DateFilter()
    value_date_before = django_filters.DateFilter(field_name="value_date", lookup_expr="lte")

    class Meta:
        model = FxOrder
        fields = ["status", "account", "run", "kind", "value_date", "trade_date"]

    def filter_currency(self, qs, name, value):
        from django.db.models import Q

        return qs.filter(Q(buy_currency=value.upper()) | Q(sell_currency=value.upper()))


class CashTransferSerializer(serializers.ModelSerializer):
    from_custodian = serializers.CharField(source="from_custody_account.custodian.name", read_only=True)
    to_custodian = serializers.CharField(source="to_custody_account.custodian.name", read_only=True)
    cash_accounts = serializers.SerializerMethodField(
        help_text="Cash account numbers moved between: {from: ..., to: ...} (empty where none is kept)")

    class Meta:
        model = CashTransfer
        fields = ["id", "reference", "run", "account", "currency", "amount", "from_custody_account", "from_custodian",
                  "to_custody_account", "to_custodian", "cash_accounts", "trade_date", "value_date", "status",
                  "created_at"]
        read_only_fields = fields

    def get_cash_accounts(self, obj) -> dict:
        numbers = selectors.cash_account_numbers([(obj.from_custody_account_id, obj.currency),
                                                  (obj.to_custody_account_id, obj.currency)])
        return {"from": numbers.get((obj.from_custody_account_id, obj.currency), ""),
                "to": numbers.get((obj.to_custody_account_id, obj.currency), "")}


class CashTransferFilter(django_filters.FilterSet):
    value_date_before = django_filters.DateFilter(field_name="value_date", lookup_expr="lte")

    class Meta:
        model = CashTransfer
        fields = ["status", "account", "run", "currency", "value_date", "trade_date"]


class TransferApproveManySerializer(serializers.Serializer):
    cash_transfers = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
                                           allow_empty=False, max_length=10000)


class FxApproveManySerializer(serializers.Serializer):
    fx_orders = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID), allow_empty=False,
                                      max_length=10000)


# --- Views -----------------------------------------------------------------------------------------


class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Orders, newest first. The list grows every trading day, so it is paged by cursor: follow `next` (an
    opaque `?cursor=`) until it is null; `page_size` as on every list."""

    serializer_class = OrderSerializer
    lookup_value_regex = ID_REGEX
    filterset_class = OrderFilter
    pagination_class = Cursor
    search_fields = ["reference", "listing__ticker", "account__number"]

    def get_queryset(self):
        return orders_for(self.request.user).order_by("pk")

    @extend_schema(request=None, responses={200: OrderSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        order = self.get_object()
        services.orders_approve(order_ids=[order.pk], actor=request.user)
        return Response(OrderSerializer(self.get_queryset().get(pk=order.pk)).data)

    @extend_schema(request=ApproveManySerializer, responses={200: ApprovedSerializer})
    @action(detail=False, methods=["post"], url_path="bulk-approve")
    def approve_many(self, request):
        """Approve several proposed orders at once (all or none)."""
        data = ApproveManySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        wanted = set(data.validated_data["orders"])
        found = set(self.get_queryset().filter(pk__in=wanted).values_list("pk", flat=True))
        if wanted - found:
            raise NotFound("order(s) not found", detail={"orders": sorted(wanted - found)})
        return Response({"approved": services.orders_approve(order_ids=sorted(found), actor=request.user)})

    @extend_schema(request=ReleaseRequestSerializer, responses={200: ReleaseResultSerializer})
    @action(detail=False, methods=["post"])
    def release(self, request):
        """Release the firm's approved orders whose market is open now, in blocks per broker,
        listing and side (scope: market, account, run). A closed market is skipped and named with
        its reason; its orders wait for its own wave."""
        data = ReleaseRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        now = v.get("now") or timezone.now()
        if now > timezone.now() + dt.timedelta(minutes=5):
            raise ValidationFailed("now: may not be in the future", detail={"now": ["may not be in the future"]})
        if v.get("account"):
            _scoped_pk(scope_to_user(Account.objects.all(), request.user), v["account"], "account")
        if v.get("run"):
            _scoped_pk(scope_to_user(RebalanceRun.objects.all(), request.user), v["run"], "run")
        firm = None if sees_all_firms(request.user) else firm_of(request)
        report = services.orders_release(now=now, actor=request.user, firm=firm, market=v.get("market"),
                                         account_id=v.get("account"), run_id=v.get("run"))
        return Response(release_report_data(report))

    @extend_schema(request=SettleRequestSerializer, responses={200: SettlementResultSerializer})
    @action(detail=False, methods=["post"])
    def settle(self, request):
        """Settle the firm's allocated orders and released FX due by `as_of` into the ledger, on
        the market's and the currency's calendars (what the hourly task does for every firm). A
        failure is recorded on the order and reported; the rest settle."""
        data = SettleRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        as_of = data.validated_data.get("as_of") or timezone.localdate()
        if as_of > timezone.localdate():
            raise ValidationFailed("as_of: may not be in the future", detail={"as_of": ["may not be in the future"]})
        firm = None if sees_all_firms(request.user) else firm_of(request)
        report = services.settlements_run(as_of=as_of, firm=firm, actor=request.user)
        return Response({"as_of": report.as_of, "settled": report.settled, "fx_settled": report.fx_settled,
                         "transfers_settled": report.transfers_settled, "failed": report.failed,
                         "waiting": report.waiting})

    @extend_schema(request=None, responses={200: OrderSerializer})
    @action(detail=True, methods=["post"], url_path="retry-settlement")
    def retry_settlement(self, request, pk=None):
        """Try a failed settlement again; it settles or stays failed with the new reason."""
        order = services.order_settlement_retry(order=self.get_object(), actor=request.user)
        return Response(OrderSerializer(self.get_queryset().get(pk=order.pk)).data)

    @extend_schema(request=OrderReasonSerializer, responses={200: OrderSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        reason = OrderReasonSerializer(data=request.data)
        reason.is_valid(raise_exception=True)
        order = services.order_reject(order=self.get_object(), actor=request.user,
                                      reason=reason.validated_data["reason"])
        return Response(OrderSerializer(order).data)

    @extend_schema(request=OrderReasonSerializer, responses={200: OrderSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        reason = OrderReasonSerializer(data=request.data)
        reason.is_valid(raise_exception=True)
        order = services.order_cancel(order=self.get_object(), actor=request.user,
                                      reason=reason.validated_data["reason"])
        return Response(OrderSerializer(order).data)


class FxOrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """FX orders proposed by rebalances: spot funding and sweeps (netted per account and pair)
    and hedge forwards. Each shows the orders it funds, its value date and the netting."""

    serializer_class = FxOrderSerializer
    lookup_value_regex = ID_REGEX
    filterset_class = FxOrderFilter
    search_fields = ["reference", "account__number"]

    def get_queryset(self):
        return selectors.fx_orders_for(self.request.user).order_by("pk")

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        rows = page if page is not None else list(self.filter_queryset(self.get_queryset()))
        data = FxOrderSerializer(rows, many=True, context={"funding": selectors.fx_funding(rows),
                                                           "request": request}).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    def _fresh(self, pk):
        return Response(FxOrderSerializer(self.get_queryset().get(pk=pk)).data)

    @extend_schema(request=None, responses={200: FxOrderSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve under the firm's rules for FX: role, limit, four-eyes, sanity limit."""
        fx = self.get_object()
        services.fx_orders_approve(fx_order_ids=[fx.pk], actor=request.user)
        return self._fresh(fx.pk)

    @extend_schema(request=FxApproveManySerializer, responses={200: ApprovedSerializer})
    @action(detail=False, methods=["post"], url_path="bulk-approve")
    def approve_many(self, request):
        data = FxApproveManySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        wanted = set(data.validated_data["fx_orders"])
        found = set(self.get_queryset().filter(pk__in=wanted).values_list("pk", flat=True))
        if wanted - found:
            raise NotFound("FX order(s) not found", detail={"fx_orders": sorted(wanted - found)})
        return Response({"approved": services.fx_orders_approve(fx_order_ids=sorted(found), actor=request.user)})

    @extend_schema(request=None, responses={200: FxOrderSerializer})
    @action(detail=True, methods=["post"])
    def release(self, request, pk=None):
        """Send an approved FX order to the dealer (the owner's activation gate applies)."""
        fx = self.get_object()
        services.fx_order_release(fx_order=fx, actor=request.user)
        return self._fresh(fx.pk)

    @extend_schema(request=None, responses={200: FxOrderSerializer})
    @action(detail=True, methods=["post"])
    def settle(self, request, pk=None):
        """Book both cash legs into the ledger on the value date."""
        fx = self.get_object()
        services.fx_order_settle(fx_order=fx, actor=request.user)
        return self._fresh(fx.pk)

    @extend_schema(request=OrderReasonSerializer, responses={200: FxOrderSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        reason = OrderReasonSerializer(data=request.data)
        reason.is_valid(raise_exception=True)
        fx = self.get_object()
        services.fx_order_cancel(fx_order=fx, actor=request.user, reason=reason.validated_data["reason"])
        return self._fresh(fx.pk)


class CashTransferViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Cash transfers between an account's custody accounts, proposed by rebalances when a buy
    settles at one custodian and the cash sits at another. Approved under the firm's rules for
    transfers, settled on the value date (by the settlement task, or `settle`)."""

    serializer_class = CashTransferSerializer
    lookup_value_regex = ID_REGEX
    filterset_class = CashTransferFilter
    search_fields = ["reference", "account__number"]

    def get_queryset(self):
        return selectors.cash_transfers_for(self.request.user).order_by("pk")

    def _fresh(self, pk):
        return Response(CashTransferSerializer(self.get_queryset().get(pk=pk)).data)

    @extend_schema(request=None, responses={200: CashTransferSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve under the firm's rules for transfers: role, limit, four-eyes, sanity limit."""
        t = self.get_object()
        services.cash_transfers_approve(transfer_ids=[t.pk], actor=request.user)
        return self._fresh(t.pk)

    @extend_schema(request=TransferApproveManySerializer, responses={200: ApprovedSerializer})
    @action(detail=False, methods=["post"], url_path="bulk-approve")
    def approve_many(self, request):
        data = TransferApproveManySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        wanted = set(data.validated_data["cash_transfers"])
        found = set(self.get_queryset().filter(pk__in=wanted).values_list("pk", flat=True))
        if wanted - found:
            raise NotFound("cash transfer(s) not found", detail={"cash_transfers": sorted(wanted - found)})
        return Response({"approved": services.cash_transfers_approve(transfer_ids=sorted(found), actor=request.user)})

    @extend_schema(request=None, responses={200: CashTransferSerializer})
    @action(detail=True, methods=["post"])
    def settle(self, request, pk=None):
        """Book the transfer into both custody accounts' cash on its value date."""
        t = self.get_object()
        services.cash_transfer_settle(transfer=t, actor=request.user)
        return self._fresh(t.pk)

    @extend_schema(request=OrderReasonSerializer, responses={200: CashTransferSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        reason = OrderReasonSerializer(data=request.data)
        reason.is_valid(raise_exception=True)
        t = self.get_object()
        services.cash_transfer_cancel(transfer=t, actor=request.user, reason=reason.validated_data["reason"])
        return self._fresh(t.pk)


class BlockViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = BlockSerializer
    lookup_value_regex = ID_REGEX
    filterset_fields = ["status", "side", "trade_date", "reference"]
    search_fields = ["reference"]

    def get_queryset(self):
        return blocks_for(self.request.user).order_by("pk")

    @extend_schema(request=OrderReasonSerializer, responses={200: BlockSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Withdraw a block from its broker while nothing is filled; its orders are cancelled.
        Only a block holding the firm's orders alone can be cancelled by the firm."""
        block = self.get_object()
        if getattr(block, "shared", False) and not sees_all_firms(request.user):
            raise PermissionDenied("the block holds other firms' orders", detail={"block": block.reference})
        reason = OrderReasonSerializer(data=request.data)
        reason.is_valid(raise_exception=True)
        services.block_cancel(block=block, actor=request.user, reason=reason.validated_data["reason"])
        return Response(BlockSerializer(self.get_queryset().get(pk=block.pk)).data)

    @extend_schema(request=None, responses={200: BlockSerializer})
    @action(detail=True, methods=["post"])
    def allocate(self, request, pk=None):
        """Allocate the block's fills to its orders pro rata by lots (largest remainder), each at
        the block's average price. Only a block holding the firm's orders alone."""
        block = self.get_object()
        if getattr(block, "shared", False) and not sees_all_firms(request.user):
            raise PermissionDenied("the block holds other firms' orders", detail={"block": block.reference})
        services.block_allocate(block=block, actor=request.user)
        return Response(BlockSerializer(self.get_queryset().get(pk=block.pk)).data)


def release_report_data(report) -> dict:
    return report.as_dict()


class FillViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = FillSerializer
    lookup_value_regex = ID_REGEX
    filterset_fields = ["block", "venue"]

    def get_queryset(self):
        blocks = blocks_for(self.request.user)
        return (Fill.objects.filter(block__in=blocks.values("pk")).select_related("block")
                .annotate(shared=Exists(blocks.filter(pk=OuterRef("block_id"), shared=True))).order_by("pk"))

    @extend_schema(request={"multipart/form-data": ExecutionReportUploadSerializer},
                   responses={201: ExecutionImportResultSerializer})
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser, FormParser])
    @idempotent
    def import_reports(self, request):
        """Import a broker's execution report CSV through the import service; a bad file is
        refused whole (file, line, field) and changes nothing. A firm may import only fills of
        blocks that hold its orders alone."""
        data = ExecutionReportUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        if upload.size > MAX_REPORT_BYTES:
            raise ValidationFailed("file: larger than 5 MB", detail={"file": "too_large"})
        name = upload.name or "execution_reports.csv"
        try:
            content = upload.read().decode("utf-8")
        except UnicodeDecodeError:
            raise ExecutionImportRejected(f"{name}: not UTF-8 text", detail={"file": name}) from None
        if not sees_all_firms(request.user):
            _check_blocks_owned(request.user, content, name)
        count = services.execution_reports_import(content=content, file=name, actor=request.user)
        return Response({"file": name, "fills": count}, status=status.HTTP_201_CREATED)


def _check_blocks_owned(user, content: str, name: str) -> None:
    try:
        rows = parse_execution_reports(content, file=name)
    except ExecutionFileError:
        return  # the service refuses the file with its line and field
    refs = {r.cl_ord_id for r in rows}
    own = set(blocks_for(user).filter(reference__in=refs, shared=False).values_list("reference", flat=True))
    if refs - own:
        raise PermissionDenied("the file names blocks this firm may not fill",
                               detail={"blocks": sorted(refs - own)})


class RebalanceRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = RebalanceRunSerializer
    lookup_value_regex = ID_REGEX
    filterset_fields = ["status", "dry_run", "trade_date"]

    def get_queryset(self):
        return scope_to_user(RebalanceRun.objects.all(), self.request.user).order_by("pk")

    @extend_schema(request=RebalanceRequestSerializer,
                   responses={201: RebalanceResultSerializer, 202: RebalanceResultSerializer})
    @idempotent
    def create(self, request):
        """Rebalance the firm's active accounts (all, one account, or those following a model):
        proposed orders and FX are written unless `dry_run`. Up to services.SYNC_ACCOUNT_LIMIT accounts are
        rebalanced at once (201 with the statistics); a larger book is queued to Celery in chunks
        (202; follow the run)."""
        data = RebalanceRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        firm = firm_of(request)
        v = data.validated_data
        account_id = model_id = None
        if v.get("account"):
            account_id = _scoped_pk(scope_to_user(Account.objects.all(), request.user), v["account"], "account")
        if v.get("model"):
            model_id = _scoped_pk(models_visible_to(request.user), v["model"], "model")
        scope = RebalanceScope(trade_date=v.get("trade_date") or timezone.localdate(), firm=firm.pk,
                               accounts=(account_id,) if account_id else None, model=model_id)
        started = services.rebalance_start(scope=scope, actor=request.user, dry_run=v["dry_run"])
        stats = started.result.as_dict() if started.result else {"accounts": started.accounts, "queued": True}
        return Response({"run": RebalanceRunSerializer(started.run).data, "stats": stats},
                        status=status.HTTP_202_ACCEPTED if started.queued else status.HTTP_201_CREATED)


def _scoped_pk(qs, pk: int, what: str) -> int:
    if not qs.filter(pk=pk).exists():
        raise NotFound(f"{what} not found")
    return pk
