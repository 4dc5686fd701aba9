"""Reconciliation: custodian files, runs, and breaks that carry across days.

The `Book*` and `InstrumentIdentifier` tables are the books interface the matcher reads
(one table per input array of `matching.py`): until `accounts` and `trading.reference` are on
main they are filled by `services.books_snapshot_load` (tests, the benchmark, or a feed);
afterwards they become views/snapshots over the accounts ledger, and nothing else changes.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Value
from django.db.models.functions import Cast, Round
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

DEC: dict[str, Any] = {"max_digits": 30, "decimal_places": 8}


class RuleKind(models.TextChoices):
    LAYOUT = "layout", "Custodian file layout"
    TOLERANCE = "tolerance", "Matching tolerances"
    SLA = "sla", "Break SLA"


class RuleSet(models.Model):
    """One versioned rule file (layout, tolerances, SLA) as loaded from YAML."""

    kind = models.CharField(max_length=20, choices=RuleKind.choices)
    code = models.CharField(max_length=80)
    version = models.PositiveIntegerField()
    source = models.CharField(max_length=300)
    effective_from = models.DateField()
    spec = models.JSONField()
    sha256 = models.CharField(max_length=64)
    loaded_at = models.DateTimeField(auto_now_add=True)
    # a version is never edited: a change is a new version, by whom (none: loaded from a file)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    note = models.CharField(max_length=300, blank=True, default="", db_default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "code", "version"], name="recon_ruleset_version")]
        ordering = ["kind", "code", "-version"]
        verbose_name = "rule set (layout, tolerances, SLA)"

    def __str__(self) -> str:
        return f"{self.kind}:{self.code} v{self.version}"


BUILTIN_FORMATS = ("semt002", "camt053", "mt535", "mt940", "mt950")


class CustodianFormat(models.Model):
    """A file format a custodian sends (several per custodian: a holdings and a cash statement,
    a CSV export...). `custodian_code` is `accounts.Custodian.code` (or any code a feed uses);
    `format` is a standard (semt002, camt053, mt535, mt940, mt950) or `csv:<layout code>`; the
    file pattern (fnmatch on the file name, e.g. `*.sta`) tells files of one custodian apart.
    Versioned like the layouts: a change, or switching a format off, is a new version."""

    custodian_code = models.CharField(max_length=40)
    format = models.CharField(max_length=60)
    file_pattern = models.CharField(max_length=100, blank=True, default="",
                                    help_text="Which files of this custodian are in this format (e.g. *.sta); "
                                              "empty: any file")
    active = models.BooleanField(default=True)
    version = models.PositiveIntegerField()
    source = models.CharField(max_length=300, blank=True, default="")
    effective_from = models.DateField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["custodian_code", "format", "version"],
                                               name="recon_custodianformat_version")]
        ordering = ["custodian_code", "format", "-version"]

    def __str__(self) -> str:
        return f"{self.custodian_code}: {self.format} v{self.version}{'' if self.active else ' (off)'}"


# ---------------------------------------------------------------- books interface

class InstrumentIdentifier(models.Model):
    """Identifier -> our instrument, with the quantity factor (custodian qty x factor = ours)."""

    kind = models.CharField(max_length=20)  # isin, cusip, sedol, ticker_mic, custodian_code
    value = models.CharField(max_length=40)
    custodian_code = models.CharField(max_length=40, blank=True, default="")
    instrument_id = models.BigIntegerField(db_index=True)
    quantity_factor = models.DecimalField(max_digits=20, decimal_places=10, default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "value", "custodian_code"], name="recon_identifier_unique"),
            models.CheckConstraint(condition=models.Q(quantity_factor__gt=0), name="recon_identifier_factor_pos"),
        ]


class BookPosition(models.Model):
    """Our position per (custody account, instrument) on trade-date basis, with our price and FX."""

    custodian_code = models.CharField(max_length=40)
    custody_account = models.CharField(max_length=40)
    instrument_id = models.BigIntegerField()
    quantity = models.DecimalField(**DEC)
    price = models.DecimalField(**DEC, null=True)
    price_currency = models.CharField(max_length=3)
    fx_rate = models.DecimalField(max_digits=24, decimal_places=12, null=True)  # price ccy -> base ccy
    base_currency = models.CharField(max_length=3)
    price_source = models.CharField(max_length=40, blank=True, default="")
    as_of = models.DateField()
    # The engine's representation, computed by the database on write so that matching reads it
    # for free: exact int8 millionths of a unit, and binary floats for tolerance checks.
    quantity_micro = models.GeneratedField(
        expression=Cast(Round(F("quantity") * Value(1000000)), models.BigIntegerField()),
        output_field=models.BigIntegerField(), db_persist=True)
    price_float = models.GeneratedField(expression=Cast(F("price"), models.FloatField()),
                                        output_field=models.FloatField(), db_persist=True)
    fx_float = models.GeneratedField(expression=Cast(F("fx_rate"), models.FloatField()),
                                     output_field=models.FloatField(), db_persist=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["custodian_code", "custody_account", "instrument_id"],
                                               name="recon_bookposition_unique")]


class BookCustodyAccount(models.Model):
    """Which firm a custody account belongs to, so that breaks carry their tenant."""

    custodian_code = models.CharField(max_length=40)
    custody_account = models.CharField(max_length=40)
    firm = models.ForeignKey("onboarding.Firm", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["custodian_code", "custody_account"],
                                               name="recon_bookcustodyaccount_unique")]


class BookCash(models.Model):
    """Our cash per custody (cash) account and currency: on trade date (`amount`) and settled
    (`settled_amount`, what a bank's closing booked balance is compared with), with our rate
    to the account's base currency (1 currency = fx_rate base_currency)."""

    custodian_code = models.CharField(max_length=40)
    custody_account = models.CharField(max_length=40)
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(**DEC)
    settled_amount = models.DecimalField(**DEC, null=True, blank=True)
    fx_rate = models.DecimalField(max_digits=24, decimal_places=12, default=1)
    fx_source = models.CharField(max_length=40, blank=True, default="")
    base_currency = models.CharField(max_length=3, blank=True, default="")
    as_of = models.DateField()

    class Meta:
        verbose_name_plural = "book cash balances"
        constraints = [models.UniqueConstraint(fields=["custodian_code", "custody_account", "currency"],
                                               name="recon_bookcash_unique")]


class BookPendingTrade(models.Model):
    """A trade in our books (trade date) not yet settled: quantity signed, buy positive."""

    custodian_code = models.CharField(max_length=40)
    custody_account = models.CharField(max_length=40)
    instrument_id = models.BigIntegerField(null=True)
    quantity = models.DecimalField(**DEC, default=0)
    cash_currency = models.CharField(max_length=3, blank=True, default="")
    cash_amount = models.DecimalField(**DEC, default=0)
    trade_date = models.DateField()
    settle_date = models.DateField()
    reference = models.CharField(max_length=40, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["custodian_code", "custody_account", "instrument_id"])]


class CorporateActionStatus(models.TextChoices):
    ANNOUNCED = "announced", "Announced"
    CONFIRMED = "confirmed", "Confirmed"
    BOOKED = "booked", "Booked"


class BookCorporateAction(models.Model):
    """A corporate action changing quantities (split, consolidation, bonus issue): booked ones come
    from the ledger; announced or confirmed ones (from a file or the admin) are not booked yet, and a
    difference of exactly their entitlement is explained as `corporate_action`."""

    instrument_id = models.BigIntegerField()
    effective_date = models.DateField()
    ratio = models.DecimalField(max_digits=20, decimal_places=10)  # new quantity per old (1.1 = 1 new for 10)
    description = models.CharField(max_length=200, blank=True, default="")
    status = models.CharField(max_length=10, choices=CorporateActionStatus.choices,
                              default=CorporateActionStatus.BOOKED, db_default=CorporateActionStatus.BOOKED)
    source = models.CharField(max_length=200, blank=True, default="", db_default="")
    reference = models.CharField(max_length=60, blank=True, default="", db_default="")


class BookImport(models.Model):
    """A books file imported through `book_import` (opening positions, cash, pending trades, posted
    through the accounts ledger): kept by SHA-256 so the same bytes are imported once."""

    sha256 = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=255)
    as_of = models.DateField()
    counts = models.JSONField(default=dict)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} as of {self.as_of} ({self.sha256[:10]})"


# ---------------------------------------------------------------- files and runs

class CustodianFile(models.Model):
    """A file as received, kept with its SHA-256: the same bytes twice are one import."""

    custodian_code = models.CharField(max_length=40)
    name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    format = models.CharField(max_length=60)
    kind = models.CharField(max_length=20)  # holdings / cash
    as_of = models.DateField(null=True)
    basis = models.CharField(max_length=4, default="SETT")
    stored_path = models.CharField(max_length=500)
    received_at = models.DateTimeField(auto_now_add=True)
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    checks = models.JSONField(default=list, blank=True)  # statement consistency / continuity issues

    class Meta:
        constraints = [models.UniqueConstraint(fields=["custodian_code", "sha256"], name="recon_file_once")]
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.custodian_code} {self.name} ({self.sha256[:10]})"


class StatementBalance(models.Model):
    """Opening and closing balance of each cash statement, for the continuity check."""

    file = models.ForeignKey(CustodianFile, on_delete=models.CASCADE, related_name="balances")
    custody_account = models.CharField(max_length=40)
    currency = models.CharField(max_length=3)
    statement_number = models.CharField(max_length=20, blank=True)
    opening_date = models.DateField()
    opening = models.DecimalField(**DEC)
    closing_date = models.DateField()
    closing = models.DecimalField(**DEC)
    line = models.IntegerField(null=True)

    class Meta:
        indexes = [models.Index(fields=["custody_account", "currency", "closing_date"])]


class StatementLine(models.Model):
    """A normalised custodian line (positions or cash). The ORM path stages lines here; the
    PostgreSQL path stages a COPY of the raw file in a temporary table instead."""

    file = models.ForeignKey(CustodianFile, on_delete=models.CASCADE, related_name="lines")
    line = models.IntegerField(null=True)
    custody_account = models.CharField(max_length=40)
    isin = models.CharField(max_length=12, blank=True)
    cusip = models.CharField(max_length=9, blank=True)
    sedol = models.CharField(max_length=7, blank=True)
    ticker = models.CharField(max_length=20, blank=True)
    mic = models.CharField(max_length=4, blank=True)
    custodian_security = models.CharField(max_length=40, blank=True)
    quantity = models.DecimalField(**DEC, null=True)
    price = models.DecimalField(**DEC, null=True)
    price_currency = models.CharField(max_length=3, blank=True)
    fx_rate = models.DecimalField(max_digits=24, decimal_places=12, null=True)
    cash_currency = models.CharField(max_length=3, blank=True)
    cash_amount = models.DecimalField(**DEC, null=True)


class RunStatus(models.TextChoices):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class DailyRun(models.Model):
    """One day's reconciliation. The platform run (no firm) receives every custodian's files,
    which cover all firms; when it finishes, each firm with accounts at those custodians gets its
    own run for the day (`firm`, `parent` = the platform run) whose figures and report hold only
    that firm's lines."""

    firm = models.ForeignKey("onboarding.Firm", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="firm_runs")
    as_of = models.DateField()
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    stats = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["firm", "as_of"], condition=models.Q(firm__isnull=False),
                                    name="recon_dailyrun_firm_day"),
            models.UniqueConstraint(fields=["as_of"], condition=models.Q(firm__isnull=True),
                                    name="recon_dailyrun_platform_day"),
        ]

    def __str__(self) -> str:
        return f"daily run {self.as_of}" + (f" (firm {self.firm_id})" if self.firm_id else "")


class ReconRun(models.Model):
    custodian_code = models.CharField(max_length=40)
    as_of = models.DateField()
    file = models.ForeignKey(CustodianFile, null=True, blank=True, on_delete=models.PROTECT, related_name="runs")
    daily_run = models.ForeignKey(DailyRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.RUNNING)
    engine = models.CharField(max_length=10, default="numpy")  # numpy or sql
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    stats = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["custodian_code", "as_of"])]

    def __str__(self) -> str:
        return f"run {self.pk} {self.custodian_code} {self.as_of}"


class LineStatus(models.TextChoices):
    MATCHED = "matched"
    EXPLAINED = "explained"
    BREAK = "break"


class ReconLine(models.Model):
    """Every line a run compared, matched ones included, with both sides' figures: the record of
    what the run saw. Written set-wise by the run (millions of rows: no FK constraint, one index).
    The ISIN of a known instrument is read through the identifier map (`instrument_id`);
    `identifier` holds the custodian's identifier of an unknown line, or the currency of a cash line."""

    run = models.ForeignKey(ReconRun, on_delete=models.DO_NOTHING, related_name="lines", db_constraint=False)
    asset = models.CharField(max_length=10, default="position")
    custody_account = models.CharField(max_length=40)
    instrument_id = models.BigIntegerField(null=True, blank=True)
    identifier = models.CharField(max_length=60, blank=True, default="")
    status = models.CharField(max_length=10, choices=LineStatus.choices)
    kind = models.CharField(max_length=30, blank=True, default="")
    rule = models.CharField(max_length=200, blank=True, default="")   # what matched it, or what explained it
    custodian_quantity = models.DecimalField(**DEC, null=True)
    book_quantity = models.DecimalField(**DEC, null=True)
    custodian_price = models.FloatField(null=True)
    book_price = models.FloatField(null=True)
    price_currency = models.CharField(max_length=3, blank=True, default="")
    custodian_fx = models.FloatField(null=True)
    book_fx = models.FloatField(null=True)
    book_price_source = models.CharField(max_length=40, blank=True, default="")
    custodian_source = models.CharField(max_length=60, blank=True, default="")  # the statement (format) read
    # the custodian's own price and FX sources, where the file carries them (a MIC, a vendor, a BIC)
    custodian_price_source = models.CharField(max_length=40, blank=True, default="", db_default="")
    custodian_fx_source = models.CharField(max_length=40, blank=True, default="", db_default="")
    amount_local = models.FloatField(null=True)
    amount_base = models.FloatField(null=True)
    line = models.IntegerField(null=True)


# ---------------------------------------------------------------- breaks

class BreakState(models.TextChoices):
    OPEN = "open"
    ASSIGNED = "assigned"
    INVESTIGATING = "investigating"
    RESOLVED = "resolved"
    WRITTEN_OFF = "written_off"


ACTIVE_STATES = (BreakState.OPEN, BreakState.ASSIGNED, BreakState.INVESTIGATING)


class BreakKind(models.TextChoices):
    QUANTITY = "quantity"
    PRICE = "price"
    MARKET_VALUE = "market_value"
    PENDING_SETTLEMENT = "pending_settlement"
    CORPORATE_ACTION = "corporate_action"
    UNKNOWN_INSTRUMENT = "unknown_instrument"
    MISSING_AT_CUSTODIAN = "missing_at_custodian"
    MISSING_IN_BOOKS = "missing_in_books"
    CASH = "cash"


class Break(ConcurrentTransitionMixin, models.Model):
    """A difference between our books and a custodian, under a stable key
    (custodian, custody account, instrument or currency) so that it carries across daily runs
    with its owner, notes and age. Explained differences are kept as resolved breaks."""

    key = models.CharField(max_length=64)  # unique by constraint below (no extra LIKE index)
    firm = models.ForeignKey("onboarding.Firm", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                             db_index=False)
    custodian_code = models.CharField(max_length=40)
    custody_account = models.CharField(max_length=40)
    instrument_id = models.BigIntegerField(null=True, blank=True)
    identifier = models.CharField(max_length=60, blank=True)  # custodian identifier, or currency for cash
    asset = models.CharField(max_length=10, default="position")  # position or cash
    kind = models.CharField(max_length=30, choices=BreakKind.choices)
    cause = models.CharField(max_length=200, blank=True)
    explained = models.BooleanField(default=False)
    state = FSMField(default=BreakState.OPEN, choices=BreakState.choices, protected=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+", db_index=False)
    custodian_quantity = models.DecimalField(**DEC, null=True)
    book_quantity = models.DecimalField(**DEC, null=True)
    custodian_price = models.DecimalField(**DEC, null=True)
    book_price = models.DecimalField(**DEC, null=True)
    custodian_fx = models.DecimalField(max_digits=24, decimal_places=12, null=True)
    book_fx = models.DecimalField(max_digits=24, decimal_places=12, null=True)
    # each side's sources: ours from the books (price source, rate source), the custodian's where its file says
    book_price_source = models.CharField(max_length=40, blank=True, default="", db_default="")
    book_fx_source = models.CharField(max_length=40, blank=True, default="", db_default="")
    custodian_price_source = models.CharField(max_length=40, blank=True, default="", db_default="")
    custodian_fx_source = models.CharField(max_length=40, blank=True, default="", db_default="")
    amount_base = models.DecimalField(max_digits=24, decimal_places=2, default=0)
    base_currency = models.CharField(max_length=3, default="USD")
    # the difference (custodian - ours) in the line's own currency: the cash account's currency,
    # or the price currency of a position; amount_base is the same converted at our rate
    amount_local = models.DecimalField(max_digits=30, decimal_places=8, null=True, blank=True)
    local_currency = models.CharField(max_length=3, blank=True, default="")
    priority = models.PositiveSmallIntegerField(default=4)
    sla_rule = models.CharField(max_length=40, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    first_seen = models.DateField()
    last_seen = models.DateField()
    # Written set-wise tens of thousands at a time by the run that owns them: no per-row RI trigger.
    first_run = models.ForeignKey(ReconRun, null=True, on_delete=models.DO_NOTHING, related_name="+",
                                  db_constraint=False, db_index=False)
    last_run = models.ForeignKey(ReconRun, null=True, on_delete=models.DO_NOTHING, related_name="+",
                                 db_constraint=False, db_index=False)
    occurrences = models.PositiveIntegerField(default=1)
    line = models.IntegerField(null=True, blank=True)
    resolution_reason = models.TextField(blank=True)
    write_off_requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                               on_delete=models.PROTECT, related_name="+", db_index=False)
    written_off_approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                                on_delete=models.PROTECT, related_name="+", db_index=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # Few indexes: runs insert tens of thousands of breaks at once. Owner and firm are indexed
        # only where set (partial), which new breaks never are.
        indexes = [
            models.Index(fields=["custodian_code", "state"]), models.Index(fields=["state", "priority"]),
            models.Index(fields=["owner", "state"], condition=models.Q(owner__isnull=False), name="recon_break_owner"),
            models.Index(fields=["firm", "state"], condition=models.Q(firm__isnull=False), name="recon_break_firm"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["key"], name="recon_break_key_unique"),
            models.CheckConstraint(condition=~models.Q(state="resolved") | ~models.Q(resolution_reason=""),
                                   name="recon_break_resolved_has_reason"),
            models.CheckConstraint(condition=~models.Q(state="written_off")
                                   | models.Q(written_off_approved_by__isnull=False),
                                   name="recon_break_writeoff_approved"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.custodian_code}/{self.custody_account} {self.identifier or self.instrument_id}"

    @transition(field=state, source=[BreakState.OPEN, BreakState.ASSIGNED], target=BreakState.ASSIGNED)
    def assign(self):
        pass

    @transition(field=state, source=[BreakState.OPEN, BreakState.ASSIGNED], target=BreakState.INVESTIGATING)
    def investigate(self):
        pass

    @transition(field=state, source=list(ACTIVE_STATES), target=BreakState.RESOLVED)
    def resolve(self):
        pass

    @transition(field=state, source=BreakState.INVESTIGATING, target=BreakState.WRITTEN_OFF)
    def write_off(self):
        pass

    @transition(field=state, source=BreakState.RESOLVED, target=BreakState.OPEN)
    def reopen(self):
        pass


class BreakNote(models.Model):
    brk = models.ForeignKey(Break, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
