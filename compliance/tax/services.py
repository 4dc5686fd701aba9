"""Business actions on tax documentation. Each runs in one transaction, locks what it changes and
writes an audit event for every state change."""
from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import CharField, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from onboarding import webhooks
from onboarding.audit import record_event
from onboarding.models import OnboardingCase, Party, User

from . import rulefiles, selectors
from .exceptions import TaxFormInvalid, TaxFormStateError
from .forms_catalogue import FORM_TYPES, W8_FORMS
from .models import (
    FormRule,
    TaxForm,
    TaxFormStatus,
    TaxReportRun,
    TreatyRate,
    WithholdingRule,
    WithholdingStatus,
)
from .validation import validate_form
from .validity import expiry_warning_days, void_reasons


def _lock(form: TaxForm) -> TaxForm:
    return TaxForm.objects.select_for_update().get(pk=form.pk)


def _event(form: TaxForm, event_type: str, *, actor: User | None, from_state: str = "", reason: str = "",
           detail: dict[str, Any] | None = None) -> None:
    record_event(subject=form, event_type=event_type, actor=actor, firm=form.firm, from_state=from_state,
                 to_state=form.status, reason=reason,
                 detail={"form_type": form.form_type, "party": form.party_id, **(detail or {})})


def _identifier_problems(value: Any, path: str) -> dict[str, list[str]]:
    """TINs, dates of birth and other identifiers in form data must be short text (issue 15: an
    object in `tin` reached the validators and came back as a 500)."""
    from onboarding.masking import SENSITIVE_KEY

    problems: dict[str, list[str]] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}"
            if isinstance(key, str) and SENSITIVE_KEY.search(key) and item not in (None, ""):
                if not isinstance(item, str):
                    problems[where] = ["must be text"]
                elif len(item) > 64:
                    problems[where] = ["at most 64 characters"]
            else:
                problems.update(_identifier_problems(item, where))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            problems.update(_identifier_problems(item, f"{path}[{n}]"))
    return problems


# The shape of form data, by key (the same keys across form types): text, objects of fields, lists
# of objects, yes/no. Other keys hold short text, numbers, yes/no or small lists/objects of them.
TEXT_KEYS = frozenset({
    "name", "signer_name", "citizenship", "country_of_incorporation", "chapter3_status", "chapter4_status",
    "tax_classification", "date_of_birth", "foreign_tin", "us_tin", "tin", "giin", "income_description",
    "entity_name", "role", "crs_classification", "lob_test", "line1", "line2", "city", "region", "postal_code",
    "country", "article", "income_type", "no_tin_reason", "explanation", "place_of_birth_country",
})
OBJECT_KEYS = frozenset({"address", "permanent_address", "residence_address", "mailing_address",
                         "us_business_address", "treaty_claim"})
LIST_KEYS = frozenset({"tax_residences", "controlling_persons", "substantial_us_owners"})
BOOL_KEYS = frozenset({"certified"})
TEXT_LIMIT, NUMBER_LIMIT, DEPTH_LIMIT = 500, 10**15, 5


def _text_problem(value: str) -> str | None:
    if len(value) > TEXT_LIMIT:
        return f"at most {TEXT_LIMIT} characters"
    if any(ord(c) < 32 and c not in "\t\n\r" for c in value):
        return "must not hold control characters"
    return None


def _shape_problems(key: str, value: Any, path: str, depth: int = 0) -> dict[str, list[str]]:
    """Issue 15: every field of form data has the type its validation expects, so that a value of
    the wrong type is refused by name (not turned into text and found valid)."""
    if value is None:
        return {}
    if depth > DEPTH_LIMIT:
        return {path: ["nested too deeply"]}
    if key in TEXT_KEYS:
        if not isinstance(value, str):
            return {path: ["must be text"]}
        problem = _text_problem(value)
        return {path: [problem]} if problem else {}
    if key in BOOL_KEYS:
        return {} if isinstance(value, bool) else {path: ["must be true or false"]}
    if key in OBJECT_KEYS and not isinstance(value, dict):
        return {path: ["must be an object of fields"]}
    if key in LIST_KEYS and not (isinstance(value, list) and all(isinstance(item, dict) for item in value)):
        return {path: ["must be a list of objects"]}
    if key == "withholding_statement" and not (  # yes (attached), or its lines
            isinstance(value, bool) or (isinstance(value, list) and all(isinstance(item, dict) for item in value))):
        return {path: ["must be true or false, or a list of lines"]}
    problems: dict[str, list[str]] = {}
    if isinstance(value, dict):
        for sub, item in value.items():
            problems.update(_shape_problems(str(sub), item, f"{path}.{sub}", depth + 1))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            if isinstance(item, dict):
                for sub, inner in item.items():
                    problems.update(_shape_problems(str(sub), inner, f"{path}[{n}].{sub}", depth + 1))
            else:
                problems.update(_shape_problems("", item, f"{path}[{n}]", depth + 1))
    elif isinstance(value, str):
        problem = _text_problem(value)
        if problem:
            problems[path] = [problem]
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) > NUMBER_LIMIT:
        problems[path] = ["number out of range"]
    return problems


def _check_identifier_values(data: dict[str, Any]) -> None:
    from onboarding.exceptions import ValidationFailed

    problems = _identifier_problems(data, "data")
    for key, value in data.items():
        for where, messages in _shape_problems(str(key), value, f"data.{key}").items():
            problems.setdefault(where, messages)
    if problems:
        first = next(iter(problems))
        raise ValidationFailed(f"{first}: {problems[first][0]}", detail=problems)


# --- Rules ------------------------------------------------------------------------------------


@transaction.atomic
def tax_rules_load(*, actor: User | None = None) -> dict[str, int]:
    """Load treaties.yaml, withholding.yaml and form_rules.yaml into rule rows (upsert on their
    natural keys; rows no longer in the files are deactivated)."""
    for loader in (rulefiles.treaties, rulefiles.withholding, rulefiles.form_rules):
        loader.cache_clear()
    treaties, withholding, forms = rulefiles.treaties(), rulefiles.withholding(), rulefiles.form_rules()
    treaty_objs = [
        TreatyRate(country=r["country"], income_type=r["income_type"], article=str(r["article"]), rate=r["rate"],
                   source=r["source"], effective_from=r["effective_from"], effective_to=r.get("effective_to"),
                   version=treaties["version"], is_active=True)
        for r in treaties["rows"]
    ]
    rule_objs = [
        WithholdingRule(code=r["code"], priority=r["priority"], conditions=r["when"],
                        rate=None if r["rate"] == "treaty" else r["rate"], description=r.get("description", ""),
                        source=r["source"], effective_from=r["effective_from"], version=withholding["version"],
                        is_active=True)
        for r in withholding["rules"]
    ]
    form_objs = [
        FormRule(code=r["code"], form_type=r["form"], conditions=r.get("when") or {}, per=r.get("per") or "",
                 reason=r["reason"], source=r["source"], effective_from=r["effective_from"], position=i,
                 version=forms.get("version", 1), is_active=True)
        for i, r in enumerate(forms["tax_forms"])
    ]
    TreatyRate.objects.update(is_active=False)
    WithholdingRule.objects.update(is_active=False)
    FormRule.objects.update(is_active=False)
    TreatyRate.objects.bulk_create(
        treaty_objs, update_conflicts=True, unique_fields=["country", "income_type", "effective_from"],
        update_fields=["article", "rate", "source", "effective_to", "version", "is_active"],
    )
    WithholdingRule.objects.bulk_create(
        rule_objs, update_conflicts=True, unique_fields=["code", "effective_from"],
        update_fields=["priority", "conditions", "rate", "description", "source", "version", "is_active"],
    )
    FormRule.objects.bulk_create(
        form_objs, update_conflicts=True, unique_fields=["code", "effective_from"],
        update_fields=["form_type", "conditions", "per", "reason", "source", "position", "version", "is_active"],
    )
    return {"treaty_rates": len(treaty_objs), "withholding_rules": len(rule_objs), "form_rules": len(form_objs)}


@transaction.atomic
def tax_rule_row_save(*, row: TreatyRate | WithholdingRule | FormRule, actor: User | None,
                      changed: list[str]) -> None:
    """Save a rule row edited by a compliance officer, with an audit event naming what changed."""
    created = row.pk is None
    row.save()
    record_event(subject=row, event_type="tax.rule_created" if created else "tax.rule_changed", actor=actor,
                 reason="edited in the admin",
                 detail={"fields": sorted(changed), "values": {f: str(getattr(row, f, "")) for f in sorted(changed)}})


# --- Forms ------------------------------------------------------------------------------------


@transaction.atomic
def tax_form_capture(
    *,
    party: Party,
    form_type: str,
    data: dict[str, Any],
    signed_on: dt.date | None,
    actor: User | None = None,
    related_party: Party | None = None,
    cure_documents: list[str] | None = None,
    validate: bool = True,
    today: dt.date | None = None,
) -> TaxForm:
    """Record a form as received from the party and (by default) validate it at once."""
    if form_type not in FORM_TYPES:
        raise TaxFormInvalid(f"unknown form type {form_type!r}", detail={"form_type": form_type})
    if not isinstance(data, dict):
        raise TaxFormInvalid("form data must be an object")
    _check_identifier_values(data)
    if form_type == "CRS_CP" and related_party is None:
        raise TaxFormInvalid("a controlling person's self-certification names the entity it is given for")
    form = TaxForm.objects.create(
        firm=party.firm, party=party, related_party=related_party, form_type=form_type, data=data,
        signed_on=signed_on, cure_documents=list(cure_documents or []), captured_by=actor,
    )
    form.receive()
    form.save()
    _event(form, "tax_form.received", actor=actor, from_state=TaxFormStatus.DRAFT)
    if validate:
        form = tax_form_validate(form=form, actor=actor, today=today)
    return form


@transaction.atomic
def tax_form_prepare(*, party: Party, form_type: str, actor: User | None = None,
                     related_party: Party | None = None, role: str = "") -> TaxForm:
    """A draft form pre-filled from the party's data, to be rendered and sent for signature."""
    if form_type not in FORM_TYPES:
        raise TaxFormInvalid(f"unknown form type {form_type!r}", detail={"form_type": form_type})
    party = Party.objects.prefetch_related("addresses", "tax_residences").get(pk=party.pk)
    data = selectors.prefill_form_data(party, form_type, related_party=related_party, role=role)
    form = TaxForm.objects.create(firm=party.firm, party=party, related_party=related_party, form_type=form_type,
                                  data=data, captured_by=actor)
    record_event(subject=form, event_type="tax_form.prepared", actor=actor, firm=form.firm, to_state=form.status,
                 detail={"form_type": form_type, "party": party.pk})
    return form


@transaction.atomic
def tax_forms_prepare_missing(*, case: OnboardingCase, actor: User | None = None) -> list[TaxForm]:
    """On submission: a pre-filled draft of every required form that has neither a current valid
    form nor a draft or received one, ready to render and send for signature. Idempotent."""
    prepared = []
    missing = selectors.missing_forms(case.party, booking_centre=case.jurisdiction, case=case)
    refs = {int(ref.split(":", 1)[1]) for req, _w, _l in missing for ref in (req.subject_ref, req.for_ref) if ref}
    parties = Party.objects.in_bulk(refs)
    for req, _why, _latest in missing:
        party = parties.get(int(req.subject_ref.split(":", 1)[1]))
        related = parties.get(int(req.for_ref.split(":", 1)[1])) if req.for_ref else None
        if party is None:
            continue
        pending = TaxForm.objects.filter(party=party, form_type=req.form, related_party=related,
                                         status__in=[TaxFormStatus.DRAFT, TaxFormStatus.RECEIVED])
        if pending.exists():
            continue
        role_code = ""
        if req.form == "CRS_CP" and related is not None:
            role_code = dict((p.pk, code) for p, code in selectors.controlling_persons(related)).get(party.pk, "")
        prepared.append(tax_form_prepare(party=party, form_type=req.form, actor=actor, related_party=related,
                                         role=role_code))
    return prepared


@transaction.atomic
def tax_form_record_signed(*, form: TaxForm, signed_on: dt.date, changes: dict[str, Any] | None = None,
                           actor: User | None = None, today: dt.date | None = None) -> TaxForm:
    """The client returned the prepared form signed (with any corrections): receive and validate it."""
    form = _lock(form)
    if form.status != TaxFormStatus.DRAFT:
        raise TaxFormStateError(f"a {form.status} form cannot be signed again", detail={"status": form.status})
    form.data = {**form.data, **(changes or {})}
    form.signed_on = signed_on
    form.receive()
    form.save()
    _event(form, "tax_form.received", actor=actor, from_state=TaxFormStatus.DRAFT,
           detail={"corrected_fields": sorted(changes or {})})
    return tax_form_validate(form=form, actor=actor, today=today)


def _treaty_income_types(form: TaxForm) -> list[str]:
    claim = form.data.get("treaty_claim") or {}
    claims = claim if isinstance(claim, list) else [claim]
    return sorted({c.get("income_type") for c in claims if c.get("income_type")})


@transaction.atomic
def tax_form_validate(*, form: TaxForm, actor: User | None = None, today: dt.date | None = None) -> TaxForm:
    """Validate the form against the rules and the party; valid forms supersede earlier ones of
    the same kind, invalid ones keep their errors."""
    today = today or timezone.localdate()
    form = _lock(form)
    if form.status not in (TaxFormStatus.RECEIVED, TaxFormStatus.INVALID):
        raise TaxFormStateError(f"a {form.status} form cannot be validated", detail={"status": form.status})
    party = Party.objects.prefetch_related("addresses", "tax_residences").get(pk=form.party_id)
    context = selectors.party_context(party)
    result = validate_form(form.form_type, form.data, signed_on=form.signed_on, party=context, today=today,
                           cure_documents=form.cure_documents)
    before = form.status
    form.indicia = [i.as_dict() for i in result.indicia]
    form.validation_errors = [e.as_dict() for e in result.errors] + [
        dict(w.as_dict(), severity="warning") for w in result.warnings
    ]
    form.valid_until = result.valid_until
    form.party_snapshot = selectors.party_snapshot(party)
    if result.ok:
        form.accept()
        # A failed treaty claim falls alone: the form stays valid, the claim is not recorded.
        form.status_reason = "; ".join(w.message for w in result.warnings)[:2000]
        form.treaty_country = ""
        form.treaty_income_types = []
        form.chapter3_status = str(form.data.get("chapter3_status", ""))
        form.chapter4_status = str(form.data.get("chapter4_status", ""))
        form.certified_tin = form.form_type == "W9" and bool(form.data.get("certified")) and bool(form.data.get("tin"))
        form.exempt_payee = bool(form.data.get("exempt_payee_code"))
        if result.treaty_rate is not None:
            form.treaty_country = str(form.data["treaty_claim"]["country"]).upper()
            form.treaty_income_types = _treaty_income_types(form)
        # Supersede the earlier forms of this kind before saving: one valid form per kind.
        earlier = (
            TaxForm.objects.select_for_update()
            .filter(party_id=form.party_id, form_type=form.form_type, related_party_id=form.related_party_id)
            .exclude(pk=form.pk)
            .exclude(status=TaxFormStatus.SUPERSEDED)
        )
        for old in earlier:
            old_state = old.status
            old.supersede()
            old.status_reason = selectors.superseded_reason(form)
            old.save()
            _event(old, "tax_form.superseded", actor=actor, from_state=old_state, reason=old.status_reason,
                   detail={"by": form.pk})
        form.save()
        _event(form, "tax_form.validated", actor=actor, from_state=before,
               detail={"valid_until": str(form.valid_until or ""), "indicia": [i.code for i in result.indicia],
                       "treaty_claim_removed": result.treaty_claim_removed,
                       "indefinite_validity": result.indefinite_validity})
    else:
        form.reject()
        problems = [e.message for e in result.errors] + [
            f"uncured indicium: {i.description}" for i in result.uncured_indicia
        ]
        form.status_reason = "; ".join(problems)[:2000]
        form.save()
        _event(form, "tax_form.invalid", actor=actor, from_state=before, reason=form.status_reason,
               detail={"errors": form.validation_errors, "uncured_indicia": [i.code for i in result.uncured_indicia]})
    _refresh_withholding_status(party, today=today)
    webhooks.emit(firm=form.firm_id, event_type="tax_form.validated",
                  data={"tax_form": form.pk, "party": form.party_id, "form_type": form.form_type,
                        "status": str(form.status), "valid_until": form.valid_until if result.ok else None,
                        "errors": [f"{e.field}: {e.message}" if e.field else e.message for e in result.errors]})
    return form


@transaction.atomic
def tax_form_add_cure_documents(*, form: TaxForm, documents: list[str], actor: User | None = None,
                                today: dt.date | None = None) -> TaxForm:
    """Record curing documents for indicia (e.g. a non-US passport) and validate again."""
    form = _lock(form)
    form.cure_documents = sorted(set(form.cure_documents) | set(documents))
    form.save(update_fields=["cure_documents", "updated_at"])
    record_event(subject=form, event_type="tax_form.cure_documents_added", actor=actor, firm=form.firm,
                 detail={"documents": documents})
    if form.status == TaxFormStatus.VALID:
        return form
    return tax_form_validate(form=form, actor=actor, today=today)


@transaction.atomic
def tax_form_invalidate(*, form: TaxForm, reason: str, actor: User | None = None,
                        detail: dict[str, Any] | None = None) -> TaxForm:
    """Void a form (a change in circumstances, or an officer's decision)."""
    form = _lock(form)
    if form.status not in (TaxFormStatus.RECEIVED, TaxFormStatus.VALID):
        raise TaxFormStateError(f"a {form.status} form cannot be invalidated", detail={"status": form.status})
    before = form.status
    form.reject()
    form.status_reason = reason
    form.save()
    _event(form, "tax_form.invalidated", actor=actor, from_state=before, reason=reason, detail=detail)
    _refresh_withholding_status(form.party)
    return form


@transaction.atomic
def tax_forms_review_party_change(*, party: Party, actor: User | None = None) -> list[TaxForm]:
    """On a change of party data: void each valid form whose circumstances changed (W-8s on a
    new residence or address, W-9 on a new name or TIN). The case then shows it outstanding."""
    party = Party.objects.prefetch_related("addresses", "tax_residences").get(pk=party.pk)
    now = selectors.party_snapshot(party)
    voided = []
    for form in TaxForm.objects.filter(party=party, status=TaxFormStatus.VALID).order_by("id"):
        changes = void_reasons(form.form_type, form.party_snapshot or {}, now)
        if changes:
            voided.append(tax_form_invalidate(
                form=form, actor=actor,
                reason="change in circumstances: " + ", ".join(sorted(changes)),
                detail={"changes": sorted(changes)},
            ))
    return voided


@transaction.atomic
def tax_forms_expiry_sweep(*, today: dt.date | None = None) -> dict[str, Any]:
    """Daily: expire forms past their validity, flag those expiring within the warning window
    (once per form), and put parties left without a form on default withholding.

    Set-oriented: one locked read and one UPDATE per kind of change, audit events written with
    bulk_create in the same transaction. Safe to run twice (an expired form is no longer valid,
    a flagged form has expiry_notified_on)."""
    from onboarding.models import AuditEvent

    today = today or timezone.localdate()
    horizon = today + dt.timedelta(days=expiry_warning_days())
    due = list(
        TaxForm.objects.select_for_update()
        .filter(status=TaxFormStatus.VALID, valid_until__lt=today)
        .order_by("id")
        .values("id", "firm_id", "party_id", "form_type", "valid_until")
    )
    expiring = list(
        TaxForm.objects.select_for_update()
        .filter(status=TaxFormStatus.VALID, valid_until__gte=today, valid_until__lte=horizon,
                expiry_notified_on__isnull=True)
        .order_by("id")
        .values("id", "firm_id", "party_id", "form_type", "valid_until")
    )
    now = timezone.now()
    # The FSM field is protected against attribute assignment; a queryset UPDATE is the bulk
    # equivalent of `expire()` (valid -> expired), restricted to rows still valid.
    TaxForm.objects.filter(pk__in=[r["id"] for r in due], status=TaxFormStatus.VALID).update(
        status=TaxFormStatus.EXPIRED, updated_at=now,
        status_reason=Concat(Value("expired on "), Cast("valid_until", output_field=CharField())))
    TaxForm.objects.filter(pk__in=[r["id"] for r in expiring]).update(expiry_notified_on=today, updated_at=now)
    events = [
        AuditEvent(firm_id=r["firm_id"], subject_type="tax.taxform", subject_id=str(r["id"]),
                   event_type="tax_form.expired", from_state=TaxFormStatus.VALID, to_state=TaxFormStatus.EXPIRED,
                   reason=f"expired on {r['valid_until']}",
                   detail={"form_type": r["form_type"], "party": r["party_id"]})
        for r in due
    ] + [
        AuditEvent(firm_id=r["firm_id"], subject_type="tax.taxform", subject_id=str(r["id"]),
                   event_type="tax_form.expiring", reason=f"expires on {r['valid_until']}",
                   detail={"form_type": r["form_type"], "party": r["party_id"], "valid_until": str(r["valid_until"])})
        for r in expiring
    ]
    AuditEvent.objects.bulk_create(events)
    for kind, rows in (("tax_form.expired", due), ("tax_form.expiring", expiring)):
        for r in rows:
            webhooks.emit(firm=r["firm_id"], event_type=kind,
                          data={"tax_form": r["id"], "party": r["party_id"], "form_type": r["form_type"],
                                "valid_until": r["valid_until"]})
    default_parties = []
    for party in Party.objects.filter(pk__in={r["party_id"] for r in due}).order_by("pk"):
        if _refresh_withholding_status(party, today=today) == "default":
            default_parties.append(party.pk)
    return {"expired": [r["id"] for r in due], "expiring": [r["id"] for r in expiring],
            "default_withholding_parties": default_parties}


def _refresh_withholding_status(party: Party, *, today: dt.date | None = None) -> str:
    """Keep WithholdingStatus in step with the party's US forms; record a change of basis."""
    today = today or timezone.localdate()
    status = selectors.payee_status(party, on=today)
    wanted = {"W9"} if status.us_person else set(W8_FORMS)
    form = (TaxForm.objects.filter(party=party, form_type__in=wanted, status=TaxFormStatus.VALID)
            .exclude(valid_until__lt=today).order_by("-signed_on", "-id").first())
    basis = "documented" if status.documented else "default"
    reason = "" if status.documented else ("no current W-9" if status.us_person else "no current W-8")
    current = WithholdingStatus.objects.select_for_update().filter(party=party).first()
    if current is None:
        if basis == "documented" or TaxForm.objects.filter(party=party, form_type__in=wanted).exists():
            current = WithholdingStatus.objects.create(party=party, firm=party.firm, basis=basis, form=form, reason=reason)
            record_event(subject=current, event_type="tax.withholding_basis", firm=party.firm, to_state=basis,
                         reason=reason, detail={"party": party.pk})
        return basis
    if current.basis != basis or current.form_id != (form.pk if form else None):
        before = current.basis
        current.basis, current.form, current.reason = basis, form, reason
        current.save()
        record_event(subject=current, event_type="tax.withholding_basis", firm=party.firm, from_state=before,
                     to_state=basis, reason=reason, detail={"party": party.pk})
    return basis


# --- Reports ----------------------------------------------------------------------------------


@transaction.atomic
def tax_report_record(
    *,
    kind: str,
    year: int,
    institution: Any,
    receiving_country: str,
    message_ref_id: str,
    content: bytes,
    reported: int,
    exceptions: list[dict[str, str]],
    output_name: str = "",
    actor: User | None = None,
) -> TaxReportRun:
    """Record that a report was produced: what went in, what could not, and the file's hash."""
    import hashlib

    from .models import TaxReportRun

    run = TaxReportRun.objects.create(
        kind=kind, year=year, institution=institution, receiving_country=receiving_country,
        message_ref_id=message_ref_id, accounts_reported=reported, exceptions=exceptions,
        sha256=hashlib.sha256(content).hexdigest(), output_name=output_name, created_by=actor,
    )
    record_event(subject=run, event_type=f"tax.report.{kind}", actor=actor, to_state="produced",
                 detail={"year": year, "receiving": receiving_country, "reported": reported,
                         "exceptions": len([e for e in exceptions if e.get("severity") == "error"])})
    return run


# --- Sensitive values in PDFs (the one masking rule, onboarding.masking) ----------------------


@transaction.atomic
def tax_form_pdf_for(*, form: TaxForm, actor: User | None, reveal: bool = False) -> bytes:
    """The form's PDF for `actor`: masked, or -- when `reveal` is asked for by a role that may see
    sensitive values -- in full, with an audit event saying who revealed it."""
    from onboarding.exceptions import NotFound, PermissionDenied
    from onboarding.masking import may_reveal

    from .documents import render_tax_form_pdf

    if actor is not None and not (actor.is_superuser or actor.is_platform_officer) and actor.firm_id != form.firm_id:
        raise NotFound("not found")
    if reveal:
        if actor is not None and not may_reveal(actor):
            raise PermissionDenied("your role may not see sensitive values")
        _event(form, "tax_form.sensitive_revealed", actor=actor, detail={"rendering": "pdf"})
    return render_tax_form_pdf(form, reveal=reveal)
