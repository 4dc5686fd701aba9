"""Rebalance runs, orders, blocks, fills, allocations and the broker master.

Lifecycle of a security order (django-fsm-2, moved only by `trading.services`):

    proposed -> approved -> released -> partially_filled -> filled -> allocated -> settled
    proposed/approved/released -> cancelled;  proposed -> rejected;  allocated -> failed_to_settle

Orders for one listing, side and broker released together form a Block sent to the broker;
fills come back on the block and are allocated to its orders pro rata by lot size.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django_fsm import FSMField, transition

from accounts.models import Account, CustodyAccount
from onboarding.models import Firm
from trading.reference.models import Listing

QTY: dict[str, Any] = {"max_digits": 28, "decimal_places": 8}
MONEY: dict[str, Any] = {"max_digits": 24, "decimal_places": 6}
PRICE: dict[str, Any] = {"max_digits": 24, "decimal_places": 8}
RATE: dict[str, Any] = {"max_digits": 24, "decimal_places": 10}


class Broker(models.Model):
    """Which markets a broker reaches and which custodians it settles with (from brokers.yaml)."""

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=200)
    lei = models.CharField(max_length=20, blank=True)
    fix_target_comp_id = models.CharField(max_length=40, blank=True)
    markets = models.JSONField(default=list, help_text="MICs the broker reaches")
    custodians = models.JSONField(default=list, help_text="Custodian names it settles with")
    priority = models.PositiveIntegerField(default=100, help_text="Lower is preferred")
    source = models.CharField(max_length=300)
    effective_from = models.DateField()
    version = models.PositiveIntegerField(default=1)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["priority", "code"]

    def __str__(self) -> str:
        return self.code


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class RebalanceRun(models.Model):
    """One rebalance over a scope. `key` makes a chunked run idempotent: a chunk already
    written for the same key is not written again."""

    key = models.CharField(max_length=120, unique=True)
    firm = models.ForeignKey(Firm, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    scope = models.JSONField(default=dict, blank=True)
    trade_date = models.DateField()
    dry_run = models.BooleanField(default=False)
    status = models.CharField(max_length=12, choices=RunStatus.choices, default=RunStatus.RUNNING)
    stats = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"run {self.key}"


class RunChunk(models.Model):
    """A chunk of a run done by one worker (ids in); unique so a retried task does nothing."""

    run = models.ForeignKey(RebalanceRun, on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField()
    accounts = models.PositiveIntegerField(default=0)
    orders = models.PositiveIntegerField(default=0)
    fx_orders = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "number"], name="uniq_run_chunk")]


class Side(models.TextChoices):
    BUY = "buy", "Buy"
    SELL = "sell", "Sell"


class OrderStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    APPROVED = "approved", "Approved"
    RELEASED = "released", "Released"
    PARTIALLY_FILLED = "partially_filled", "Partially filled"
    FILLED = "filled", "Filled"
    ALLOCATED = "allocated", "Allocated"
    SETTLED = "settled", "Settled"
    CANCELLED = "cancelled", "Cancelled"
    REJECTED = "rejected", "Rejected"
    FAILED_TO_SETTLE = "failed_to_settle", "Failed to settle"


class BlockStatus(models.TextChoices):
    OPEN = "open", "Released to broker"
    PARTIALLY_FILLED = "partially_filled", "Partially filled"
    FILLED = "filled", "Filled"
    ALLOCATED = "allocated", "Allocated"
    CANCELLED = "cancelled", "Cancelled"


class Block(models.Model):
    """Orders for one listing, side and broker across accounts, sent as one ticket."""

    reference = models.CharField(max_length=40, unique=True, help_text="ClOrdID sent to the broker")
    listing = models.ForeignKey(Listing, on_delete=models.PROTECT, related_name="+")
    broker = models.ForeignKey(Broker, on_delete=models.PROTECT, related_name="blocks")
    side = models.CharField(max_length=4, choices=Side.choices)
    trade_date = models.DateField()
    currency = models.CharField(max_length=3)
    quantity = models.DecimalField(**QTY)
    filled_quantity = models.DecimalField(**QTY, default=Decimal(0))
    average_price = models.DecimalField(**PRICE, null=True, blank=True)
    status = FSMField(default=BlockStatus.OPEN, choices=BlockStatus.choices, protected=True)
    released_at = models.DateTimeField()

    class Meta:
        ordering = ["-released_at", "reference"]
        constraints = [
            models.CheckConstraint(name="block_quantity_positive", condition=Q(quantity__gt=0)),
            models.CheckConstraint(name="block_fill_within_quantity",
                                   condition=Q(filled_quantity__gte=0) & Q(filled_quantity__lte=F("quantity"))),
        ]

    def __str__(self) -> str:
        return self.reference

    @transition(field=status, source=[BlockStatus.OPEN, BlockStatus.PARTIALLY_FILLED],
                target=BlockStatus.PARTIALLY_FILLED)
    def fill_partially(self) -> None:
        pass

    @transition(field=status, source=[BlockStatus.OPEN, BlockStatus.PARTIALLY_FILLED], target=BlockStatus.FILLED)
    def fill(self) -> None:
        pass

    @transition(field=status, source=[BlockStatus.FILLED, BlockStatus.PARTIALLY_FILLED], target=BlockStatus.ALLOCATED)
    def allocate(self) -> None:
        pass

    @transition(field=status, source=[BlockStatus.OPEN], target=BlockStatus.CANCELLED)
    def cancel(self) -> None:
        pass


class Order(models.Model):
    """A proposed security trade for one account, routed to a custody account and a broker."""

    # A rebalance writes hundreds of thousands of rows in one COPY, and PostgreSQL checks a
    # foreign key constraint row by row (about 10 us a key here). The keys are instead checked
    # set-wise by a statement-level trigger with a transition table (migration 0002): one
    # anti-join per key per statement, refusing the whole statement if any row points nowhere.
    # The referenced rows are never deleted (accounts, listings, custody accounts and brokers are
    # deactivated or closed; Django's PROTECT guards the ORM path). Indexes are kept to what the
    # queries need, and each costs the rebalance's COPY one insertion per order: (account, status)
    # serves account lookups; (status, trade_date) leaves out proposed orders (the bulk a run
    # writes, found by their run or account); the run is a BRIN index on PostgreSQL (a run's orders
    # are written together, so a few page ranges per run; migration 0004), a b-tree elsewhere.
    run = models.ForeignKey(RebalanceRun, null=True, blank=True, on_delete=models.PROTECT, related_name="orders",
                            db_constraint=False, db_index=False)
    reference = models.CharField(max_length=40)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="orders", db_index=False,
                                db_constraint=False)
    custody_account = models.ForeignKey(CustodyAccount, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="orders", db_index=False, db_constraint=False)
    listing = models.ForeignKey(Listing, on_delete=models.PROTECT, related_name="+", db_index=False,
                                db_constraint=False)
    broker = models.ForeignKey(Broker, null=True, blank=True, on_delete=models.PROTECT, related_name="orders",
                               db_index=False, db_constraint=False)
    block = models.ForeignKey(Block, null=True, blank=True, on_delete=models.PROTECT, related_name="orders",
                              db_index=False)
    side = models.CharField(max_length=4, choices=Side.choices)
    quantity = models.DecimalField(**QTY)
    currency = models.CharField(max_length=3)
    estimated_price = models.DecimalField(**PRICE, help_text="Quote units (e.g. GBp)")
    estimated_value = models.DecimalField(**MONEY, help_text="Trading currency")
    filled_quantity = models.DecimalField(**QTY, default=Decimal(0))
    average_price = models.DecimalField(**PRICE, null=True, blank=True)
    trade_date = models.DateField()
    settle_date = models.DateField()
    estimated_gain = models.DecimalField(**MONEY, null=True, blank=True, help_text="Sells, base currency")
    loss_sale = models.BooleanField(default=False)
    status = FSMField(default=OrderStatus.PROPOSED, choices=OrderStatus.choices, protected=True)
    released_at = models.DateTimeField(null=True, blank=True)
    settlement_error = models.CharField(max_length=500, blank=True, default="", db_default="",
                                        help_text="Why the last settlement attempt failed (kept until it settles)")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["trade_date", "account", "-side", "id"]
        indexes = [
            models.Index(fields=["status", "trade_date"], condition=~Q(status=OrderStatus.PROPOSED),
                         name="order_status_not_proposed_idx"),
            models.Index(fields=["account", "status"]),
            models.Index(fields=["block"], condition=Q(block__isnull=False), name="order_block_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["reference"], name="uniq_order_reference"),
            models.CheckConstraint(name="order_quantity_positive", condition=Q(quantity__gt=0)),
            models.CheckConstraint(name="order_fill_within_quantity",
                                   condition=Q(filled_quantity__gte=0) & Q(filled_quantity__lte=F("quantity"))),
            models.CheckConstraint(name="order_settles_on_or_after_trade", condition=Q(settle_date__gte=F("trade_date"))),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.side} {self.quantity}"

    @transition(field=status, source=OrderStatus.PROPOSED, target=OrderStatus.APPROVED)
    def approve(self) -> None:
        pass

    @transition(field=status, source=OrderStatus.PROPOSED, target=OrderStatus.REJECTED)
    def reject(self) -> None:
        pass

    @transition(field=status, source=OrderStatus.APPROVED, target=OrderStatus.RELEASED)
    def release(self) -> None:
        pass

    @transition(field=status, source=[OrderStatus.RELEASED, OrderStatus.PARTIALLY_FILLED],
                target=OrderStatus.PARTIALLY_FILLED)
    def fill_partially(self) -> None:
        pass

    @transition(field=status, source=[OrderStatus.RELEASED, OrderStatus.PARTIALLY_FILLED], target=OrderStatus.FILLED)
    def fill(self) -> None:
        pass

    @transition(field=status, source=[OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED], target=OrderStatus.ALLOCATED)
    def allocate(self) -> None:
        pass

    @transition(field=status, source=OrderStatus.ALLOCATED, target=OrderStatus.SETTLED)
    def settle(self) -> None:
        pass

    @transition(field=status, source=OrderStatus.ALLOCATED, target=OrderStatus.FAILED_TO_SETTLE)
    def fail_settlement(self) -> None:
        pass

    @transition(field=status, source=OrderStatus.FAILED_TO_SETTLE, target=OrderStatus.ALLOCATED)
    def retry_settlement(self) -> None:
        pass

    @transition(field=status, source=[OrderStatus.PROPOSED, OrderStatus.APPROVED, OrderStatus.RELEASED],
                target=OrderStatus.CANCELLED)
    def cancel(self) -> None:
        pass


class FxKind(models.TextChoices):
    SPOT = "spot", "Spot"
    FORWARD = "forward", "Forward (hedge adjustment)"
    ROLL = "roll", "Forward (roll)"


class FxOrderStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    APPROVED = "approved", "Approved"
    RELEASED = "released", "Released"
    SETTLED = "settled", "Settled"
    CANCELLED = "cancelled", "Cancelled"


class FxOrder(models.Model):
    """Buy `buy_amount` of `buy_currency` against `sell_amount` of `sell_currency` for value on
    `value_date`: spot funding/sweeps netted per account and pair, or hedge forwards."""

    # keys checked set-wise by a statement trigger, as for Order (migration 0002)
    run = models.ForeignKey(RebalanceRun, null=True, blank=True, on_delete=models.PROTECT, related_name="fx_orders",
                            db_constraint=False)
    reference = models.CharField(max_length=40)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="fx_orders", db_constraint=False)
    kind = models.CharField(max_length=8, choices=FxKind.choices, default=FxKind.SPOT)
    buy_currency = models.CharField(max_length=3)
    buy_amount = models.DecimalField(**MONEY)
    sell_currency = models.CharField(max_length=3)
    sell_amount = models.DecimalField(**MONEY)
    rate = models.DecimalField(**RATE, help_text="sell currency per unit of buy currency")
    trade_date = models.DateField()
    value_date = models.DateField()
    # both legs settle at this custody account's cash accounts in the two currencies (key checked
    # set-wise by the statement trigger, migration 0006)
    custody_account = models.ForeignKey(CustodyAccount, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="fx_orders", db_index=False, db_constraint=False,
                                        help_text="Where both legs settle (its cash account in each currency)")
    status = FSMField(default=FxOrderStatus.PROPOSED, choices=FxOrderStatus.choices, protected=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["trade_date", "account", "id"]
        constraints = [
            models.UniqueConstraint(fields=["reference"], name="uniq_fx_order_reference"),
            models.CheckConstraint(name="fx_amounts_positive", condition=Q(buy_amount__gt=0) & Q(sell_amount__gt=0)),
            models.CheckConstraint(name="fx_pair_differs", condition=~Q(buy_currency=F("sell_currency"))),
            models.CheckConstraint(name="fx_value_on_or_after_trade", condition=Q(value_date__gte=F("trade_date"))),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.buy_currency}/{self.sell_currency}"

    @transition(field=status, source=FxOrderStatus.PROPOSED, target=FxOrderStatus.APPROVED)
    def approve(self) -> None:
        pass

    @transition(field=status, source=FxOrderStatus.APPROVED, target=FxOrderStatus.RELEASED)
    def release(self) -> None:
        pass

    @transition(field=status, source=FxOrderStatus.RELEASED, target=FxOrderStatus.SETTLED)
    def settle(self) -> None:
        pass

    @transition(field=status, source=[FxOrderStatus.PROPOSED, FxOrderStatus.APPROVED], target=FxOrderStatus.CANCELLED)
    def cancel(self) -> None:
        pass


class Fill(models.Model):
    """One execution on a block (from an execution report)."""

    block = models.ForeignKey(Block, on_delete=models.PROTECT, related_name="fills")
    exec_id = models.CharField(max_length=60, unique=True)
    quantity = models.DecimalField(**QTY)
    price = models.DecimalField(**PRICE)
    executed_at = models.DateTimeField()
    venue = models.CharField(max_length=10, blank=True)
    source_file = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["executed_at", "id"]
        constraints = [
            models.CheckConstraint(name="fill_quantity_positive", condition=Q(quantity__gt=0)),
            models.CheckConstraint(name="fill_price_positive", condition=Q(price__gt=0)),
        ]


class Allocation(models.Model):
    """A block's fills allocated to one order, at the block's average price."""

    block = models.ForeignKey(Block, on_delete=models.PROTECT, related_name="allocations")
    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="allocation")
    quantity = models.DecimalField(**QTY)
    average_price = models.DecimalField(**PRICE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(name="allocation_quantity_nonnegative", condition=Q(quantity__gte=0))]


class TransferStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    APPROVED = "approved", "Approved"
    SETTLED = "settled", "Settled"
    CANCELLED = "cancelled", "Cancelled"


class CashTransfer(models.Model):
    """Cash the rebalance proposes to move between two custody accounts of one account, in one
    currency, for value on a business day of that currency: a buy settles at one custodian while
    the cash sits at another. Approved under the firm's ApprovalPolicy (transfer roles and limit,
    four-eyes), then settled on its value date into both custody accounts' cash."""

    run = models.ForeignKey(RebalanceRun, null=True, blank=True, on_delete=models.PROTECT,
                            related_name="cash_transfers")
    reference = models.CharField(max_length=40, unique=True)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="cash_transfers")
    from_custody_account = models.ForeignKey(CustodyAccount, on_delete=models.PROTECT, related_name="+")
    to_custody_account = models.ForeignKey(CustodyAccount, on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(**MONEY)
    trade_date = models.DateField()
    value_date = models.DateField()
    status = FSMField(default=TransferStatus.PROPOSED, choices=TransferStatus.choices, protected=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["trade_date", "account", "id"]
        indexes = [models.Index(fields=["status", "value_date"])]
        constraints = [
            models.CheckConstraint(name="transfer_amount_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(name="transfer_between_two_custody_accounts",
                                   condition=~Q(from_custody_account=F("to_custody_account"))),
            models.CheckConstraint(name="transfer_value_on_or_after_trade", condition=Q(value_date__gte=F("trade_date"))),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.amount} {self.currency}"

    @transition(field=status, source=TransferStatus.PROPOSED, target=TransferStatus.APPROVED)
    def approve(self) -> None:
        pass

    @transition(field=status, source=TransferStatus.APPROVED, target=TransferStatus.SETTLED)
    def settle(self) -> None:
        pass

    @transition(field=status, source=[TransferStatus.PROPOSED, TransferStatus.APPROVED], target=TransferStatus.CANCELLED)
    def cancel(self) -> None:
        pass
