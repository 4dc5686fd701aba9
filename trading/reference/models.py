"""The instrument and market master: issuers, instruments, markets, listings, settlement
cycles, prices, FX rates and eligibility rules.

Shape: Issuer -> Instrument (ISIN) -> Listing (market MIC, ticker, trading currency, price
unit). An ADR or GDR is an instrument of its own pointing at its underlying ordinary with a
ratio; an F-share is a listing of the ordinary itself on a US OTC market. Rules (settlement
cycles, eligibility) are rows loaded from YAML with `source` and `effective_from`.
"""
from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from onboarding.money import is_currency

from .identifiers import (  # noqa: F401
    validate_bic,
    validate_cusip,
    validate_figi,
    validate_isin,
    validate_lei,
    validate_sedol,
)

CCY_REGEX = r"^[A-Z]{3}$"


def validate_currency(value: str) -> None:
    if not is_currency(value) or value != value.upper():
        raise ValidationError(f"{value!r} is not an ISO 4217 currency code", code="invalid_currency")


def currency_field(**kwargs) -> models.CharField:
    return models.CharField(max_length=3, validators=[validate_currency], **kwargs)


def ccy_check(field: str, name: str, *, allow_blank: bool = False) -> models.CheckConstraint:
    condition = Q(**{f"{field}__regex": CCY_REGEX})
    if allow_blank:
        condition |= Q(**{field: ""})
    return models.CheckConstraint(name=name, condition=condition)


# --- Choices shared with accounts and the engines ---------------------------------------------


class InvestorType(models.TextChoices):
    """MiFID II client categories, also used for eligibility outside the EU."""

    RETAIL = "retail", "Retail"
    PROFESSIONAL = "professional", "Professional"
    ELIGIBLE_COUNTERPARTY = "eligible_counterparty", "Eligible counterparty"


class BookingCentreKind(models.TextChoices):
    ONSHORE = "onshore", "Onshore"
    OFFSHORE = "offshore", "Offshore"


class InstrumentType(models.TextChoices):
    EQUITY = "equity", "Ordinary share"
    PREFERRED = "preferred", "Preferred share"
    ADR = "adr", "American depositary receipt"
    GDR = "gdr", "Global depositary receipt"
    ETF = "etf", "Exchange-traded fund"
    FUND = "fund", "Mutual fund"
    BOND = "bond", "Bond"
    RIGHT = "right", "Right or warrant"


class LineKind(models.TextChoices):
    """How an instrument relates to its economic underlying."""

    ORDINARY = "ordinary", "Ordinary (the underlying itself)"
    DEPOSITARY_RECEIPT = "depositary_receipt", "Depositary receipt (ADR / GDR)"
    LOCAL_LINE = "local_line", "Local line (e.g. A-share / H-share, foreign board)"


class AdrSponsorship(models.TextChoices):
    NONE = "", "Not a depositary receipt"
    SPONSORED_L1 = "sponsored_l1", "Sponsored Level 1 (OTC)"
    SPONSORED_L2 = "sponsored_l2", "Sponsored Level 2 (listed)"
    SPONSORED_L3 = "sponsored_l3", "Sponsored Level 3 (listed, capital raising)"
    UNSPONSORED = "unsponsored", "Unsponsored (OTC, no issuer agreement)"


# --- Currencies and markets ----------------------------------------------------------------


class Currency(models.Model):
    """A settlement currency and the holiday calendar that decides its value dates.

    `holiday_calendar` names a calendar in the `holidays` package: "financial:ECB" (TARGET2),
    "financial:NYSE", or "country:GB" for a country's public holidays."""

    code = models.CharField(max_length=3, primary_key=True, validators=[validate_currency])
    name = models.CharField(max_length=100)
    holiday_calendar = models.CharField(max_length=40, blank=True)
    source = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name_plural = "currencies"
        ordering = ["code"]
        constraints = [ccy_check("code", "currency_code_iso")]

    def __str__(self) -> str:
        return self.code


class Market(models.Model):
    """A trading venue by ISO 10383 MIC."""

    mic = models.CharField(max_length=4, unique=True)
    name = models.CharField(max_length=200)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    time_zone = models.CharField(max_length=64, help_text="IANA zone, e.g. Europe/London")
    open_time = models.TimeField(help_text="Local continuous-trading open")
    close_time = models.TimeField(help_text="Local continuous-trading close")
    calendar_code = models.CharField(
        max_length=20, blank=True, help_text="exchange_calendars code (e.g. XLON); blank if not covered"
    )
    settlement_currency = currency_field()
    is_otc = models.BooleanField(default=False)
    source = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["mic"]
        constraints = [
            models.CheckConstraint(name="market_mic_format", condition=Q(mic__regex=r"^[A-Z0-9]{4}$")),
            ccy_check("settlement_currency", "market_settlement_ccy_iso"),
            models.CheckConstraint(name="market_open_before_close", condition=Q(open_time__lt=models.F("close_time"))),
        ]

    def __str__(self) -> str:
        return self.mic


# --- Issuers, instruments, listings --------------------------------------------------------


class Issuer(models.Model):
    name = models.CharField(max_length=300)
    lei = models.CharField(max_length=20, blank=True, validators=[validate_lei])
    country = models.CharField(max_length=2, help_text="Country of incorporation, ISO 3166-1 alpha-2")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["lei"], condition=~Q(lei=""), name="uniq_issuer_lei"),
        ]

    def __str__(self) -> str:
        return self.name


class Instrument(models.Model):
    """A security identified by its ISIN. Depositary receipts and local lines point at the
    instrument that carries the economic exposure (`underlying`), with `underlying_ratio`
    ordinaries per unit (an ADR ratio of 4 means one ADR = 4 ordinaries)."""

    issuer = models.ForeignKey(Issuer, null=True, blank=True, on_delete=models.PROTECT, related_name="instruments")
    name = models.CharField(max_length=300)
    instrument_type = models.CharField(max_length=20, choices=InstrumentType.choices)
    isin = models.CharField(max_length=12, unique=True, validators=[validate_isin])
    cusip = models.CharField(max_length=9, blank=True, validators=[validate_cusip])
    sedol = models.CharField(max_length=7, blank=True, validators=[validate_sedol])
    figi = models.CharField(max_length=12, blank=True, validators=[validate_figi], help_text="Composite FIGI")
    country = models.CharField(max_length=2, blank=True, help_text="Country of risk, ISO 3166-1 alpha-2")
    currency = currency_field(help_text="Denomination / primary trading currency")
    line_kind = models.CharField(max_length=20, choices=LineKind.choices, default=LineKind.ORDINARY)
    underlying = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="derived_lines"
    )
    underlying_ratio = models.DecimalField(
        max_digits=18, decimal_places=8, null=True, blank=True, help_text="Underlying units per one unit of this line"
    )
    sponsorship = models.CharField(max_length=20, choices=AdrSponsorship.choices, blank=True, default="")
    depositary = models.CharField(max_length=200, blank=True)
    eligibility_tags = models.JSONField(
        default=list, blank=True, help_text='Tags that eligibility rules match, e.g. ["reg_s", "stock_connect"]'
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["cusip"]), models.Index(fields=["sedol"]), models.Index(fields=["figi"])]
        constraints = [
            models.CheckConstraint(name="instrument_isin_format", condition=Q(isin__regex=r"^[A-Z]{2}[A-Z0-9]{9}[0-9]$")),
            ccy_check("currency", "instrument_ccy_iso"),
            models.CheckConstraint(
                name="instrument_underlying_matches_line_kind",
                condition=(
                    (Q(line_kind="ordinary") & Q(underlying__isnull=True) & Q(underlying_ratio__isnull=True))
                    | (~Q(line_kind="ordinary") & Q(underlying__isnull=False) & Q(underlying_ratio__gt=0))
                ),
            ),
            models.CheckConstraint(
                name="instrument_sponsorship_only_on_receipts",
                condition=Q(sponsorship="") | Q(line_kind="depositary_receipt"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.isin})"

    @property
    def economic_underlying(self) -> Instrument:
        return self.underlying if self.underlying_id else self


class Listing(models.Model):
    """An instrument's line on a market. Prices are quoted in `price_unit` (e.g. GBp) and
    divided by `price_divisor` to give `trading_currency` (GBP): 1234.5 GBp / 100 = 12.345 GBP."""

    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="listings")
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="listings")
    ticker = models.CharField(max_length=20)
    trading_currency = currency_field()
    price_unit = models.CharField(max_length=5, help_text="Quote unit: GBP, GBp, GBX, ZAc, USD, ...")
    price_divisor = models.DecimalField(
        max_digits=8, decimal_places=0, default=Decimal(1), validators=[MinValueValidator(Decimal(1))]
    )
    lot_size = models.DecimalField(max_digits=18, decimal_places=6, default=Decimal(1))
    tick_size = models.DecimalField(max_digits=18, decimal_places=8, default=Decimal("0.01"))
    allows_fractional = models.BooleanField(default=False)
    is_primary = models.BooleanField(default=False)
    figi = models.CharField(max_length=12, blank=True, validators=[validate_figi], help_text="Exchange-level FIGI")
    sedol = models.CharField(max_length=7, blank=True, validators=[validate_sedol])
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["market__mic", "ticker"]
        constraints = [
            models.UniqueConstraint(fields=["market", "ticker"], name="uniq_listing_market_ticker"),
            models.UniqueConstraint(
                fields=["instrument", "market", "trading_currency"], name="uniq_listing_instrument_market_ccy"
            ),
            models.UniqueConstraint(
                fields=["instrument"], condition=Q(is_primary=True), name="uniq_listing_primary_per_instrument"
            ),
            ccy_check("trading_currency", "listing_ccy_iso"),
            models.CheckConstraint(name="listing_divisor_positive", condition=Q(price_divisor__gte=1)),
            models.CheckConstraint(name="listing_lot_positive", condition=Q(lot_size__gt=0)),
            models.CheckConstraint(name="listing_tick_positive", condition=Q(tick_size__gt=0)),
        ]

    def __str__(self) -> str:
        return f"{self.ticker} {self.market.mic if self.market_id else ''} ({self.price_unit})"


class SettlementCycle(models.Model):
    """Settlement lag in business days for a market and instrument type, from a date.
    Blank `instrument_type` is the market default. Loaded from settlement_cycles.yaml."""

    market = models.ForeignKey(Market, on_delete=models.CASCADE, related_name="settlement_cycles")
    instrument_type = models.CharField(max_length=20, choices=InstrumentType.choices, blank=True)
    days = models.PositiveSmallIntegerField(help_text="Securities settle T+days")
    cash_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Cash leg T+days when it differs (China A-shares: T+0 securities, T+1 cash)"
    )
    effective_from = models.DateField()
    source = models.CharField(max_length=500)
    version = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["market__mic", "instrument_type", "effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["market", "instrument_type", "effective_from"], name="uniq_settlement_cycle"
            ),
            models.CheckConstraint(name="settlement_cycle_days_range", condition=Q(days__lte=10)),
        ]

    def __str__(self) -> str:
        return f"{self.market_id} {self.instrument_type or '*'} T+{self.days} from {self.effective_from}"


# --- Prices and FX --------------------------------------------------------------------------


class PriceType(models.TextChoices):
    CLOSE = "close", "Close"
    MID = "mid", "Mid"
    BID = "bid", "Bid"
    ASK = "ask", "Ask"
    NAV = "nav", "NAV"


class Price(models.Model):
    """A price for a listing as quoted (`price` in `price_unit`); `price / price_divisor` is in
    `currency`. The unit and divisor are copied from the listing so each row reads alone."""

    listing = models.ForeignKey(Listing, on_delete=models.PROTECT, related_name="prices")
    price_date = models.DateField()
    as_of = models.DateTimeField(help_text="When the source stamped the price (UTC)")
    price_type = models.CharField(max_length=10, choices=PriceType.choices, default=PriceType.CLOSE)
    price = models.DecimalField(max_digits=24, decimal_places=8)
    price_unit = models.CharField(max_length=5)
    price_divisor = models.DecimalField(max_digits=8, decimal_places=0, default=Decimal(1))
    currency = currency_field()
    source = models.CharField(max_length=40, help_text="e.g. BLOOMBERG, LSEG, CUSTODIAN:XYZ")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["listing", "-price_date"])]
        constraints = [
            models.UniqueConstraint(
                fields=["listing", "price_date", "price_type", "source"], name="uniq_price_per_source"
            ),
            models.CheckConstraint(name="price_positive", condition=Q(price__gt=0)),
            models.CheckConstraint(name="price_divisor_positive", condition=Q(price_divisor__gte=1)),
            ccy_check("currency", "price_ccy_iso"),
        ]

    def __str__(self) -> str:
        return f"{self.listing_id} {self.price_date} {self.price} {self.price_unit}"

    @property
    def price_in_currency(self) -> Decimal:
        return self.price / self.price_divisor


class FxRate(models.Model):
    """`rate` units of `quote_currency` for one unit of `base_currency` (EUR/USD 1.08:
    base EUR, quote USD)."""

    base_currency = currency_field()
    quote_currency = currency_field()
    rate_date = models.DateField()
    as_of = models.DateTimeField()
    rate = models.DecimalField(max_digits=24, decimal_places=10)
    source = models.CharField(max_length=40, help_text="e.g. WMR_4PM_LONDON, ECB, CUSTODIAN:XYZ")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["base_currency", "quote_currency", "-rate_date"])]
        constraints = [
            models.UniqueConstraint(
                fields=["base_currency", "quote_currency", "rate_date", "source"], name="uniq_fx_rate_per_source"
            ),
            models.CheckConstraint(name="fx_rate_positive", condition=Q(rate__gt=0)),
            models.CheckConstraint(name="fx_rate_distinct_ccys", condition=~Q(base_currency=models.F("quote_currency"))),
            ccy_check("base_currency", "fx_base_ccy_iso"),
            ccy_check("quote_currency", "fx_quote_ccy_iso"),
        ]

    def __str__(self) -> str:
        return f"{self.base_currency}/{self.quote_currency} {self.rate} {self.rate_date} ({self.source})"


# --- Eligibility ----------------------------------------------------------------------------


class EligibilityRule(models.Model):
    """Who may hold instruments carrying `tag`. Empty lists mean "no restriction on this axis".

    The rule applies to an account booked in `applies_to_booking_jurisdictions` (empty: any).
    An account is ineligible when the instrument carries the tag and the account's investor type
    is not in `allowed_investor_types`, or its booking jurisdiction is not in
    `allowed_booking_jurisdictions`, or it is a US person and `us_persons_allowed` is false."""

    code = models.CharField(max_length=60)
    tag = models.CharField(max_length=60, db_index=True)
    description = models.CharField(max_length=300)
    applies_to_booking_jurisdictions = models.JSONField(
        default=list, blank=True, help_text="The rule only applies to accounts booked here (empty: everywhere)"
    )
    allowed_investor_types = models.JSONField(default=list, blank=True)
    allowed_booking_jurisdictions = models.JSONField(default=list, blank=True)
    allowed_booking_centre_kinds = models.JSONField(default=list, blank=True)
    us_persons_allowed = models.BooleanField(default=True)
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    source = models.CharField(max_length=500)
    version = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["tag", "code", "effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["code", "effective_from"], name="uniq_eligibility_rule_version"),
            models.CheckConstraint(
                name="eligibility_rule_dates_ordered",
                condition=Q(effective_to__isnull=True) | Q(effective_to__gt=models.F("effective_from")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.tag})"
