"""PDF rendering with WeasyPrint from Django templates. The renderer never fetches anything:
every URL (file://, http(s)://, relative paths, even in CSS) is refused by the fetcher, so a
name like `<img src="file:///etc/passwd">` can neither be fetched nor read; templates are
autoescaped, so such a name prints as text."""
from __future__ import annotations

import logging
from typing import Any

from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from onboarding.crypto import mask
from onboarding.masking import mask_sensitive
from onboarding.models import AuditEvent, Document, OnboardingCase, OwnershipLink

from .forms_catalogue import FORM_TYPES
from .models import TaxForm

logger = logging.getLogger(__name__)


class RefusingURLFetcher(URLFetcher):
    """A WeasyPrint fetcher that fetches nothing and remembers what was asked for."""

    def __init__(self) -> None:
        super().__init__(allowed_protocols=(), allow_redirects=False, fail_on_errors=False)
        self.refused: list[str] = []

    def fetch(self, url: str, headers: dict | None = None):
        self.refused.append(url)
        logger.warning("PDF renderer refused to fetch %r", url[:200])
        raise ValueError(f"fetching is disabled in the PDF renderer: {url[:200]}")

    __call__ = fetch


def html_to_pdf(html: str, *, fetcher: RefusingURLFetcher | None = None) -> bytes:
    """Render HTML to PDF with no base URL and a fetcher that refuses everything."""
    fetcher = fetcher or RefusingURLFetcher()
    return HTML(string=html, base_url=None, url_fetcher=fetcher).write_pdf()


ACRONYMS = {"nffe": "NFFE", "nfe": "NFE", "ffi": "FFI", "us": "US"}


def _humanise(value: str) -> str:
    return " ".join(ACRONYMS.get(w, w) for w in str(value or "").split("_"))


def tax_form_context(form: TaxForm, *, reveal: bool = False) -> dict[str, Any]:
    """The form's context; TINs and dates of birth masked unless `reveal` (which only the audited
    reveal in services.tax_form_pdf_for passes)."""
    d = (form.data or {}) if reveal else mask_sensitive(form.data or {})
    claim = d.get("treaty_claim") or {}
    codes = [c for c in (d.get("exempt_payee_code"), d.get("fatca_exemption_code")) if c]
    tin_type = d.get("tin_type") or ("EIN" if form.party.kind == "entity" else "SSN / ITIN")
    return {
        "form": form,
        "d": d,
        "title": f"{FORM_TYPES[form.form_type]} - {form.party.display_name}",
        "footer": f"Meridian - TF-{form.pk} - {FORM_TYPES[form.form_type]} - prepared {timezone.localdate():%d %b %Y}",
        "party_name": form.party.display_name,
        "exemptions": " / ".join(codes),
        "tin_label": f"Taxpayer identification number ({tin_type})",
        "ftin_not_required": "Yes" if d.get("foreign_tin_not_required") else "",
        "ch3": _humanise(d.get("chapter3_status")),
        "ch4": _humanise(d.get("chapter4_status")),
        "crs_classification": _humanise(d.get("crs_classification")),
        "treaty_rate_line": f"{claim.get('rate')}% on {_humanise(claim.get('income_type'))}" if claim else "",
        "withholding_statement": "Yes" if d.get("withholding_statement") else "No",
        "role_line": d.get("role", ""),
    }


def render_tax_form_html(form: TaxForm, *, reveal: bool = False) -> str:
    return render_to_string(f"tax/form_{form.form_type}.html", tax_form_context(form, reveal=reveal))


def render_tax_form_pdf(form: TaxForm, *, reveal: bool = False) -> bytes:
    """A clearly laid-out, pre-filled form ready to sign (sensitive values masked unless `reveal`)."""
    return html_to_pdf(render_tax_form_html(form, reveal=reveal))


def _ownership(case: OnboardingCase) -> tuple[list[dict[str, Any]], str]:
    try:
        from onboarding.selectors import beneficial_owner_summary

        rows = beneficial_owner_summary(case)
        for row in rows:
            row["through_text"] = " > ".join(row.get("through") or []) or "direct"
            row["roles_text"] = ", ".join(row.get("roles") or [])
        return rows, "Effective shares are products along each ownership path, summed over paths."
    except Exception as exc:  # noqa: BLE001 - degrade to direct links when the evaluator cannot run
        links = OwnershipLink.objects.filter(owned=case.party).select_related("owner")
        rows = [{"name": link.owner.display_name, "kind": link.owner.kind, "effective_percentage": link.percentage,
                 "through_text": "direct", "roles_text": link.get_role_display(), "is_beneficial_owner": None,
                 "is_controller": None} for link in links]
        return rows, f"Direct links only (the ownership evaluator was not available: {exc.__class__.__name__})."


def _outstanding(case: OnboardingCase) -> tuple[list[Any], str]:
    try:
        from onboarding.selectors import case_outstanding

        return case_outstanding(case), "From the pinned rule pack and every registered provider."
    except Exception as exc:  # noqa: BLE001 - degrade to the registered providers alone
        from onboarding.requirements import providers

        items: list[Any] = []
        for _name, provider in sorted(providers().items()):
            items.extend(provider(case))
        return items, f"Registered providers only (the rule-pack evaluator was not available: {exc.__class__.__name__})."


def _identifier_rows(party, reveal: bool) -> list[dict[str, Any]]:
    return [{"get_kind_display": i.get_kind_display(), "country": i.country,
             "value": i.value if reveal else mask(i.value), "validator": i.validator} for i in party.identifiers.all()]


def _residence_rows(party, reveal: bool) -> list[dict[str, Any]]:
    return [{"country": t.country, "tin": t.tin if reveal else mask(t.tin), "no_tin_reason": t.no_tin_reason,
             "no_tin_explanation": getattr(t, "no_tin_explanation", "")} for t in party.tax_residences.all()]


def case_file_context(case: OnboardingCase, *, reveal: bool = False) -> dict[str, Any]:
    party = case.party
    owners, ownership_note = _ownership(case)
    outstanding, requirements_note = _outstanding(case)
    related_ids = [party.pk] + [link.owner_id for link in OwnershipLink.objects.filter(owned=party)]
    forms = list(TaxForm.objects.filter(party_id__in=related_ids).select_related("party").order_by("party_id", "-id"))
    subjects = Q(subject_type="onboarding.onboardingcase", subject_id=str(case.pk)) | Q(
        subject_type="onboarding.party", subject_id__in=[str(i) for i in related_ids]
    ) | Q(subject_type="onboarding.relationship", subject_id=str(case.relationship_id)) | Q(
        subject_type="tax.taxform", subject_id__in=[str(f.pk) for f in forms]
    )
    screening_types = Q(event_type__startswith="screening") | Q(event_type__startswith="alert")
    audit = list(AuditEvent.objects.filter(subjects).select_related("actor").order_by("created_at", "id")[:500])
    screening = list(
        AuditEvent.objects.filter(screening_types).filter(
            Q(firm=case.firm) | Q(firm__isnull=True)
        ).filter(
            Q(subject_type="onboarding.onboardingcase", subject_id=str(case.pk))
            | Q(detail__party__in=related_ids) | Q(subject_type="onboarding.party", subject_id__in=[str(i) for i in related_ids])
        ).select_related("actor").order_by("created_at", "id")[:200]
    )
    return {
        "title": f"Case file {case.pk} - {party.display_name}",
        "footer": f"Meridian - case {case.pk} - {party.display_name[:60]} - confidential",
        "case": case,
        "firm": case.firm,
        "party": party,
        "party_kind": f"{party.get_kind_display()} / {party.get_client_type_display()}",
        "nationalities": ", ".join(party.nationalities or []),
        "pep": "yes" if party.is_pep else "no",
        "packs": ", ".join(case.rule_pack_versions or []),
        "generated": timezone.now(),
        "addresses": list(party.addresses.all()),
        "identifiers": _identifier_rows(party, reveal),
        "tax_residences": _residence_rows(party, reveal),
        "date_of_birth": (party.date_of_birth if reveal else "••••-••-••")
        if party.date_of_birth else "",
        "owners": owners,
        "ownership_note": ownership_note,
        "outstanding": outstanding,
        "requirements_note": requirements_note,
        "documents": list(Document.objects.filter(party_id__in=related_ids).select_related("party").order_by("party_id", "id")),
        "tax_forms": forms,
        "screening": screening,
        "screening_note": "No screening decisions recorded in the audit trail for this case.",
        "audit": audit,
    }


def render_case_file_pdf(case: OnboardingCase, *, reveal: bool = False) -> bytes:
    """Party, ownership, requirements and how each was met, screening decisions, audit trail
    (sensitive values masked unless `reveal`)."""
    return html_to_pdf(render_to_string("tax/case_file.html", case_file_context(case, reveal=reveal)))
