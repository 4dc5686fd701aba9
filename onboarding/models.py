"""Firms (our tenants), their users, parties, ownership, onboarding cases, relationships,
rule packs and the one audit trail every app writes to."""
from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import AbstractUser
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from .crypto import EncryptedDateField, EncryptedTextField, blind_index, mask


class FirmKind(models.TextChoices):
    RIA = "ria", "Registered investment adviser"
    BROKER_DEALER = "broker_dealer", "Broker-dealer"
    FAMILY_OFFICE = "family_office", "Family office"
    ASSET_MANAGER = "asset_manager", "Asset manager"


class Firm(models.Model):
    """A tenant. Everything a firm user sees is scoped to one firm."""

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=FirmKind.choices)
    home_jurisdiction = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    lei = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    ADVISOR = "advisor", "Advisor"
    FIRM_ADMIN = "firm_admin", "Firm administrator"
    OPERATIONS = "operations", "Operations"
    COMPLIANCE_OFFICER = "compliance_officer", "Platform compliance officer"


class User(AbstractUser):
    """A person who signs in. Firm users carry their firm; platform compliance officers have none
    and see every firm."""

    firm = models.ForeignKey(Firm, null=True, blank=True, on_delete=models.PROTECT, related_name="users")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.ADVISOR)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="user_firm_matches_role",
                condition=(models.Q(role="compliance_officer") | models.Q(firm__isnull=False)),
            )
        ]

    @property
    def is_platform_officer(self) -> bool:
        return self.role == Role.COMPLIANCE_OFFICER


class PartyKind(models.TextChoices):
    PERSON = "person", "Natural person"
    ENTITY = "entity", "Legal entity"


class ClientType(models.TextChoices):
    """The client types rule packs are written against."""

    INDIVIDUAL = "individual", "Individual"
    CORPORATION = "corporation", "Corporation"
    PARTNERSHIP = "partnership", "Partnership"
    TRUST = "trust", "Trust"
    FOUNDATION = "foundation", "Foundation"
    FAMILY_OFFICE_VEHICLE = "family_office_vehicle", "Family-office vehicle"
    FUND = "fund", "Fund"
    RIA = "ria", "RIA (intermediary)"
    BROKER_DEALER = "broker_dealer", "Broker-dealer (intermediary)"


class Party(models.Model):
    """A natural person or a legal entity known to a firm: a client, an owner or a controller."""

    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="parties")
    kind = models.CharField(max_length=10, choices=PartyKind.choices)
    client_type = models.CharField(max_length=30, choices=ClientType.choices)
    # Persons
    given_names = models.CharField(max_length=200, blank=True)
    family_name = models.CharField(max_length=200, blank=True)
    date_of_birth = EncryptedDateField(null=True, blank=True, help_text="Encrypted at rest")
    place_of_birth_country = models.CharField(max_length=2, blank=True)
    nationalities = models.JSONField(default=list, blank=True, help_text="ISO 3166-1 alpha-2 codes")
    is_pep = models.BooleanField(default=False)
    us_lawful_permanent_resident = models.BooleanField(
        default=False, verbose_name="US lawful permanent resident (green card)",
        help_text="Holds a US green card: a US person for tax (IRC 7701(b)(1)(A)(i)) wherever they live",
    )
    us_substantial_presence = models.BooleanField(
        default=False, verbose_name="meets the US substantial presence test",
        help_text="Present in the US long enough to be a resident alien (IRC 7701(b)(1)(A)(ii), (b)(3))",
    )
    # Entities
    legal_name = models.CharField(max_length=300, blank=True)
    date_of_incorporation = models.DateField(null=True, blank=True)
    country_of_incorporation = models.CharField(max_length=2, blank=True)
    is_listed = models.BooleanField(default=False, help_text="Listed on a recognised exchange")
    is_regulated_fi = models.BooleanField(default=False, help_text="Regulated financial institution")
    # Both
    residence_country = models.CharField(max_length=2, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    source_of_wealth = models.TextField(blank=True)
    source_of_funds = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1, help_text="Bumped on every change of party data")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "parties"
        indexes = [models.Index(fields=["firm", "kind"])]
        constraints = [
            models.CheckConstraint(
                name="party_kind_matches_client_type",
                condition=(
                    models.Q(kind="person", client_type="individual")
                    | (models.Q(kind="entity") & ~models.Q(client_type="individual"))
                ),
            )
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        if self.kind == PartyKind.PERSON:
            return f"{self.given_names} {self.family_name}".strip()
        return self.legal_name

    @property
    def jurisdiction(self) -> str:
        """Where the party lives or is incorporated."""
        return self.residence_country or self.country_of_incorporation


class AddressKind(models.TextChoices):
    RESIDENTIAL = "residential", "Residential"
    MAILING = "mailing", "Mailing"
    REGISTERED = "registered", "Registered office"
    BUSINESS = "business", "Principal place of business"


class Address(models.Model):
    party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="addresses")
    kind = models.CharField(max_length=20, choices=AddressKind.choices)
    line1 = models.CharField(max_length=200)
    line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100)
    region = models.CharField(max_length=10, blank=True, help_text="ISO 3166-2 subdivision code")
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2)

    class Meta:
        verbose_name_plural = "addresses"

    def __str__(self) -> str:
        return f"{self.line1}, {self.city}, {self.country}"


class IdentifierKind(models.TextChoices):
    TAX_ID = "tax_id", "Tax identification number"
    LEI = "lei", "Legal Entity Identifier"
    PASSPORT = "passport", "Passport number"
    NATIONAL_ID = "national_id", "National identity number"
    REGISTRATION = "registration", "Company registration number"


class PartyIdentifier(models.Model):
    """An identifier, validated with python-stdnum for its kind and issuing country."""

    party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="identifiers")
    kind = models.CharField(max_length=20, choices=IdentifierKind.choices)
    country = models.CharField(max_length=2, blank=True, help_text="Issuing country")
    value = EncryptedTextField(help_text="Encrypted at rest")
    value_index = models.CharField(max_length=64, editable=False, default="", help_text="Keyed hash for look-ups")
    validator = models.CharField(max_length=60, blank=True, help_text="How the value was validated")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["party", "kind", "country", "value_index"], name="uniq_party_identifier")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.country} {self.masked_value}"

    def save(self, *args, **kwargs):
        self.value_index = blind_index(self.value or "")
        super().save(*args, **kwargs)

    @property
    def masked_value(self) -> str:
        from .validation import mask_identifier

        return mask_identifier(self.kind, self.value)


class TaxResidence(models.Model):
    party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="tax_residences")
    country = models.CharField(max_length=2)
    tin = EncryptedTextField(blank=True, help_text="Encrypted at rest")
    no_tin_reason = models.CharField(
        max_length=1,
        blank=True,
        choices=[
            ("A", "A: the country does not issue TINs"),
            ("B", "B: unable to obtain a TIN"),
            ("C", "C: no TIN required"),
        ],
    )
    no_tin_explanation = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["party", "country"], name="uniq_tax_residence")]

    def __str__(self) -> str:
        import pycountry

        country = pycountry.countries.get(alpha_2=self.country)
        where = f"{country.name} ({self.country})" if country else self.country
        if self.tin:
            return f"Tax resident in {where}, TIN {mask(self.tin)}"
        return f"Tax resident in {where}, no TIN ({self.get_no_tin_reason_display() or 'no reason given'})"


class ControlRole(models.TextChoices):
    SHAREHOLDER = "shareholder", "Shareholder"
    DIRECTOR = "director", "Director"
    SENIOR_MANAGER = "senior_manager", "Senior managing official"
    TRUSTEE = "trustee", "Trustee"
    SETTLOR = "settlor", "Settlor"
    PROTECTOR = "protector", "Protector"
    BENEFICIARY = "beneficiary", "Beneficiary"
    GENERAL_PARTNER = "general_partner", "General partner"
    AUTHORISED_SIGNATORY = "authorised_signatory", "Authorised signatory"


class OwnershipLink(models.Model):
    """`owner` holds `percentage` of `owned` and/or a control role in it."""

    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="+")
    owner = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="holdings")
    owned = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="owners")
    percentage = models.DecimalField(
        max_digits=7,
        decimal_places=4,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    role = models.CharField(max_length=30, choices=ControlRole.choices, default=ControlRole.SHAREHOLDER)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="ownership_percentage_range",
                condition=models.Q(percentage__gte=0) & models.Q(percentage__lte=100),
            ),
            models.CheckConstraint(name="ownership_not_self", condition=~models.Q(owner=models.F("owned"))),
            models.UniqueConstraint(fields=["owner", "owned", "role"], name="uniq_ownership_link"),
        ]

    def __str__(self) -> str:
        return f"{self.owner} -> {self.owned} {self.percentage}% ({self.role})"


class DocumentType(models.TextChoices):
    PASSPORT = "passport", "Passport"
    NATIONAL_ID_CARD = "national_id_card", "National identity card"
    DRIVING_LICENCE = "driving_licence", "Driving licence"
    UTILITY_BILL = "utility_bill", "Utility bill"
    BANK_STATEMENT = "bank_statement", "Bank statement"
    TAX_STATEMENT = "tax_statement", "Tax authority letter"
    CERTIFICATE_OF_INCORPORATION = "certificate_of_incorporation", "Certificate of incorporation"
    REGISTER_OF_MEMBERS = "register_of_members", "Register of members / shareholders"
    REGISTER_OF_DIRECTORS = "register_of_directors", "Register of directors"
    ARTICLES = "articles", "Articles / constitution"
    TRUST_DEED = "trust_deed", "Trust deed"
    FOUNDATION_CHARTER = "foundation_charter", "Foundation charter"
    PARTNERSHIP_AGREEMENT = "partnership_agreement", "Partnership agreement"
    OFFERING_MEMORANDUM = "offering_memorandum", "Fund offering memorandum"
    REGULATORY_LICENCE = "regulatory_licence", "Regulatory licence / registration"
    SOURCE_OF_WEALTH = "source_of_wealth", "Source of wealth evidence"
    SOURCE_OF_FUNDS = "source_of_funds", "Source of funds evidence"
    SENIOR_APPROVAL = "senior_approval", "Senior management approval memo"
    OTHER = "other", "Other"


class Document(models.Model):
    """An uploaded document about a party. The file name a user gave is kept as data, never a path."""

    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="documents")
    # null: uploaded ahead of a nested case creation, which attaches it to the party it creates
    party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="documents", null=True, blank=True)
    doc_type = models.CharField(max_length=40, choices=DocumentType.choices)
    file = models.FileField(upload_to="documents/%Y/%m/", blank=True)
    original_name = models.CharField(max_length=255, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    expires_on = models.DateField(null=True, blank=True)
    uploaded_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.get_doc_type_display()} for {self.party}"


# --- Rule packs ------------------------------------------------------------------------------


class RulePackScope(models.TextChoices):
    GLOBAL = "global", "Global baseline"
    REGION = "region", "Regional overlay"
    COUNTRY = "country", "Country overlay"


class RulePack(models.Model):
    """One version of one rule pack file. Versions are immutable: editing creates a new version,
    and a submitted case keeps the versions it was pinned to."""

    code = models.CharField(max_length=20)
    version = models.PositiveIntegerField()
    scope = models.CharField(max_length=10, choices=RulePackScope.choices)
    name = models.CharField(max_length=200)
    jurisdictions = models.JSONField(default=list, help_text="ISO country codes this pack applies to")
    effective_from = models.DateField()
    content = models.JSONField(help_text="The whole pack as loaded (rules with sources)")
    source_file = models.CharField(max_length=200, blank=True)
    checksum = models.CharField(max_length=64)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["scope", "code", "-version"]
        constraints = [models.UniqueConstraint(fields=["code", "version"], name="uniq_rulepack_version")]

    def __str__(self) -> str:
        return f"{self.code} v{self.version}"


# --- Relationships and cases ----------------------------------------------------------------


class RiskLevel(models.TextChoices):
    UNRATED = "unrated", "Not yet rated"
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class RelationshipState(models.TextChoices):
    PENDING = "pending", "Pending onboarding"
    ACTIVE = "active", "Active"
    UNDER_REVIEW = "under_review", "Under periodic review"
    SUSPENDED = "suspended", "Suspended"
    CLOSED = "closed", "Closed"


class Relationship(ConcurrentTransitionMixin, models.Model):
    """The firm's relationship with a client party. Only an active (or under-review) relationship
    lets account-level actions through."""

    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="relationships")
    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="relationships")
    state = FSMField(default=RelationshipState.PENDING, choices=RelationshipState.choices, protected=True)
    risk_level = models.CharField(max_length=10, choices=RiskLevel.choices, default=RiskLevel.UNRATED)
    approved_at = models.DateTimeField(null=True, blank=True)
    next_review_due = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["firm", "party"], name="uniq_relationship")]

    def __str__(self) -> str:
        return f"{self.party} @ {self.firm} ({self.state})"

    @transition(field=state, source=RelationshipState.PENDING, target=RelationshipState.ACTIVE)
    def activate(self) -> None:
        pass

    @transition(field=state, source=RelationshipState.ACTIVE, target=RelationshipState.UNDER_REVIEW)
    def start_review(self) -> None:
        pass

    @transition(field=state, source=RelationshipState.UNDER_REVIEW, target=RelationshipState.ACTIVE)
    def complete_review(self) -> None:
        pass

    @transition(
        field=state,
        source=[RelationshipState.ACTIVE, RelationshipState.UNDER_REVIEW, RelationshipState.PENDING],
        target=RelationshipState.SUSPENDED,
    )
    def suspend(self) -> None:
        pass

    @transition(field=state, source=RelationshipState.SUSPENDED, target=RelationshipState.ACTIVE)
    def reinstate(self) -> None:
        pass

    @transition(
        field=state,
        source=[
            RelationshipState.PENDING,
            RelationshipState.ACTIVE,
            RelationshipState.UNDER_REVIEW,
            RelationshipState.SUSPENDED,
        ],
        target=RelationshipState.CLOSED,
    )
    def close(self) -> None:
        pass


class CaseKind(models.TextChoices):
    ONBOARDING = "onboarding", "Onboarding"
    PERIODIC_REVIEW = "periodic_review", "Periodic review"
    EVENT_REVIEW = "event_review", "Event-driven review"


class CaseState(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    IN_REVIEW = "in_review", "In review"
    INFORMATION_REQUESTED = "information_requested", "Information requested"
    AWAITING_SECOND_APPROVAL = "awaiting_second_approval", "Awaiting second approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"


OPEN_CASE_STATES = (
    CaseState.DRAFT,
    CaseState.SUBMITTED,
    CaseState.IN_REVIEW,
    CaseState.INFORMATION_REQUESTED,
    CaseState.AWAITING_SECOND_APPROVAL,
)


class OnboardingCase(ConcurrentTransitionMixin, models.Model):
    """A KYC/AML case for a client party. Transitions happen only through
    `onboarding.services` (the state field is protected); guards live there too, because they
    need the evaluator, the actor and the rule pack."""

    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="cases")
    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="cases")
    relationship = models.ForeignKey(Relationship, on_delete=models.PROTECT, related_name="cases")
    kind = models.CharField(max_length=20, choices=CaseKind.choices, default=CaseKind.ONBOARDING)
    jurisdiction = models.CharField(
        max_length=2, help_text="Booking jurisdiction whose rules apply (ISO 3166-1 alpha-2)"
    )
    state = FSMField(default=CaseState.DRAFT, choices=CaseState.choices, protected=True)
    risk_level = models.CharField(max_length=10, choices=RiskLevel.choices, default=RiskLevel.UNRATED)
    rule_pack_versions = models.JSONField(
        default=list, blank=True, help_text="Pack versions pinned at submission, e.g. ['GLOBAL@1', 'EU@2']"
    )
    policy = models.JSONField(default=dict, blank=True, help_text="Resolved policy pinned at submission")
    acknowledged_flags = models.JSONField(
        default=list, blank=True, help_text="Review flags (e.g. circular holdings) an officer has acknowledged"
    )
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    submitted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    submitted_at = models.DateTimeField(null=True, blank=True)
    first_approver = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    approved_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    assigned_to = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_cases",
                                    help_text="The officer working the case (claimed or assigned)")
    assigned_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["firm", "state"]), models.Index(fields=["assigned_to", "state"])]

    def __str__(self) -> str:
        return f"Case {self.pk} {self.party} ({self.state})"

    @property
    def is_pinned(self) -> bool:
        return bool(self.rule_pack_versions)

    # The transitions below only move the state; services check guards, write the audit
    # event and do the side effects in the same transaction.
    @transition(field=state, source=[CaseState.DRAFT, CaseState.INFORMATION_REQUESTED], target=CaseState.SUBMITTED)
    def submit(self) -> None:
        pass

    @transition(field=state, source=CaseState.SUBMITTED, target=CaseState.IN_REVIEW)
    def start_review(self) -> None:
        pass

    @transition(field=state, source=CaseState.IN_REVIEW, target=CaseState.INFORMATION_REQUESTED)
    def request_information(self) -> None:
        pass

    @transition(field=state, source=CaseState.IN_REVIEW, target=CaseState.AWAITING_SECOND_APPROVAL)
    def approve_first(self) -> None:
        pass

    @transition(
        field=state, source=[CaseState.IN_REVIEW, CaseState.AWAITING_SECOND_APPROVAL], target=CaseState.APPROVED
    )
    def approve(self) -> None:
        pass

    @transition(
        field=state,
        source=[CaseState.SUBMITTED, CaseState.IN_REVIEW, CaseState.AWAITING_SECOND_APPROVAL],
        target=CaseState.REJECTED,
    )
    def reject(self) -> None:
        pass

    @transition(
        field=state,
        source=[CaseState.DRAFT, CaseState.SUBMITTED, CaseState.INFORMATION_REQUESTED],
        target=CaseState.WITHDRAWN,
    )
    def withdraw(self) -> None:
        pass


# --- Audit ------------------------------------------------------------------------------------


class AuditEvent(models.Model):
    """Append-only: the model refuses updates and deletes, and so does the database (triggers
    installed by migration on PostgreSQL and SQLite)."""

    firm = models.ForeignKey(Firm, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    subject_type = models.CharField(max_length=60)
    subject_id = models.CharField(max_length=40)
    event_type = models.CharField(max_length=60)
    from_state = models.CharField(max_length=40, blank=True)
    to_state = models.CharField(max_length=40, blank=True)
    reason = models.TextField(blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # The hash chain (onboarding.audit_chain): set once, after commit, by `audit_chain`; the database
    # refuses any other change. `chain_seq` is the row's place in its firm's chain (platform events,
    # firm empty, form one chain of their own).
    chain_seq = models.BigIntegerField(null=True, blank=True, editable=False)
    prev_hash = models.CharField(max_length=64, blank=True, default="", db_default="", editable=False)
    hash = models.CharField(max_length=64, blank=True, default="", db_default="", editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["subject_type", "subject_id"]), models.Index(fields=["firm", "id"]),
                   models.Index(fields=["firm", "chain_seq"], name="onboarding_audit_chain_idx")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.subject_type}:{self.subject_id} {self.event_type}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise RuntimeError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("audit events are append-only")


class AuditChainHead(models.Model):
    """The watermark of one firm's audit hash chain: the last chained row and its hash. `chain_key`
    is the firm's id, 0 for the platform chain (events without a firm)."""

    chain_key = models.BigIntegerField(unique=True)
    last_seq = models.BigIntegerField(default=0)
    last_event_id = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"audit chain {self.chain_key or 'platform'} @ {self.last_seq}"


class AuditIntegrityAlert(models.Model):
    """Raised by `audit_verify` when a firm's audit chain does not prove: the first broken row,
    the hash expected and the one found. Officers see it in the admin and in their work queues."""

    firm = models.ForeignKey(Firm, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    event_id = models.BigIntegerField(help_text="The first audit row that does not prove")
    problem = models.CharField(max_length=200)
    expected = models.CharField(max_length=64, blank=True)
    found = models.CharField(max_length=64, blank=True)
    raised_at = models.DateTimeField(auto_now_add=True)
    acknowledged_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-raised_at"]

    def __str__(self) -> str:
        return f"audit trail of {self.firm or 'the platform'} broken at row {self.event_id}: {self.problem}"


# --- Partner API: tokens, idempotency, webhooks ----------------------------------------------


class ApiToken(models.Model):
    """A partner's API token. Only a SHA-256 of the secret is stored; the token is shown once.
    It acts as its user (and so within the user's firm) with the scopes it was given."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True)
    key_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list, help_text='e.g. ["read", "write"]')
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class IdempotencyRecord(models.Model):
    """The stored response to a POST sent with an Idempotency-Key, replayed on a retry."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="uniq_idempotency_key")]


class WebhookEndpoint(models.Model):
    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list, help_text='Event types, e.g. ["case.state_changed"]; empty: all')
    secret = EncryptedTextField(help_text="Signing secret, encrypted at rest; shown once at creation or rotation")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.firm}: {self.url}"


class WebhookDelivery(models.Model):
    """One event to one endpoint: the log of attempts, retried with backoff by Celery."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=40)
    event_type = models.CharField(max_length=60)
    payload = models.JSONField()
    status = models.CharField(
        max_length=12, default="pending", choices=[("pending", "Pending"), ("delivered", "Delivered"), ("failed", "Failed")]
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    redelivery_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="redeliveries",
        help_text="The original delivery this one sends again (same event id and body), on a partner's request")

    class Meta:
        verbose_name_plural = "webhook deliveries"
        constraints = [models.UniqueConstraint(fields=["endpoint", "event_id"], condition=Q(redelivery_of__isnull=True),
                                               name="uniq_webhook_delivery")]


class LoginFailure(models.Model):
    """A failed sign-in, kept for lockout across every worker (not in a per-process cache)."""

    username = models.CharField(max_length=150, db_index=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)


class UserSecondFactor(models.Model):
    """An optional TOTP second factor (officers are encouraged to enrol)."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="second_factor")
    secret = EncryptedTextField(help_text="Encrypted at rest")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_used_step = models.BigIntegerField(default=0, help_text="Refuses a code replayed in the same time step")
    failed_attempts = models.PositiveIntegerField(default=0, help_text="Wrong codes since the last right one")
    locked_until = models.DateTimeField(null=True, blank=True,
                                        help_text="No code (not even the right one) is accepted before this time")
