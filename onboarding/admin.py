"""The compliance officer's admin for onboarding. Transitions are buttons/actions that call
services; the state fields are read-only here (they are protected on the model)."""
from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from . import csvsafe, safeyaml, services
from .audit import events_for
from .exceptions import MeridianError
from .models import (
    Address,
    AuditEvent,
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


class AddressInline(admin.TabularInline):
    model = Address
    extra = 0


class IdentifierInline(admin.TabularInline):
    """Masked here; the full value is revealed only through the audited reveal service."""

    model = PartyIdentifier
    extra = 0
    fields = ("kind", "country", "masked_value", "validator")
    readonly_fields = ("kind", "country", "masked_value", "validator")

    def has_add_permission(self, request, obj=None):
        return False


class TaxResidenceInline(admin.TabularInline):
    model = TaxResidence
    extra = 0
    fields = ("country", "masked_tin", "no_tin_reason", "no_tin_explanation")
    readonly_fields = ("country", "masked_tin", "no_tin_reason", "no_tin_explanation")

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="TIN")
    def masked_tin(self, obj):
        from .crypto import mask

        return mask(obj.tin)


class OwnersInline(admin.TabularInline):
    model = OwnershipLink
    fk_name = "owned"
    extra = 0
    verbose_name = "owner or controller"
    verbose_name_plural = "owners and controllers"


def _document_link(document) -> str:
    if not document.pk or not document.file:
        return "-"
    url = reverse("onboarding:document-download", args=[document.pk])
    return format_html('<a href="{}" target="_blank" rel="noopener">Open</a> · <a href="{}?download=1">Download</a>',
                       url, url)


class DocumentInline(admin.TabularInline):
    """Documents open through the permission-checked, audited download view (never /media/)."""

    model = Document
    extra = 0
    fields = ("doc_type", "original_name", "content_type", "size", "expires_on", "uploaded_at", "open")
    readonly_fields = ("original_name", "content_type", "size", "uploaded_at", "open")

    @admin.display(description="document")
    def open(self, obj):
        return _document_link(obj)


@admin.register(Party)
class PartyAdmin(admin.ModelAdmin):
    list_display = ("__str__", "firm", "kind", "client_type", "residence_country", "is_pep", "version")
    list_filter = ("kind", "client_type", "is_pep", "firm", "residence_country")
    search_fields = ("given_names", "family_name", "legal_name", "email")
    inlines = [AddressInline, IdentifierInline, TaxResidenceInline, OwnersInline, DocumentInline]
    readonly_fields = ("version", "created_at", "updated_at", "masked_date_of_birth")
    exclude = ("date_of_birth",)

    def save_model(self, request, obj, form, change):
        """An officer's correction in the admin is audited like any other change of party data."""
        from django.db import transaction

        from .audit import record_event
        from .services import MATERIAL_FIELDS

        with transaction.atomic():
            material = sorted(set(form.changed_data) & MATERIAL_FIELDS)
            if change and material:
                obj.version += 1
            super().save_model(request, obj, form, change)
            record_event(subject=obj, event_type="party.changed_in_admin" if change else "party.created_in_admin",
                         actor=request.user, detail={"fields": sorted(form.changed_data), "material": material})

    def save_formset(self, request, form, formset, change):
        from .audit import record_event

        super().save_formset(request, form, formset, change)
        if formset.has_changed():
            record_event(subject=form.instance, event_type="party.related_changed_in_admin", actor=request.user,
                         detail={"inline": formset.model._meta.model_name})

    @admin.display(description="Date of birth")
    def masked_date_of_birth(self, obj):
        return f"{obj.date_of_birth.year}-••-••" if obj.date_of_birth else "-"


class CaseActionForm(forms.Form):
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


@admin.register(OnboardingCase)
class OnboardingCaseAdmin(admin.ModelAdmin):
    list_display = ("id", "party", "firm", "kind", "jurisdiction", "state", "risk_level", "submitted_at")
    list_filter = ("state", "kind", "risk_level", "jurisdiction", "firm")
    search_fields = ("party__given_names", "party__family_name", "party__legal_name", "id")
    readonly_fields = (
        "firm", "party", "relationship", "kind", "jurisdiction", "state", "risk_level", "rule_pack_versions",
        "submitted_by", "submitted_at", "first_approver", "approved_by", "decided_at", "created_at",
        "outstanding_checklist", "ownership_chart", "audit_trail", "pinned_policy",
    )
    exclude = ("policy", "acknowledged_flags", "created_by")
    actions = ["start_review", "approve", "reject"]

    def has_add_permission(self, request):
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
        case = self.get_object(request, object_id)
        extra_context = {**(extra_context or {}),
                         "case_actions": allowed_case_actions(case, request.user) if case else []}
        return super().change_view(request, object_id, form_url, extra_context)

    def transition_view(self, request, pk, action):
        from django.http import HttpResponseNotAllowed
        from django.shortcuts import get_object_or_404, redirect

        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        case = get_object_or_404(OnboardingCase, pk=pk)
        reason = request.POST.get("reason", "")
        calls = {
            "start_review": lambda: services.case_start_review(case=case, actor=request.user),
            "approve": lambda: services.case_approve(case=case, actor=request.user, reason=reason),
            "reject": lambda: services.case_reject(case=case, actor=request.user, reason=reason),
            "request_information": lambda: services.case_request_information(case=case, actor=request.user,
                                                                             reason=reason),
            "submit": lambda: services.case_submit(case=case, actor=request.user),
            "withdraw": lambda: services.case_withdraw(case=case, actor=request.user, reason=reason),
        }
        if action not in calls:
            messages.error(request, f"Unknown action {action}.")
        else:
            try:
                calls[action]()
                messages.success(request, f"Case {pk}: {action.replace('_', ' ')} done.")
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
            format_html_join("", "<li><strong>{}</strong>: {}<br><small>{}</small></li>",
                             ((i.category, i.reason, i.source) for i in items)),
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
        return format_html(
            "<ol>{}</ol>",
            format_html_join("", "<li>{} {} {} &rarr; {} by {} {}</li>", (
                (e.created_at.strftime("%Y-%m-%d %H:%M:%S"), e.event_type, e.from_state, e.to_state,
                 e.actor or "system", e.reason) for e in events_for(obj))),
        )

    @admin.display(description="Pinned policy")
    def pinned_policy(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.policy.get("policy", {}), indent=1)[:4000])

    def _run(self, request, queryset, action):
        done = 0
        for case in queryset:
            try:
                action(case)
                done += 1
            except MeridianError as exc:
                self.message_user(request, f"Case {case.pk}: {exc.message}", messages.ERROR)
        if done:
            self.message_user(request, f"{done} case(s) updated.", messages.SUCCESS)

    @admin.action(description="Start review")
    def start_review(self, request, queryset):
        self._run(request, queryset, lambda c: services.case_start_review(case=c, actor=request.user))

    @admin.action(description="Approve (four-eyes where required)")
    def approve(self, request, queryset):
        self._run(request, queryset, lambda c: services.case_approve(case=c, actor=request.user))

    @admin.action(description="Reject")
    def reject(self, request, queryset):
        self._run(request, queryset, lambda c: services.case_reject(case=c, actor=request.user,
                                                                    reason="Rejected from the admin"))


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

    def has_delete_permission(self, request, obj=None):
        return False
admin.site.site_header = "Meridian compliance"
