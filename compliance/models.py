"""Watchlists, screening alerts, cleared matches, screening thresholds and risk models."""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from onboarding.models import Firm, OnboardingCase, Party, Relationship

from .screening.importers import Identifier, WatchlistRecord


class WatchlistSource(models.TextChoices):
    OFAC = "ofac", "OFAC SDN"
    UN = "un", "UN Security Council consolidated list"
    UK = "uk", "OFSI consolidated list (closed 28 January 2026)"
    UKSL = "uksl", "UK Sanctions List (FCDO)"
    EU = "eu", "EU consolidated financial sanctions list"
    SECO = "seco", "Swiss sanctions list (SECO)"
    AE_LOCAL = "ae_local", "UAE Local Terrorist List"
    FTM = "ftm", "OpenSanctions (FollowTheMoney)"


class WatchlistSnapshot(models.Model):
    """One import of one list. Exactly one snapshot per source is active; a failed import
    never creates a snapshot, so the active one stays."""

    source = models.CharField(max_length=10, choices=WatchlistSource.choices)
    version = models.PositiveIntegerField()
    is_active = models.BooleanField(default=False)
    files = models.JSONField(default=list, help_text="[{name, sha256, bytes}]")
    entry_count = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, help_text="added / changed / removed versus the previous snapshot")
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["source", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["source", "version"], name="uniq_watchlist_snapshot_version"),
            models.UniqueConstraint(fields=["source"], condition=models.Q(is_active=True),
                                    name="one_active_snapshot_per_source"),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} v{self.version}{' (active)' if self.is_active else ''}"


class EntryKind(models.TextChoices):
    PERSON = "person", "Person"
    ENTITY = "entity", "Entity"
    VESSEL = "vessel", "Vessel"
    AIRCRAFT = "aircraft", "Aircraft"


class WatchlistEntry(models.Model):
    """One listed subject in one snapshot. Read-only once imported."""

    snapshot = models.ForeignKey(WatchlistSnapshot, on_delete=models.CASCADE, related_name="entries")
    source = models.CharField(max_length=10, choices=WatchlistSource.choices)
    ref = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=EntryKind.choices)
    name = models.CharField(max_length=500)
    aliases = models.JSONField(default=list)
    weak_aliases = models.JSONField(default=list)
    dobs = models.JSONField(default=list)
    countries = models.JSONField(default=list)
    places_of_birth = models.JSONField(default=list)
    identifiers = models.JSONField(default=list)
    programmes = models.JSONField(default=list)
    topics = models.JSONField(default=list)
    remarks = models.TextField(blank=True)
    content_hash = models.CharField(max_length=64)

    class Meta:
        verbose_name_plural = "watchlist entries"
        constraints = [models.UniqueConstraint(fields=["snapshot", "ref"], name="uniq_entry_per_snapshot")]
        indexes = [models.Index(fields=["source", "ref"])]

    def __str__(self) -> str:
        return f"{self.source}:{self.ref} {self.name}"

    @classmethod
    def from_record(cls, snapshot: WatchlistSnapshot, record: WatchlistRecord) -> WatchlistEntry:
        data = record.as_dict()
        return cls(snapshot=snapshot, content_hash=record.content_hash(), **data)

    def to_record(self) -> WatchlistRecord:
        return WatchlistRecord(
            source=self.source, ref=self.ref, kind=self.kind, name=self.name, aliases=list(self.aliases),
            weak_aliases=list(self.weak_aliases), dobs=list(self.dobs), countries=list(self.countries),
            places_of_birth=list(self.places_of_birth),
            identifiers=[Identifier(**i) for i in self.identifiers], programmes=list(self.programmes),
            topics=list(self.topics), remarks=self.remarks,
        )

    @property
    def is_pep(self) -> bool:
        return any(t.startswith("role.") for t in self.topics) and "sanction" not in self.topics


class ScreeningThreshold(models.Model):
    """The score at or above which a hit opens an alert: per list and per firm. The most
    specific row wins (firm + source, then firm, then source, then the platform default)."""

    firm = models.ForeignKey(Firm, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=10, choices=WatchlistSource.choices, blank=True)
    threshold = models.DecimalField(max_digits=4, decimal_places=3)
    high_score = models.DecimalField(
        max_digits=4, decimal_places=3, default=Decimal("0.950"),
        help_text="Clearing an alert scoring at or above this needs a second officer")
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["firm", "source"], name="uniq_screening_threshold"),
            models.CheckConstraint(name="threshold_in_unit_interval",
                                   condition=models.Q(threshold__gte=0) & models.Q(threshold__lte=1)),
        ]

    def __str__(self) -> str:
        return f"{self.firm or 'all firms'} / {self.source or 'all lists'}: {self.threshold}"


class AlertState(models.TextChoices):
    OPEN = "open", "Open"
    UNDER_REVIEW = "under_review", "Under review"
    CLEARED = "cleared", "Cleared (false positive)"
    ESCALATED = "escalated", "Escalated"
    CONFIRMED = "confirmed", "Confirmed match"


LIVE_ALERT_STATES = (AlertState.OPEN, AlertState.UNDER_REVIEW, AlertState.ESCALATED)


class ScreeningAlert(ConcurrentTransitionMixin, models.Model):
    """A screening hit of a party against a list entry, worked by compliance officers."""

    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="+")
    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="screening_alerts")
    case = models.ForeignKey(OnboardingCase, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    entry = models.ForeignKey(WatchlistEntry, null=True, on_delete=models.SET_NULL, related_name="alerts")
    source = models.CharField(max_length=10, choices=WatchlistSource.choices)
    entry_ref = models.CharField(max_length=100)
    entry_hash = models.CharField(max_length=64)
    entry_name = models.CharField(max_length=500)
    party_version = models.PositiveIntegerField()
    is_pep = models.BooleanField(default=False)
    score = models.DecimalField(max_digits=5, decimal_places=4)
    explanation = models.JSONField(default=dict)
    state = FSMField(default=AlertState.OPEN, choices=AlertState.choices, protected=True)
    assigned_to = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", help_text="The officer working the alert")
    clear_requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                           on_delete=models.SET_NULL, related_name="+")
    clear_request_note = models.TextField(blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decision_note = models.TextField(blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "firm"]), models.Index(fields=["party", "state"])]
        constraints = [
            models.UniqueConstraint(fields=["party", "source", "entry_ref"],
                                    condition=models.Q(state__in=["open", "under_review", "escalated"]),
                                    name="one_live_alert_per_pair"),
            models.CheckConstraint(name="alert_score_in_unit_interval",
                                   condition=models.Q(score__gte=0) & models.Q(score__lte=1)),
        ]

    def __str__(self) -> str:
        return f"Alert {self.pk}: {self.party} ~ {self.source}:{self.entry_ref} ({self.state})"

    @transition(field=state, source=AlertState.OPEN, target=AlertState.UNDER_REVIEW)
    def start_review(self) -> None:
        pass

    @transition(field=state, source=[AlertState.OPEN, AlertState.UNDER_REVIEW, AlertState.ESCALATED],
                target=AlertState.CLEARED)
    def clear(self) -> None:
        pass

    @transition(field=state, source=[AlertState.OPEN, AlertState.UNDER_REVIEW], target=AlertState.ESCALATED)
    def escalate(self) -> None:
        pass

    @transition(field=state, source=[AlertState.OPEN, AlertState.UNDER_REVIEW, AlertState.ESCALATED],
                target=AlertState.CONFIRMED)
    def confirm(self) -> None:
        pass


class ClearedMatch(models.Model):
    """A party/entry pair cleared as a false positive. It suppresses new alerts until it expires,
    the party's data changes (version) or the list entry changes (hash)."""

    party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=10, choices=WatchlistSource.choices)
    entry_ref = models.CharField(max_length=100)
    entry_hash = models.CharField(max_length=64)
    party_version = models.PositiveIntegerField()
    alert = models.ForeignKey(ScreeningAlert, on_delete=models.PROTECT, related_name="+")
    cleared_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "cleared matches"
        indexes = [models.Index(fields=["party", "source", "entry_ref"])]


class ScreeningRun(models.Model):
    """One screening of one party (who, when, against which snapshots, how many hits)."""

    party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="screening_runs")
    party_version = models.PositiveIntegerField()
    trigger = models.CharField(max_length=40)
    snapshots = models.JSONField(default=list)
    hits = models.PositiveIntegerField(default=0)
    alerts_opened = models.PositiveIntegerField(default=0)
    suppressed = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["party", "-created_at"])]


# --- Risk -------------------------------------------------------------------------------------


class RiskModel(models.Model):
    """One version of a risk model file (compliance/risk_models/*.yaml). Versions are immutable."""

    code = models.CharField(max_length=40)
    version = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    effective_from = models.DateField()
    content = models.JSONField()
    source_file = models.CharField(max_length=300, blank=True)
    checksum = models.CharField(max_length=64)
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="uniq_risk_model_version"),
            models.UniqueConstraint(fields=["code"], condition=models.Q(is_active=True),
                                    name="one_active_risk_model_per_code"),
        ]

    def __str__(self) -> str:
        return f"{self.code} v{self.version}"


class RiskAssessment(models.Model):
    """A rating of a party (for a case or a relationship) by one risk model version."""

    party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="risk_assessments")
    case = models.ForeignKey(OnboardingCase, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    relationship = models.ForeignKey(Relationship, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    model = models.ForeignKey(RiskModel, on_delete=models.PROTECT, related_name="assessments")
    score = models.DecimalField(max_digits=6, decimal_places=2)
    level = models.CharField(max_length=10)
    next_review_due = models.DateField()
    factors = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
