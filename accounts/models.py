"""Accounts and their books of record.

Household -> Account (owner party, base currency, booking centre) -> CustodyAccount at a
Custodian -> cash per currency and positions per instrument. Sleeves split an account between
models (UMA), each with its own cash.

The ledger is `Transaction` (one business event) with `Movement` legs (one security quantity or
one cash amount each, with the currency on the row). Both are append-only: a correction is a
new transaction that reverses the old one. `Position`, `CashBalance` and `TaxLot` are derived
from the ledger by `accounts.services` and may be rebuilt from it at any time.
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from onboarding.models import Firm, Party
from trading.reference.models import (
    BookingCentreKind,
    Instrument,
    InvestorType,
    Listing,
    Market,
    ccy_check,
    currency_field,
    validate_bic,
)

QTY: dict[str, Any] = {"max_digits": 28, "decimal_places": 8}
MONEY: dict[str, Any] = {"max_digits": 24, "decimal_places": 6}
RATE: dict[str, Any] = {"max_digits": 24, "decimal_places": 10}
WEIGHT: dict[str, Any] = {"max_digits": 12, "decimal_places": 10}


class Household(models.Model):
    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="households")
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["firm", "name"], name="uniq_household_name_per_firm")]

    def __str__(self) -> str:
        return self.name


class FileFormat(models.TextChoices):
    SEMT002 = "semt002", "ISO 20022 semt.002 holdings"
    CAMT053 = "camt053", "ISO 20022 camt.053 cash statement"
    MT535 = "mt535", "SWIFT MT535 holdings"
    MT940 = "mt940", "SWIFT MT940 cash statement"
    MT950 = "mt950", "SWIFT MT950 cash statement"
    CSV = "csv", "Custodian CSV / fixed width (declarative layout)"


class Custodian(models.Model):
    """A custodian bank or broker, keyed by `code` (a BIC is optional: a US broker may have none).
    What files it sends and how to read them is reconciliation's business
    (`trading.reconciliation.models.CustodianFormat`); `file_formats` and `csv_layout` are kept
    only as the legacy hint they always were."""

    code = models.CharField(max_length=40, unique=True, blank=True,
                            help_text="Short key used in files, commands and the API; defaults to the BIC")
    name = models.CharField(max_length=200, unique=True)
    bic = models.CharField(max_length=11, unique=True, null=True, blank=True, validators=[validate_bic])
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    markets = models.ManyToManyField(Market, blank=True, related_name="custodians", help_text="Markets it settles")
    file_formats = models.JSONField(default=list, blank=True)
    csv_layout = models.CharField(max_length=60, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                name="custodian_bic_format", condition=Q(bic__regex=r"^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$")
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def save(self, *args, **kwargs):
        if not self.bic:
            self.bic = None
        if not self.code:
            self.code = self.bic or re.sub(r"[^A-Z0-9]+", "_", self.name.upper()).strip("_")[:40]
        super().save(*args, **kwargs)


class TaxStatus(models.TextChoices):
    TAXABLE = "taxable", "Taxable"
    TAX_DEFERRED = "tax_deferred", "Tax-deferred (pension, IRA, ...)"
    TAX_EXEMPT = "tax_exempt", "Tax-exempt (charity, Roth, ...)"


class LotReliefMethod(models.TextChoices):
    FIFO = "fifo", "First in, first out"
    HIFO = "hifo", "Highest cost first"
    LOWEST_GAIN = "lowest_gain", "Lowest gain in base currency first"
    SPECIFIC = "specific", "Specific lot"


class TradeScope(models.TextChoices):
    WHOLE_ACCOUNT = "whole_account", "Trade every line toward its target once the account is out of band"
    OUT_OF_BAND_LINES = "out_of_band_lines", "Trade only the lines out of their band (and, when cash is out of band, the lines that bring it back)"


SHARE: dict[str, Any] = {"max_digits": 5, "decimal_places": 4}


def _share_check(name: str, field: str) -> models.CheckConstraint:
    return models.CheckConstraint(name=name, condition=Q(**{f"{field}__isnull": True})
                                  | (Q(**{f"{field}__gte": 0}) & Q(**{f"{field}__lte": 1})))


class AccountStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    CLOSED = "closed", "Closed"


class Account(ConcurrentTransitionMixin, models.Model):
    """A client account: one owner, one base currency, one booking centre, one or more custody
    accounts. Its status only moves through `accounts.services`."""

    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="accounts")
    owner = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="accounts")
    household = models.ForeignKey(
        Household, null=True, blank=True, on_delete=models.PROTECT, related_name="accounts"
    )
    number = models.CharField(max_length=40)
    name = models.CharField(max_length=200)
    base_currency = currency_field()
    booking_centre = models.CharField(max_length=10, choices=BookingCentreKind.choices)
    booking_jurisdiction = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2 of the booking centre")
    tax_status = models.CharField(max_length=20, choices=TaxStatus.choices, default=TaxStatus.TAXABLE)
    investor_type = models.CharField(max_length=30, choices=InvestorType.choices, default=InvestorType.RETAIL)
    is_us_person = models.BooleanField(default=False, help_text="Owner is a US person (Reg S, FATCA)")
    lot_relief_method = models.CharField(max_length=20, choices=LotReliefMethod.choices, default=LotReliefMethod.FIFO)
    hedge_ratio = models.DecimalField(
        max_digits=5, decimal_places=4, default=Decimal("0"),
        help_text="Share of each foreign-currency exposure to hedge back to the base currency with forwards (0-1)",
    )
    hedge_band = models.DecimalField(
        max_digits=5, decimal_places=4, default=Decimal("0.05"),
        help_text="Tolerance around the hedged share, as a share of the exposure, before forwards are adjusted",
    )
    allows_short = models.BooleanField(default=False)
    # rebalancing settings: empty takes the model's, then the firm's (RebalancePolicy)
    band_abs = models.DecimalField(**SHARE, null=True, blank=True,
                                   help_text="Absolute drift band, a share of the account (0.02 = 2 points); empty: the model's or the firm's")
    band_rel = models.DecimalField(**SHARE, null=True, blank=True,
                                   help_text="Relative drift band, a share of each target weight (0.25); empty: the model's or the firm's")
    min_trade = models.DecimalField(**MONEY, null=True, blank=True,
                                    help_text="Smallest trade worth doing, in the account's base currency; empty: the model's or the firm's")
    min_improvement = models.DecimalField(**SHARE, null=True, blank=True,
                                          help_text="Share of a line's deviation a trade must remove (0.5); empty: the model's or the firm's")
    trade_scope = models.CharField(max_length=20, choices=TradeScope.choices, blank=True, default="",
                                   help_text="Out of band: trade the whole account or only the lines out of band; empty: the model's or the firm's")
    status = FSMField(default=AccountStatus.PENDING, choices=AccountStatus.choices, protected=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["number"]
        indexes = [models.Index(fields=["firm", "status"])]
        constraints = [
            models.UniqueConstraint(fields=["firm", "number"], name="uniq_account_number_per_firm"),
            ccy_check("base_currency", "account_base_ccy_iso"),
            models.CheckConstraint(name="account_hedge_ratio_0_1",
                                   condition=models.Q(hedge_ratio__gte=0) & models.Q(hedge_ratio__lte=1)),
            models.CheckConstraint(name="account_hedge_band_0_1",
                                   condition=models.Q(hedge_band__gte=0) & models.Q(hedge_band__lte=1)),
            _share_check("account_band_abs_0_1", "band_abs"),
            _share_check("account_band_rel_0_1", "band_rel"),
            _share_check("account_min_improvement_0_1", "min_improvement"),
            models.CheckConstraint(name="account_min_trade_not_negative",
                                   condition=Q(min_trade__isnull=True) | Q(min_trade__gte=0)),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"

    @transition(field=status, source=AccountStatus.PENDING, target=AccountStatus.ACTIVE)
    def activate(self) -> None:
        pass

    @transition(field=status, source=AccountStatus.ACTIVE, target=AccountStatus.SUSPENDED)
    def suspend(self) -> None:
        pass

    @transition(field=status, source=AccountStatus.SUSPENDED, target=AccountStatus.ACTIVE)
    def reinstate(self) -> None:
        pass

    @transition(
        field=status,
        source=[AccountStatus.PENDING, AccountStatus.ACTIVE, AccountStatus.SUSPENDED],
        target=AccountStatus.CLOSED,
    )
    def close(self) -> None:
        pass


class CustodyAccount(models.Model):
    """The account's safekeeping account at one custodian, for the markets it holds there."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="custody_accounts")
    custodian = models.ForeignKey(Custodian, on_delete=models.PROTECT, related_name="custody_accounts")
    number = models.CharField(max_length=40)
    markets = models.ManyToManyField(Market, blank=True, related_name="custody_accounts")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["custodian__name", "number"]
        constraints = [models.UniqueConstraint(fields=["custodian", "number"], name="uniq_custody_account_number")]

    def __str__(self) -> str:
        return f"{self.custodian.name if self.custodian_id else ''} {self.number}"


class CustodyCashAccount(models.Model):
    """A cash account the custodian keeps for a custody account in one currency (what an
    MT940 `:25:` or a camt.053 `Acct/Id` names: an IBAN or the custodian's own number)."""

    custody_account = models.ForeignKey(CustodyAccount, on_delete=models.PROTECT, related_name="cash_accounts")
    currency = currency_field()
    number = models.CharField(max_length=40, help_text="IBAN or the custodian's account number")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["custody_account", "currency"]
        constraints = [
            ccy_check("currency", "custody_cash_ccy_iso"),
            models.UniqueConstraint(fields=["custody_account", "currency"], name="uniq_custody_cash_per_currency"),
        ]
        indexes = [models.Index(fields=["number"])]

    def __str__(self) -> str:
        return f"{self.number} ({self.currency})"


# --- Model portfolios ---------------------------------------------------------------------


class ModelStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    RETIRED = "retired", "Retired"


class ModelPortfolio(models.Model):
    """One version of an asset manager's model. A new delivery is a new version; targets of a
    published version never change."""

    publisher = models.ForeignKey(
        Firm, null=True, blank=True, on_delete=models.PROTECT, related_name="published_models"
    )
    provider = models.CharField(max_length=200, help_text="Asset manager name as delivered")
    code = models.CharField(max_length=60)
    version = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    base_currency = currency_field()
    effective_from = models.DateField()
    status = models.CharField(max_length=10, choices=ModelStatus.choices, default=ModelStatus.PUBLISHED)
    source_file = models.CharField(max_length=300, blank=True)
    checksum = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the delivery file")
    # rebalancing defaults for accounts following this version (an account's own settings win;
    # empty here: the firm's)
    band_abs = models.DecimalField(**SHARE, null=True, blank=True, help_text="Absolute drift band (0.02)")
    band_rel = models.DecimalField(**SHARE, null=True, blank=True, help_text="Relative drift band (0.25)")
    min_trade = models.DecimalField(**MONEY, null=True, blank=True,
                                    help_text="Smallest trade worth doing, in the model's base currency")
    min_improvement = models.DecimalField(**SHARE, null=True, blank=True,
                                          help_text="Share of a deviation a trade must remove")
    trade_scope = models.CharField(max_length=20, choices=TradeScope.choices, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="uniq_model_version"),
            ccy_check("base_currency", "model_base_ccy_iso"),
            _share_check("model_band_abs_0_1", "band_abs"),
            _share_check("model_band_rel_0_1", "band_rel"),
            _share_check("model_min_improvement_0_1", "min_improvement"),
            models.CheckConstraint(name="model_min_trade_not_negative",
                                   condition=Q(min_trade__isnull=True) | Q(min_trade__gte=0)),
        ]

    def __str__(self) -> str:
        return f"{self.code} v{self.version}"


class ModelTarget(models.Model):
    """One target line: an instrument, a sleeve model (for a model of models), or cash in a
    currency, with its weight (0..1). A version's weights sum to 1 (checked by the service)."""

    model = models.ForeignKey(ModelPortfolio, on_delete=models.CASCADE, related_name="targets")
    instrument = models.ForeignKey(Instrument, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    sleeve_model = models.ForeignKey(
        ModelPortfolio, null=True, blank=True, on_delete=models.PROTECT, related_name="parent_targets"
    )
    cash_currency = models.CharField(max_length=3, blank=True)
    weight = models.DecimalField(**WEIGHT)

    class Meta:
        constraints = [
            models.CheckConstraint(name="model_target_weight_range", condition=Q(weight__gte=0) & Q(weight__lte=1)),
            models.CheckConstraint(
                name="model_target_exactly_one_kind",
                condition=(
                    (Q(instrument__isnull=False) & Q(sleeve_model__isnull=True) & Q(cash_currency=""))
                    | (Q(instrument__isnull=True) & Q(sleeve_model__isnull=False) & Q(cash_currency=""))
                    | (Q(instrument__isnull=True) & Q(sleeve_model__isnull=True) & Q(cash_currency__regex=r"^[A-Z]{3}$"))
                ),
            ),
            models.UniqueConstraint(
                fields=["model", "instrument"], condition=Q(instrument__isnull=False), name="uniq_model_target_instrument"
            ),
            models.UniqueConstraint(
                fields=["model", "sleeve_model"], condition=Q(sleeve_model__isnull=False), name="uniq_model_target_sleeve"
            ),
            models.UniqueConstraint(
                fields=["model", "cash_currency"], condition=~Q(cash_currency=""), name="uniq_model_target_cash"
            ),
        ]

    def __str__(self) -> str:
        what = self.instrument_id or self.sleeve_model_id or self.cash_currency
        return f"{self.model_id}: {what} {self.weight}"


class Sleeve(models.Model):
    """A slice of an account following one model, with its own cash (UMA)."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="sleeves")
    name = models.CharField(max_length=100)
    model = models.ForeignKey(ModelPortfolio, null=True, blank=True, on_delete=models.PROTECT, related_name="sleeves")
    target_weight = models.DecimalField(**WEIGHT, default=Decimal(0), help_text="Share of the account (0..1)")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["account", "name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="uniq_sleeve_name_per_account"),
            models.CheckConstraint(
                name="sleeve_weight_range", condition=Q(target_weight__gte=0) & Q(target_weight__lte=1)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}/{self.name}"


class SubscriptionStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ENDED = "ended", "Ended"


class ModelSubscription(models.Model):
    """An account (or one of its sleeves) follows a model. With `follow_latest` the rebalancer
    uses the newest published version of `model.code`; otherwise exactly `model`."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="subscriptions")
    sleeve = models.ForeignKey(Sleeve, null=True, blank=True, on_delete=models.PROTECT, related_name="subscriptions")
    model = models.ForeignKey(ModelPortfolio, on_delete=models.PROTECT, related_name="subscriptions")
    follow_latest = models.BooleanField(default=True)
    status = models.CharField(max_length=10, choices=SubscriptionStatus.choices, default=SubscriptionStatus.ACTIVE)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(status="active", sleeve__isnull=True),
                name="uniq_active_subscription_per_account",
            ),
            models.UniqueConstraint(
                fields=["sleeve"],
                condition=Q(status="active", sleeve__isnull=False),
                name="uniq_active_subscription_per_sleeve",
            ),
            models.CheckConstraint(
                name="subscription_dates_ordered",
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} -> {self.model}"


class OverrideKind(models.TextChoices):
    RESTRICTED = "restricted", "Restricted (do not buy; sell if held unless told otherwise)"
    SUBSTITUTE = "substitute", "Substitute (hold `substitute` instead of `instrument`)"
    CASH_TARGET = "cash_target", "Cash target in a currency"


class ModelOverride(models.Model):
    """Account-level changes to a model: restricted securities, substitutes, cash targets."""

    subscription = models.ForeignKey(ModelSubscription, on_delete=models.CASCADE, related_name="overrides")
    kind = models.CharField(max_length=20, choices=OverrideKind.choices)
    instrument = models.ForeignKey(Instrument, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    substitute = models.ForeignKey(Instrument, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3, blank=True)
    weight = models.DecimalField(**WEIGHT, null=True, blank=True)
    sell_if_held = models.BooleanField(default=False, help_text="Restricted: sell existing holdings")
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="override_fields_match_kind",
                condition=(
                    (Q(kind="restricted") & Q(instrument__isnull=False) & Q(substitute__isnull=True) & Q(currency="") & Q(weight__isnull=True))
                    | (Q(kind="substitute") & Q(instrument__isnull=False) & Q(substitute__isnull=False) & Q(currency="") & Q(weight__isnull=True))
                    | (
                        Q(kind="cash_target") & Q(instrument__isnull=True) & Q(substitute__isnull=True)
                        & Q(currency__regex=r"^[A-Z]{3}$") & Q(weight__gte=0) & Q(weight__lte=1)
                    )
                ),
            ),
            models.CheckConstraint(
                name="override_substitute_differs",
                condition=Q(substitute__isnull=True) | ~Q(substitute=F("instrument")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.instrument_id or self.currency}"


# --- The ledger ---------------------------------------------------------------------------


class TransactionKind(models.TextChoices):
    BUY = "buy", "Buy"
    SELL = "sell", "Sell"
    SELL_SHORT = "sell_short", "Sell short"
    BUY_TO_COVER = "buy_to_cover", "Buy to cover"
    FX_SPOT = "fx_spot", "FX spot"
    DIVIDEND = "dividend", "Cash dividend (with withholding)"
    INTEREST = "interest", "Interest"
    FEE = "fee", "Fee"
    DEPOSIT = "deposit", "Deposit"
    WITHDRAWAL = "withdrawal", "Withdrawal"
    TRANSFER = "transfer", "Transfer (between custody accounts or sleeves)"
    SPLIT = "split", "Corporate action: split"
    ADR_RATIO_CHANGE = "adr_ratio_change", "Corporate action: ADR ratio change"
    REVERSAL = "reversal", "Reversal of an earlier transaction"


class Transaction(models.Model):
    """One business event in an account's books. Append-only (the database refuses UPDATE and
    DELETE on PostgreSQL and UPDATE on SQLite). `external_ref` makes posting idempotent."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="transactions")
    kind = models.CharField(max_length=20, choices=TransactionKind.choices)
    trade_date = models.DateField()
    settle_date = models.DateField()
    external_ref = models.CharField(max_length=100, blank=True, help_text="Order / fill / custodian reference")
    corporate_action_ref = models.CharField(max_length=100, blank=True)
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    description = models.CharField(max_length=300, blank=True)
    detail = models.JSONField(default=dict, blank=True, help_text="Price, FX rate, withholding rate, split ratio ...")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["trade_date", "id"]
        indexes = [models.Index(fields=["account", "trade_date"])]
        constraints = [
            models.CheckConstraint(name="transaction_settles_on_or_after_trade", condition=Q(settle_date__gte=F("trade_date"))),
            models.UniqueConstraint(
                fields=["account", "external_ref"], condition=~Q(external_ref=""), name="uniq_transaction_external_ref"
            ),
            models.CheckConstraint(
                name="transaction_reversal_points_back",
                condition=(Q(kind="reversal") & Q(reverses__isnull=False)) | (~Q(kind="reversal") & Q(reverses__isnull=True)),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.trade_date} #{self.pk}"


class LegType(models.TextChoices):
    SECURITY = "security", "Security"
    CASH = "cash", "Cash"


class CashPurpose(models.TextChoices):
    """What a cash leg is, so reconciliation and reporting can group it."""

    PRINCIPAL = "principal", "Trade principal"
    COMMISSION = "commission", "Commission"
    FEE = "fee", "Fee"
    TAX = "tax", "Transaction tax / stamp duty"
    DIVIDEND = "dividend", "Dividend (gross)"
    WITHHOLDING = "withholding", "Withholding tax"
    INTEREST = "interest", "Interest"
    FX = "fx", "FX"
    DEPOSIT = "deposit", "Deposit"
    WITHDRAWAL = "withdrawal", "Withdrawal"
    TRANSFER = "transfer", "Transfer"


class Movement(models.Model):
    """One leg of a transaction: a signed security quantity, or a signed cash amount in
    `currency`. Account, custody account, sleeve and dates are copied from the transaction (and
    may differ per leg for settle_date) so balances aggregate without joins.

    For a security leg `amount` is the signed local book cost / proceeds in `currency`;
    `amount_base` is the same in the account's base currency at the trade's FX rate."""

    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="movements")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="movements")
    custody_account = models.ForeignKey(CustodyAccount, on_delete=models.PROTECT, related_name="movements")
    sleeve = models.ForeignKey(Sleeve, null=True, blank=True, on_delete=models.PROTECT, related_name="movements")
    leg = models.CharField(max_length=10, choices=LegType.choices)
    instrument = models.ForeignKey(Instrument, null=True, blank=True, on_delete=models.PROTECT, related_name="movements")
    listing = models.ForeignKey(Listing, null=True, blank=True, on_delete=models.PROTECT, related_name="movements")
    quantity = models.DecimalField(**QTY, null=True, blank=True)
    is_short = models.BooleanField(default=False, help_text="Leg of a short sale or cover")
    cash_purpose = models.CharField(max_length=20, choices=CashPurpose.choices, blank=True)
    currency = currency_field()
    amount = models.DecimalField(**MONEY, default=Decimal(0))
    amount_base = models.DecimalField(**MONEY, null=True, blank=True)
    trade_date = models.DateField()
    settle_date = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["account", "leg", "settle_date"]),
            models.Index(fields=["custody_account", "instrument"]),
            models.Index(fields=["account", "currency"]),
        ]
        constraints = [
            ccy_check("currency", "movement_ccy_iso"),
            models.CheckConstraint(name="movement_settles_on_or_after_trade", condition=Q(settle_date__gte=F("trade_date"))),
            models.CheckConstraint(
                name="movement_leg_shape",
                condition=(
                    (Q(leg="security") & Q(instrument__isnull=False) & Q(quantity__isnull=False) & ~Q(quantity=0) & Q(cash_purpose=""))
                    | (
                        Q(leg="cash") & Q(instrument__isnull=True) & Q(listing__isnull=True) & Q(quantity__isnull=True)
                        & ~Q(cash_purpose="") & Q(is_short=False)
                    )
                ),
            ),
        ]

    def __str__(self) -> str:
        if self.leg == LegType.SECURITY:
            return f"{self.quantity} x {self.instrument_id}"
        return f"{self.amount} {self.currency}"


class TaxLot(models.Model):
    """An acquisition still (partly) held. `quantity_open` falls as sales relieve it
    (`LotRelief` rows record each relief); the original `quantity` and costs never change."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="tax_lots")
    custody_account = models.ForeignKey(CustodyAccount, on_delete=models.PROTECT, related_name="tax_lots")
    sleeve = models.ForeignKey(Sleeve, null=True, blank=True, on_delete=models.PROTECT, related_name="tax_lots")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="tax_lots")
    opening_movement = models.OneToOneField(Movement, on_delete=models.PROTECT, related_name="tax_lot")
    acquisition_date = models.DateField()
    quantity = models.DecimalField(**QTY)
    quantity_open = models.DecimalField(**QTY)
    local_currency = currency_field()
    cost_local = models.DecimalField(**MONEY, help_text="Total cost incl. charges, local currency")
    base_currency = currency_field()
    cost_base = models.DecimalField(**MONEY, help_text="Total cost in the account's base currency")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["acquisition_date", "id"]
        indexes = [models.Index(fields=["account", "instrument", "acquisition_date"])]
        constraints = [
            models.CheckConstraint(name="taxlot_quantity_positive", condition=Q(quantity__gt=0)),
            models.CheckConstraint(
                name="taxlot_open_within_quantity", condition=Q(quantity_open__gte=0) & Q(quantity_open__lte=F("quantity"))
            ),
            ccy_check("local_currency", "taxlot_local_ccy_iso"),
            ccy_check("base_currency", "taxlot_base_ccy_iso"),
        ]

    def __str__(self) -> str:
        return f"lot {self.pk} {self.quantity_open}/{self.quantity} of {self.instrument_id} from {self.acquisition_date}"

    @property
    def unit_cost_local(self) -> Decimal:
        return self.cost_local / self.quantity


class LotRelief(models.Model):
    """How much of a lot a disposal relieved, with the cost taken out and the proceeds."""

    lot = models.ForeignKey(TaxLot, on_delete=models.PROTECT, related_name="reliefs")
    movement = models.ForeignKey(Movement, on_delete=models.PROTECT, related_name="reliefs")
    quantity = models.DecimalField(**QTY)
    cost_local = models.DecimalField(**MONEY)
    cost_base = models.DecimalField(**MONEY)
    proceeds_local = models.DecimalField(**MONEY)
    proceeds_base = models.DecimalField(**MONEY)
    method = models.CharField(max_length=20, choices=LotReliefMethod.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(name="lotrelief_quantity_positive", condition=Q(quantity__gt=0)),
            models.UniqueConstraint(fields=["lot", "movement"], name="uniq_lotrelief_lot_movement"),
        ]

    @property
    def gain_local(self) -> Decimal:
        return self.proceeds_local - self.cost_local

    @property
    def gain_base(self) -> Decimal:
        return self.proceeds_base - self.cost_base


# --- Derived balances (rebuilt from the ledger by services) ---------------------------------


class Basis(models.TextChoices):
    TRADE = "trade", "Trade date"
    SETTLE = "settle", "Settlement date"


class Position(models.Model):
    """Quantity of an instrument per custody account and sleeve, on a trade-date or a
    settlement-date basis, as of `as_of`. Derived; `accounts.services.books_refresh` rewrites it."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="positions")
    custody_account = models.ForeignKey(CustodyAccount, on_delete=models.CASCADE, related_name="positions")
    sleeve = models.ForeignKey(Sleeve, null=True, blank=True, on_delete=models.CASCADE, related_name="positions")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="positions")
    basis = models.CharField(max_length=10, choices=Basis.choices)
    quantity = models.DecimalField(**QTY)
    cost_local = models.DecimalField(**MONEY, default=Decimal(0))
    local_currency = currency_field()
    cost_base = models.DecimalField(**MONEY, default=Decimal(0))
    as_of = models.DateField()

    class Meta:
        indexes = [models.Index(fields=["account", "basis"])]
        constraints = [
            models.UniqueConstraint(
                fields=["custody_account", "instrument", "basis"],
                condition=Q(sleeve__isnull=True),
                name="uniq_position_no_sleeve",
            ),
            models.UniqueConstraint(
                fields=["custody_account", "sleeve", "instrument", "basis"],
                condition=Q(sleeve__isnull=False),
                name="uniq_position_sleeve",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.custody_account_id} {self.instrument_id} {self.quantity} ({self.basis})"


class CashBalance(models.Model):
    """Cash per currency per custody account and sleeve, trade-date or settlement-date basis."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="cash_balances")
    custody_account = models.ForeignKey(CustodyAccount, on_delete=models.CASCADE, related_name="cash_balances")
    sleeve = models.ForeignKey(Sleeve, null=True, blank=True, on_delete=models.CASCADE, related_name="cash_balances")
    currency = currency_field()
    basis = models.CharField(max_length=10, choices=Basis.choices)
    amount = models.DecimalField(**MONEY)
    as_of = models.DateField()

    class Meta:
        indexes = [models.Index(fields=["account", "basis"])]
        constraints = [
            ccy_check("currency", "cashbalance_ccy_iso"),
            models.UniqueConstraint(
                fields=["custody_account", "currency", "basis"],
                condition=Q(sleeve__isnull=True),
                name="uniq_cash_no_sleeve",
            ),
            models.UniqueConstraint(
                fields=["custody_account", "sleeve", "currency", "basis"],
                condition=Q(sleeve__isnull=False),
                name="uniq_cash_sleeve",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.custody_account_id} {self.amount} {self.currency} ({self.basis})"


# --- Approval rules ----------------------------------------------------------------------------


class ApprovalKind(models.TextChoices):
    ORDER = "order", "Security orders"
    FX = "fx", "FX orders"
    DEPOSIT = "deposit", "Deposits"
    WITHDRAWAL = "withdrawal", "Withdrawals"
    TRANSFER = "transfer", "Cash transfers between custodians"


def _default_approvers() -> list[str]:
    return ["advisor", "firm_admin", "operations"]


class ApprovalPolicy(models.Model):
    """Who at a firm may approve orders, FX, deposits and withdrawals, up to what amount (each in
    the account's base currency), whether the person who proposed may approve it (four-eyes
    when not), and the sanity limit no single amount may exceed. A firm without a row works to
    the defaults of a new row (`accounts.approvals.policy_for`). Edited in the admin, audited."""

    firm = models.OneToOneField(Firm, on_delete=models.CASCADE, related_name="approval_policy")
    order_roles = models.JSONField(default=_default_approvers, help_text="Roles that may approve security orders")
    fx_roles = models.JSONField(default=_default_approvers, help_text="Roles that may approve FX orders")
    deposit_roles = models.JSONField(default=_default_approvers, help_text="Roles that may book deposits")
    withdrawal_roles = models.JSONField(default=_default_approvers, help_text="Roles that may book withdrawals")
    transfer_roles = models.JSONField(default=_default_approvers,
                                      help_text="Roles that may approve cash transfers between custodians")
    order_limit = models.DecimalField(**MONEY, null=True, blank=True,
                                      help_text="Largest single order one approver may approve (base currency); empty: none")
    fx_limit = models.DecimalField(**MONEY, null=True, blank=True, help_text="Largest single FX order (base currency)")
    deposit_limit = models.DecimalField(**MONEY, null=True, blank=True, help_text="Largest single deposit (base currency)")
    withdrawal_limit = models.DecimalField(**MONEY, null=True, blank=True,
                                           help_text="Largest single withdrawal (base currency)")
    transfer_limit = models.DecimalField(**MONEY, null=True, blank=True,
                                         help_text="Largest single cash transfer between custodians (base currency)")
    proposer_may_approve = models.BooleanField(
        default=False, help_text="Off: four-eyes, whoever ran the rebalance may not approve its orders or FX")
    auto_approve_fx = models.BooleanField(
        default=False, help_text="On: an FX order is approved with the orders it funds; off: approved on its own")
    sanity_limit = models.DecimalField(
        **MONEY, default=Decimal("10000000000"),
        help_text="No single amount above this (base currency) is accepted from anyone: an obvious keying error")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")

    class Meta:
        verbose_name_plural = "approval policies"
        constraints = [
            models.CheckConstraint(name="approval_sanity_positive", condition=Q(sanity_limit__gt=0)),
        ]

    def __str__(self) -> str:
        return f"approval policy of {self.firm}"

    def roles_for(self, kind: str) -> list[str]:
        return list(getattr(self, f"{kind}_roles") or [])

    def limit_for(self, kind: str) -> Decimal | None:
        return getattr(self, f"{kind}_limit")


class RebalancePolicy(models.Model):
    """A firm's rebalancing defaults: what an account uses when neither it nor its model says.
    A firm without a row works to the defaults of a new row. Edited in the admin, audited."""

    firm = models.OneToOneField(Firm, on_delete=models.CASCADE, related_name="rebalance_policy")
    band_abs = models.DecimalField(**SHARE, default=Decimal("0.02"), help_text="Absolute drift band (0.02 = 2 points)")
    band_rel = models.DecimalField(**SHARE, default=Decimal("0.25"),
                                   help_text="Relative drift band, a share of each target weight")
    min_trade = models.DecimalField(**MONEY, default=Decimal(0), help_text="Smallest trade worth doing")
    min_trade_currency = currency_field(default="USD", help_text="Currency of the minimum trade")
    min_improvement = models.DecimalField(**SHARE, default=Decimal(0),
                                          help_text="Share of a line's deviation a trade must remove")
    trade_scope = models.CharField(max_length=20, choices=TradeScope.choices, default=TradeScope.WHOLE_ACCOUNT)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")

    class Meta:
        verbose_name_plural = "rebalance policies"
        constraints = [
            _share_check("policy_band_abs_0_1", "band_abs"),
            _share_check("policy_band_rel_0_1", "band_rel"),
            _share_check("policy_min_improvement_0_1", "min_improvement"),
            models.CheckConstraint(name="policy_min_trade_not_negative", condition=Q(min_trade__gte=0)),
            ccy_check("min_trade_currency", "policy_min_trade_ccy_iso"),
        ]

    def __str__(self) -> str:
        return f"rebalance policy of {self.firm}"
