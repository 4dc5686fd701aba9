"""Tax documentation: forms captured from parties, the treaty and withholding tables loaded from
the rule files, the form rules, reporting institutions and report runs."""
from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from onboarding.models import Firm, Party, User

from .fields import EncryptedJSONField
from .forms_catalogue import FORM_TYPES

FormType = models.TextChoices("FormType", [(k, (k, v)) for k, v in FORM_TYPES.items()])  # type: ignore[misc]


class TaxFormStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    RECEIVED = "received", "Received"
    VALID = "valid", "Valid"
    INVALID = "invalid", "Invalid"
    EXPIRED = "expired", "Expired"
    SUPERSEDED = "superseded", "Superseded"


class TaxForm(ConcurrentTransitionMixin, models.Model):
    """One tax document given by a party, as structured data. Moves only through
    `compliance.tax.services`; every move writes an audit event."""

    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="tax_forms")
    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="tax_forms")
    related_party = models.ForeignKey(
        Party, null=True, blank=True, on_delete=models.PROTECT, related_name="controlling_person_tax_forms",
        help_text="For a controlling person's self-certification: the entity it is given for",
    )
    form_type = models.CharField(max_length=10, choices=FormType.choices)
    data = EncryptedJSONField(default=dict, help_text="The form's fields as captured (encrypted at rest)")
    signed_on = models.DateField(null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True, help_text="Empty: until a change in circumstances")
    status = FSMField(default=TaxFormStatus.DRAFT, choices=TaxFormStatus.choices, protected=True)
    chapter3_status = models.CharField(max_length=40, blank=True)
    chapter4_status = models.CharField(max_length=40, blank=True)
    treaty_country = models.CharField(max_length=2, blank=True)
    treaty_income_types = models.JSONField(default=list, blank=True)
    certified_tin = models.BooleanField(default=False, help_text="W-9: TIN certified under penalties of perjury")
    exempt_payee = models.BooleanField(default=False)
    indicia = models.JSONField(default=list, blank=True, help_text="US indicia found on validation")
    cure_documents = models.JSONField(default=list, blank=True, help_text="Codes of curing documents on file")
    validation_errors = models.JSONField(default=list, blank=True)
    status_reason = models.TextField(blank=True)
    party_snapshot = EncryptedJSONField(default=dict, blank=True, help_text="Party circumstances when validated (encrypted)")
    expiry_notified_on = models.DateField(null=True, blank=True)
    captured_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["party", "form_type", "status"]),
            models.Index(fields=["status", "valid_until"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["party", "form_type"],
                condition=models.Q(status="valid", related_party__isnull=True),
                name="tax_one_valid_form_per_kind",
            ),
            models.UniqueConstraint(
                fields=["party", "form_type", "related_party"],
                condition=models.Q(status="valid", related_party__isnull=False),
                name="tax_one_valid_cp_form_per_entity",
            ),
            models.CheckConstraint(
                name="tax_valid_until_after_signing",
                condition=models.Q(valid_until__isnull=True)
                | models.Q(signed_on__isnull=True)
                | models.Q(valid_until__gte=models.F("signed_on")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_form_type_display()} for {self.party} ({self.status})"

    @transition(field=status, source=TaxFormStatus.DRAFT, target=TaxFormStatus.RECEIVED)
    def receive(self) -> None:
        pass

    @transition(field=status, source=[TaxFormStatus.RECEIVED, TaxFormStatus.INVALID], target=TaxFormStatus.VALID)
    def accept(self) -> None:
        pass

    @transition(field=status, source=[TaxFormStatus.RECEIVED, TaxFormStatus.VALID, TaxFormStatus.INVALID],
                target=TaxFormStatus.INVALID)
    def reject(self) -> None:
        pass

    @transition(field=status, source=TaxFormStatus.VALID, target=TaxFormStatus.EXPIRED)
    def expire(self) -> None:
        pass

    @transition(
        field=status,
        source=[TaxFormStatus.DRAFT, TaxFormStatus.RECEIVED, TaxFormStatus.VALID, TaxFormStatus.INVALID,
                TaxFormStatus.EXPIRED],
        target=TaxFormStatus.SUPERSEDED,
    )
    def supersede(self) -> None:
        pass


class RuleRowMixin(models.Model):
    """Columns every rule row carries: where it comes from and when it applies."""

    source = models.TextField()
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1, help_text="Version of the rule file it was loaded from")
    is_active = models.BooleanField(default=True)
    loaded_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class TreatyRate(RuleRowMixin):
    """A US treaty rate for residents of `country` on one income type (IRS Publication 901)."""

    country = models.CharField(max_length=2)
    income_type = models.CharField(max_length=30)
    article = models.CharField(max_length=30)
    rate = models.DecimalField(
        max_digits=6, decimal_places=3, validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
        help_text="Percent",
    )

    class Meta:
        ordering = ["country", "income_type", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["country", "income_type", "effective_from"], name="uniq_treaty_rate"),
            models.CheckConstraint(name="treaty_rate_percent", condition=models.Q(rate__gte=0) & models.Q(rate__lte=100)),
        ]

    def __str__(self) -> str:
        return f"{self.country} {self.income_type} {self.rate}% (art. {self.article})"

    def as_rule(self) -> dict:
        return {"country": self.country, "income_type": self.income_type, "article": self.article, "rate": self.rate,
                "source": self.source, "effective_from": self.effective_from, "effective_to": self.effective_to}


class WithholdingRule(RuleRowMixin):
    """One withholding rule: the first active rule (by priority) whose conditions hold gives the rate."""

    code = models.CharField(max_length=40)
    priority = models.PositiveIntegerField()
    conditions = models.JSONField(default=dict)
    rate = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True,
                               help_text="Percent; empty means the treaty rate")
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["priority"]
        constraints = [
            models.UniqueConstraint(fields=["code", "effective_from"], name="uniq_withholding_rule"),
            models.CheckConstraint(name="withholding_rate_percent",
                                   condition=models.Q(rate__isnull=True) | (models.Q(rate__gte=0) & models.Q(rate__lte=100))),
        ]

    def __str__(self) -> str:
        return f"{self.code}: {'treaty' if self.rate is None else f'{self.rate}%'}"

    def as_rule(self) -> dict:
        return {"code": self.code, "priority": self.priority, "when": self.conditions,
                "rate": "treaty" if self.rate is None else self.rate, "description": self.description,
                "source": self.source, "effective_from": self.effective_from}


class FormRule(RuleRowMixin):
    """A rule deciding which tax document a party needs (form_rules.yaml `tax_forms`)."""

    code = models.CharField(max_length=40)
    form_type = models.CharField(max_length=10, choices=FormType.choices)
    conditions = models.JSONField(default=dict)
    per = models.CharField(max_length=30, blank=True)
    reason = models.TextField()
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["code", "effective_from"], name="uniq_form_rule")]

    def __str__(self) -> str:
        return f"{self.code} -> {self.form_type}"

    def as_rule(self) -> dict:
        rule = {"code": self.code, "form": self.form_type, "when": self.conditions, "reason": self.reason,
                "source": self.source, "effective_from": self.effective_from}
        if self.per:
            rule["per"] = self.per
        return rule


class ReportingInstitution(models.Model):
    """A financial institution that files CRS / FATCA reports (a booking centre's legal entity)."""

    code = models.CharField(max_length=30, unique=True)
    name = models.CharField(max_length=200)
    country = models.CharField(max_length=2, help_text="Residence / filing jurisdiction")
    tin = models.CharField(max_length=64, blank=True)
    giin = models.CharField(max_length=19, blank=True)
    address_line = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100)
    postal_code = models.CharField(max_length=20, blank=True)
    firms = models.ManyToManyField(Firm, blank=True, related_name="reporting_institutions")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ReportKind(models.TextChoices):
    CRS = "crs", "CRS XML"
    FATCA = "fatca", "FATCA XML"
    EXTRACT_1099 = "1099", "1099 extract"
    EXTRACT_1042S = "1042s", "1042-S extract"


class TaxReportRun(models.Model):
    """One report produced: what was reported, what could not be, and the file's checksum."""

    kind = models.CharField(max_length=10, choices=ReportKind.choices)
    year = models.PositiveIntegerField()
    institution = models.ForeignKey(ReportingInstitution, on_delete=models.PROTECT, related_name="report_runs")
    receiving_country = models.CharField(max_length=2, blank=True)
    message_ref_id = models.CharField(max_length=170, unique=True)
    accounts_reported = models.PositiveIntegerField(default=0)
    exceptions = models.JSONField(default=list, blank=True)
    sha256 = models.CharField(max_length=64)
    output_name = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.year} {self.institution.code} -> {self.receiving_country or '-'}"


class WithholdingStatus(models.Model):
    """The party's current withholding basis, kept by the services and the daily task:
    `default` means payments suffer the statutory / backup rate for want of a current form."""

    party = models.OneToOneField(Party, on_delete=models.CASCADE, related_name="withholding_status")
    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="+")
    basis = models.CharField(max_length=10, choices=[("documented", "Documented"), ("default", "Default withholding")])
    form = models.ForeignKey(TaxForm, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "withholding statuses"

    def __str__(self) -> str:
        return f"{self.party}: {self.basis}"
