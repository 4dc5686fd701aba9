"""The compliance officer's admin for onboarding. Transitions are buttons/actions that call
services; the state fields are read-only here (they are protected on the model)."""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from . import csvsafe, safeyaml, services
from .exceptions import MeridianError
from .models import (
    Address,
    AuditEvent,
    AuditIntegrityAlert,
    Document,
    Firm,
    OnboardingCase,
    OwnershipLink,
    Party,
    PartyIdentifier,
    Relationship,
    RulePack,
    TaxResidence,
    User,
)
from .selectors import allowed_case_actions, beneficial_owner_summary, case_outstanding


@admin.register(Firm)
class FirmAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "home_jurisdiction", "created_at")
    list_filter = ("kind", "home_jurisdiction")
    search_fields = ("name", "lei")


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "firm", "role", "is_staff", "is_active")
    list_filter = ("role", "firm", "is_staff")
    fieldsets = BaseUserAdmin.fieldsets + (("Meridian", {"fields": ("firm", "role")}),)
    add_fieldsets = BaseUserAdmin.add_fieldsets + (("Meridian", {"fields": ("firm", "role")}),)


class ReadOnlyInline(admin.TabularInline):
    """Evidence the advisor submitted: officers read it here; corrections go through a request
    for information or the audited correction on the party itself."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AddressInline(ReadOnlyInline):
    model = Address
    fields = ("kind", "line1", "line2", "city", "region", "postal_code", "country")


class IdentifierInline(ReadOnlyInline):
    """Masked by the one rule (LEIs and registration numbers are public); the full value is
    revealed only through the audited reveal service."""

    model = PartyIdentifier
    fields = ("kind", "country", "masked_value", "how_checked")
    readonly_fields = ("kind", "country", "masked_value", "how_checked")

    @admin.display(description="Value")
    def masked_value(self, obj):
        return obj.masked_value

    @admin.display(description="How it was checked")
    def how_checked(self, obj):
        from .validation import check_identifier

        check = check_identifier(obj.kind, obj.country, obj.value) if obj.kind != "lei" else None
        return check.label if check is not None and check.valid else ("LEI, check digits verified" if obj.kind == "lei" else obj.validator)


class TaxResidenceInline(ReadOnlyInline):
    model = TaxResidence
    fields = ("country", "masked_tin", "no_tin_reason", "no_tin_explanation")
    readonly_fields = ("country", "masked_tin", "no_tin_reason", "no_tin_explanation")

    @admin.display(description="TIN")
    def masked_tin(self, obj):
        from .crypto import mask

        return mask(obj.tin)


class OwnersInline(ReadOnlyInline):
    model = OwnershipLink
    fk_name = "owned"
    fields = ("owner", "role", "percentage")
    verbose_name = "owner or controller"
    verbose_name_plural = "owners and controllers"


def _document_link(document) -> str:
    if not document.pk or not document.file:
        return "-"
    url = reverse("onboarding:document-download", args=[document.pk])
    return format_html('<a href="{}" target="_blank" rel="noopener">Open</a> · <a href="{}?download=1">Download</a>',
                       url, url)


class DocumentInline(ReadOnlyInline):
    model = Document
    fields = ("doc_type", "view_link", "content_type", "size", "expires_on", "uploaded_at")
    readonly_fields = ("doc_type", "view_link", "content_type", "size", "expires_on", "uploaded_at")

    @admin.display(description="File")
    def view_link(self, obj):
        return document_link(obj)


def document_link(document: Document) -> str:
    """Open (inline) and download links through the permission-checked, audited download view
    (never a /media/ path)."""
    return _document_link(document)


def country_choices() -> list[tuple[str, str]]:
    import pycountry

    return sorted(((c.alpha_2, f"{c.name} ({c.alpha_2})") for c in pycountry.countries), key=lambda c: c[1])


def countries_in_words(codes) -> str:
    import pycountry

    names = []
    for code in codes or []:
        country = pycountry.countries.get(alpha_2=str(code))
        names.append(f"{country.name} ({code})" if country else str(code))
    return ", ".join(names) or "—"


class PartyCorrectionForm(forms.ModelForm):
    """An officer's correction of a party's data: every change needs a reason, and is audited
    with the fields it changed. The firm and the submitted evidence are not editable here."""

    nationalities = forms.MultipleChoiceField(choices=country_choices, required=False,
                                              widget=forms.SelectMultiple(attrs={"size": 6}),
                                              help_text="Hold Ctrl (Cmd on a Mac) to choose several.")
    correction_reason = forms.CharField(
        label="Reason for the correction", widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required: recorded in the audit trail with the fields you changed. To ask the advisor "
                  "instead, request information on the case.")

    class Meta:
        model = Party
        exclude = ("date_of_birth",)


@admin.register(Party)
class PartyAdmin(admin.ModelAdmin):
    form = PartyCorrectionForm
    list_display = ("__str__", "firm", "kind", "client_type", "residence_country", "nationalities_in_words", "is_pep",
                    "version")
    list_filter = ("kind", "client_type", "is_pep", "firm", "residence_country")
    search_fields = ("given_names", "family_name", "legal_name", "email")
    inlines = [AddressInline, IdentifierInline, TaxResidenceInline, OwnersInline, DocumentInline]
    readonly_fields = ("firm", "kind", "version", "created_at", "updated_at", "masked_date_of_birth")

    def has_add_permission(self, request):
        return False  # parties come from the advisor's onboarding

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Nationalities")
    def nationalities_in_words(self, obj):
        return countries_in_words(obj.nationalities)

    def save_model(self, request, obj, form, change):
        """An officer's correction in the admin is audited like any other change of party data,
        with the reason the officer gave."""
        from django.db import transaction

        from .audit import record_event
        from .services import MATERIAL_FIELDS

        with transaction.atomic():
            changed = sorted(set(form.changed_data) - {"correction_reason"})
            material = sorted(set(changed) & MATERIAL_FIELDS)
            if change and material:
                obj.version += 1
            super().save_model(request, obj, form, change)
            record_event(subject=obj, event_type="party.corrected" if change else "party.created_in_admin",
                         actor=request.user, reason=form.cleaned_data.get("correction_reason", ""),
                         detail={"fields": changed, "material": material})

    @admin.display(description="Date of birth")
    def masked_date_of_birth(self, obj):
        return f"{obj.date_of_birth.year}-••-••" if obj.date_of_birth else "-"


class CaseActionForm(forms.Form):
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


@admin.register(OnboardingCase)
class OnboardingCaseAdmin(admin.ModelAdmin):
    list_display = ("id", "party", "firm", "kind", "jurisdiction", "state", "risk_level", "assigned_to", "submitted_at")
    list_filter = ("state", "kind", "risk_level", "jurisdiction", "party__client_type", "assigned_to", "firm")
    search_fields = ("party__given_names", "party__family_name", "party__legal_name", "id")
    readonly_fields = (
        "firm", "party", "relationship", "kind", "jurisdiction", "state", "risk_level", "rule_pack_versions",
        "submitted_by", "submitted_at", "first_approver", "approved_by", "decided_at", "created_at",
        "assigned_to", "assigned_at", "outstanding_checklist", "ownership_chart", "audit_trail", "pinned_policy",
    )
    exclude = ("policy", "acknowledged_flags", "created_by")
    # No bulk transitions: every decision is taken on the case's own page, with its rationale.
    actions = None

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        from django.urls import path

        return [path("<int:pk>/transition/<str:action>/", self.admin_site.admin_view(self.transition_view),
                     name="onboarding_case_transition"),
                path("<int:pk>/audit.csv", self.admin_site.admin_view(self.audit_export_view),
                     name="onboarding_case_audit_export"), *super().get_urls()]

    def audit_export_view(self, request, pk):
        import io

        from django.http import HttpResponse
        from django.shortcuts import get_object_or_404

        from .selectors import AUDIT_EXPORT_FIELDS, audit_rows, case_audit_events

        case = get_object_or_404(OnboardingCase, pk=pk)
        buffer = io.StringIO()
        writer = csvsafe.DictWriter(buffer, fieldnames=AUDIT_EXPORT_FIELDS)
        writer.writeheader()
        writer.writerows(audit_rows(case_audit_events(case)))
        response = HttpResponse(buffer.getvalue(), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="case-{pk}-audit.csv"'
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        from .labels import case_action_label

        case = self.get_object(request, object_id)
        actions = allowed_case_actions(case, request.user) if case else []
        extra_context = {**(extra_context or {}),
                         "case_actions": [{"code": a, "label": case_action_label(a, case)} for a in actions]}
        return super().change_view(request, object_id, form_url, extra_context)

    def transition_view(self, request, pk, action):
        from django.http import HttpResponseNotAllowed
        from django.shortcuts import get_object_or_404, redirect

        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        from .labels import case_action_label

        case = get_object_or_404(OnboardingCase, pk=pk)
        reason = request.POST.get("reason", "").strip()
        if not reason:
            messages.error(request, f"{case_action_label(action, case)}: give the rationale for this decision.")
            return redirect("admin:onboarding_onboardingcase_change", pk)
        calls = {
            "start_review": lambda: services.case_start_review(case=case, actor=request.user, reason=reason),
            "approve": lambda: services.case_approve(case=case, actor=request.user, reason=reason),
            "reject": lambda: services.case_reject(case=case, actor=request.user, reason=reason),
            "request_information": lambda: services.case_request_information(case=case, actor=request.user,
                                                                             reason=reason),
            "submit": lambda: services.case_submit(case=case, actor=request.user),
            "withdraw": lambda: services.case_withdraw(case=case, actor=request.user, reason=reason),
        }
        if action not in calls:
            messages.error(request, "That is not something a case can do.")
        else:
            try:
                label = case_action_label(action, case)
                calls[action]()
                case.refresh_from_db()
                messages.success(request, f"Case {pk}: {label} done; the case is now {case.get_state_display().lower()}.")
            except MeridianError as exc:
                detail = exc.detail if isinstance(exc.detail, list) else []
                messages.error(request, f"Case {pk}: {exc.message}"
                               + "".join(f" • {d.get('reason')}" for d in detail if isinstance(d, dict)))
        return redirect("admin:onboarding_onboardingcase_change", pk)

    @admin.display(description="Outstanding requirements")
    def outstanding_checklist(self, obj):
        items = case_outstanding(obj)
        if not items:
            return "Nothing outstanding."
        return format_html(
            "<ul>{}</ul>",
            format_html_join("", "<li><strong>{}</strong>: {}<br><small>Rule source: {}</small></li>",
                             ((i.category.capitalize(), i.reason, i.source) for i in items)),
        )

    @admin.display(description="Beneficial owners and controllers")
    def ownership_chart(self, obj):
        rows = beneficial_owner_summary(obj)
        if not rows:
            return "No owners or controllers recorded."
        return format_html(
            "<table><tr><th>Party</th><th>Effective %</th><th>Through</th><th>Roles</th><th>BO</th></tr>{}</table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", (
                (r["name"], r["effective_percentage"], " > ".join(r["through"]) or "direct", ", ".join(r["roles"]),
                 "yes" if r["is_beneficial_owner"] else "") for r in rows)),
        )

    @admin.display(description="Audit trail")
    def audit_trail(self, obj):
        from .labels import describe
        from .selectors import case_audit_events

        return format_html(
            "<ol>{}</ol>",
            format_html_join("", "<li>{}: <strong>{}</strong> by {}{}</li>", (
                (e.created_at.strftime("%Y-%m-%d %H:%M"), describe(e), e.actor or "the system",
                 f" — {e.reason}" if e.reason else "") for e in case_audit_events(obj))),
        )

    @admin.display(description="Pinned policy")
    def pinned_policy(self, obj):
        from .labels import policy_summary

        rows = policy_summary(obj.policy)
        if not rows:
            return "Not pinned yet: the policy is pinned when the case is submitted."
        packs = ", ".join(obj.rule_pack_versions or [])
        return format_html(
            "<p>Rule packs: {}</p><table><tr><th>Topic</th><th>Requires</th><th>Rule and source</th></tr>{}</table>",
            packs or "—",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td><small>{}</small></td></tr>",
                             ((r["topic"], r["value"], r["source"]) for r in rows)),
        )


class OverdueFilter(admin.SimpleListFilter):
    title = "review"
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("1", "Overdue")]

    def queryset(self, request, queryset):
        if self.value() == "1":
            from django.utils import timezone

            return queryset.filter(next_review_due__lt=timezone.localdate()).exclude(state="closed")
        return queryset


@admin.register(Relationship)
class RelationshipAdmin(admin.ModelAdmin):
    list_display = ("party", "firm", "state", "risk_level", "next_review_due", "approved_at")
    list_filter = (OverdueFilter, "state", "risk_level", "firm")
    search_fields = ("party__given_names", "party__family_name", "party__legal_name")
    readonly_fields = ("firm", "party", "state", "risk_level", "approved_at", "next_review_due")


class RulePackEditForm(forms.ModelForm):
    """Edit a pack as YAML; saving validates it like a file and stores the next version."""

    content_yaml = forms.CharField(label="Rules (YAML)", widget=forms.Textarea(attrs={"rows": 30, "cols": 120,
                                                                                     "style": "font-family:monospace"}))
    reason = forms.CharField(label="Why this change", widget=forms.Textarea(attrs={"rows": 2}))

    class Meta:
        model = RulePack
        fields = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        import yaml

        if self.instance and self.instance.pk:
            self.fields["content_yaml"].initial = yaml.safe_dump(self.instance.content, sort_keys=False,
                                                                 allow_unicode=True)

    def clean_content_yaml(self):
        import yaml

        from .exceptions import RulePackError
        from .rules.packs import PackFile, validate_pack

        try:
            content = safeyaml.load(self.cleaned_data["content_yaml"])
        except yaml.YAMLError as exc:
            raise forms.ValidationError(f"not valid YAML: {exc}") from exc
        if not isinstance(content, dict):
            raise forms.ValidationError("a rule pack is a mapping")
        from .rules.packs import _jsonable

        content = _jsonable(content)
        try:
            validate_pack(PackFile(path=f"{self.instance.code} (edited)", content=content))
        except RulePackError as exc:
            raise forms.ValidationError(exc.message) from exc
        return content


@admin.register(RulePack)
class RulePackAdmin(admin.ModelAdmin):
    """Versions are immutable: saving an edit creates the next version (cases keep the version
    they were pinned to). Only the newest version of a pack can be edited."""

    form = RulePackEditForm
    list_display = ("code", "version", "scope", "name", "effective_from", "is_active", "created_by", "created_at")
    list_filter = ("scope", "is_active", "code")
    search_fields = ("code", "name")
    readonly_fields = ("code", "version", "scope", "name", "jurisdictions", "effective_from", "source_file",
                       "checksum", "created_by", "created_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        if obj is not None and RulePack.objects.filter(code=obj.code, version__gt=obj.version).exists():
            return False  # an older version is history
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        new = services.rulepack_new_version(code=obj.code, content=form.cleaned_data["content_yaml"],
                                            actor=request.user, reason=form.cleaned_data["reason"])
        self.message_user(request, f"Saved as {new.code} version {new.version}; cases already submitted keep "
                                   f"their pinned versions.", messages.SUCCESS)
        form.instance = new
        obj.pk = new.pk


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "event_type", "subject_type", "subject_id", "from_state", "to_state", "actor", "firm")
    list_filter = ("event_type", "subject_type", "firm")
    search_fields = ("subject_id", "reason", "event_type")
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditIntegrityAlert)
class AuditIntegrityAlertAdmin(admin.ModelAdmin):
    """Raised by `audit_verify` when an audit chain does not prove; an officer acknowledges it."""

    list_display = ("raised_at", "firm", "event_id", "problem", "expected", "found", "acknowledged_by", "acknowledged_at")
    list_filter = ("firm",)
    readonly_fields = list_display
    actions = ["acknowledge"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Acknowledge the selected alerts")
    def acknowledge(self, request, queryset):
        from .audit_chain import alert_acknowledge

        for alert in queryset:
            alert_acknowledge(alert=alert, actor=request.user)
        self.message_user(request, f"{queryset.count()} alert(s) acknowledged")


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    """Read-only: a document is shown inline (PDF in a frame, images as an image) from the audited
    download view; uploads happen in the portal or the API, where the content is checked."""

    list_display = ("__str__", "firm", "doc_type", "original_name", "content_type", "size", "uploaded_at", "open")
    list_filter = ("doc_type", "content_type", "firm")
    fields = ("firm", "party", "doc_type", "original_name", "content_type", "size", "sha256", "expires_on",
              "uploaded_by", "uploaded_at", "open", "preview")
    readonly_fields = fields

    @admin.display(description="document")
    def open(self, obj):
        return _document_link(obj)

    @admin.display(description="preview")
    def preview(self, obj):
        if not obj.pk or not obj.file:
            return "-"
        url = reverse("onboarding:document-download", args=[obj.pk])
        if obj.content_type.startswith("image/"):
            return format_html('<img src="{}" alt="{}" style="max-width:100%;max-height:80vh">', url,
                               obj.original_name)
        return format_html('<iframe src="{}" title="{}" style="width:100%;height:80vh;border:1px solid #ccc">'
                           "</iframe>", url, obj.original_name)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return request.method in ("GET", "HEAD") and super().has_view_permission(request, obj)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """Evidence is read, never saved: no save buttons on its page."""
        extra_context = {**(extra_context or {}), "show_save": False, "show_save_and_continue": False,
                         "show_save_and_add_another": False, "show_delete": False}
        return super().changeform_view(request, object_id, form_url, extra_context)

    def has_delete_permission(self, request, obj=None):
        return False
admin.site.site_header = "Meridian compliance"
