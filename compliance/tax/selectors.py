"""Reads for tax documentation: party facts for the engines, current forms, rules in force,
outstanding requirements, withholding."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from onboarding.exceptions import MeridianError
from onboarding.models import OnboardingCase, OwnershipLink, Party, PartyKind, Relationship

from . import rulefiles
from .determination import (
    PartyFacts,
    PersonRef,
    RequiredForm,
    build_facts,
    classify_entity,
    determine_forms,
    is_us_person,
)
from .exceptions import TaxRuleFileInvalid
from .forms_catalogue import FORM_TYPES, W8_FORMS
from .indicia import PartyContext
from .models import FormRule, TaxForm, TaxFormStatus, TreatyRate, WithholdingRule
from .withholding import Allocation, PayeeStatus, WithholdingDecision, blended_rate, withholding_rate


def party_ref(party: Party) -> str:
    return f"party:{party.pk}"


# --- Rules in force ---------------------------------------------------------------------------


def treaty_rows() -> list[dict[str, Any]]:
    rows = [r.as_rule() for r in TreatyRate.objects.filter(is_active=True)]
    return rows or rulefiles.treaties()["rows"]


def withholding_rules() -> list[dict[str, Any]]:
    rows = [r.as_rule() for r in WithholdingRule.objects.filter(is_active=True)]
    return rows or rulefiles.withholding()["rules"]


# Rule packs (onboarding/rulepacks/*.yaml) name forms and facts their own way.
PACK_FORM_NAMES = {"W9": "W9", "W8BEN": "W8BEN", "W8BEN-E": "W8BENE", "W8BENE": "W8BENE", "W8IMY": "W8IMY",
                   "W8ECI": "W8ECI", "CRS-I": "CRS_IND", "CRS-E": "CRS_ENT", "CRS-CP": "CRS_CP"}
PACK_FACT_NAMES = {"party_kind": "kind", "crs": "booking_centre_crs"}
PACK_FACT_VALUES = {("kind", "person"): "individual"}


def _translate_pack_rule(rule: dict[str, Any], *, defaults: dict[str, dict[str, Any]], source: str) -> dict[str, Any]:
    form = PACK_FORM_NAMES.get(str(rule.get("form", "")))
    if form is None:
        raise TaxRuleFileInvalid(f"rule pack tax_forms: unknown form {rule.get('form')!r}", detail={"rule": rule})
    when = {}
    for key, value in (rule.get("when") or {}).items():
        key = PACK_FACT_NAMES.get(key, key)
        when[key] = PACK_FACT_VALUES.get((key, value), value)
    base = defaults.get(form, {})
    return {
        "code": rule.get("code") or base.get("code") or f"tax.{form.lower()}",
        "form": form,
        "when": when,
        "per": rule.get("per") or base.get("per"),
        "reason": rule.get("reason") or base.get("reason", ""),
        "source": rule.get("source") or "; ".join(
            x for x in (base.get("source", ""), f"rule pack {source.split(':', 1)[0]}" if source else "") if x),
        "effective_from": rule.get("effective_from") or base.get("effective_from"),
    }


def pack_tax_policy(case: OnboardingCase) -> tuple[list[dict[str, Any]] | None, bool | None]:
    """The case's rule-pack `tax_forms` (translated to this app's rule shape) and its
    `crs_participating` flag; (None, None) when no pack policy is available."""
    try:
        from onboarding.selectors import case_policy

        resolved = case_policy(case)
    except MeridianError:  # no packs loaded: use this app's rules
        return None, None
    policy = resolved.get("policy") or {}
    crs = policy.get("crs_participating")
    pack_rules = policy.get("tax_forms")
    if not pack_rules:
        return None, crs
    own = rulefiles.form_rules()["tax_forms"]
    defaults = {r["form"]: r for r in own}
    source = (resolved.get("key_sources") or {}).get("tax_forms", "")
    rules = [_translate_pack_rule(r, defaults=defaults, source=source) for r in pack_rules]
    named = {r["form"] for r in rules}
    # The pack names the forms; per-controlling-person self-certifications it does not name come
    # from this app's rules (a passive NFE's controlling persons).
    rules += [r for r in own if r.get("per") and r["form"] not in named]
    return rules, crs


def form_rules_for(case: OnboardingCase | None = None) -> tuple[list[dict[str, Any]], bool | None]:
    """Rules deciding the forms, and the CRS flag when the rule pack sets it. In order: rules
    pinned on the case by the tax tests (`policy.tax_forms`), the case's rule pack, the loaded
    FormRule rows, form_rules.yaml."""
    if case is not None:
        pinned = (case.policy or {}).get("tax_forms")
        if pinned:
            return pinned, None
        rules, crs = pack_tax_policy(case)
        if rules:
            return rules, crs
    else:
        crs = None
    rows = [r.as_rule() for r in FormRule.objects.filter(is_active=True)]
    return (rows or rulefiles.form_rules()["tax_forms"]), crs


# --- Party facts -----------------------------------------------------------------------------


def party_snapshot(party: Party) -> dict[str, Any]:
    """The circumstances a form depends on, to spot a change later."""
    return {
        "name": party.display_name.strip().upper(),
        "residence": (party.residence_country or party.country_of_incorporation or "").upper(),
        "address": sorted(
            f"{a.kind}|{a.line1.strip().upper()}|{a.city.strip().upper()}|{a.postal_code.strip().upper()}|{a.country}"
            for a in party.addresses.all()
        ),
        "tin": sorted(f"{t.country}:{t.tin}" for t in party.tax_residences.all() if t.tin),
    }


def party_context(party: Party, *, standing_instruction_countries: tuple[str, ...] = ()) -> PartyContext:
    return PartyContext(
        ref=party_ref(party),
        kind="individual" if party.kind == PartyKind.PERSON else "entity",
        name=party.display_name,
        residence_country=party.residence_country,
        incorporation_country=party.country_of_incorporation,
        nationalities=tuple(party.nationalities or ()),
        place_of_birth_country=party.place_of_birth_country,
        address_countries=tuple(a.country for a in party.addresses.all()),
        phones=tuple(p for p in [party.phone] if p),
        standing_instruction_countries=standing_instruction_countries,
        lawful_permanent_resident=party.us_lawful_permanent_resident,
        substantial_presence=party.us_substantial_presence,
        kyc_us_owners=kyc_us_owners(party),
    )


def kyc_us_owners(party: Party) -> tuple[tuple[str, str], ...]:
    """Natural persons KYC records as owning the entity (effective percentage, through every
    chain) who are US persons: checked against a passive NFFE's owner certification."""
    if party.kind != PartyKind.ENTITY:
        return ()
    from onboarding.selectors import ownership_of

    shares = ownership_of(party).shares
    people = Party.objects.filter(pk__in=[pk for pk in shares if pk != party.pk], kind=PartyKind.PERSON
                                  ).prefetch_related("tax_residences")
    found = []
    for person in people:
        if is_us_person(kind="individual", nationalities=list(person.nationalities or []),
                        residence_country=person.residence_country, incorporation_country="",
                        tax_residences=[t.country for t in person.tax_residences.all()],
                        lawful_permanent_resident=person.us_lawful_permanent_resident,
                        substantial_presence=person.us_substantial_presence):
            found.append((person.display_name, f"{Decimal(shares[person.pk].effective).quantize(Decimal('0.01'))}"))
    return tuple(sorted(found))


def controlling_persons(party: Party) -> list[tuple[Party, str]]:
    """Natural persons controlling an entity, with their CRS CtrlgPersonType (OECD CRS VIII(D)(6),
    read with the FATF beneficial owner: control through direct or indirect ownership). Persons
    linked directly in another role (director, trustee, ...) come first, in the order they were
    added; shareholders count at or above the threshold of their effective share, summed over
    every chain of holding companies (60% of a holding that owns 100% is 60%)."""
    if party.kind != PartyKind.ENTITY:
        return []
    from onboarding.selectors import ownership_of

    table = rulefiles.form_rules()["controlling_persons"]
    threshold = Decimal(str(table["ownership_threshold"]))
    if party.client_type == "trust":
        codes = table["trust"]
    elif party.client_type == "foundation":
        codes = table["legal_arrangement"]
    else:
        codes = table["legal_person"]
    shares = ownership_of(party).shares
    effective = {pid: share.effective for pid, share in shares.items()}
    people = {p.pk: p for p in Party.objects.filter(pk__in=list(shares), kind=PartyKind.PERSON)}
    result: list[tuple[Party, str]] = []
    seen: set[int] = set()
    links = OwnershipLink.objects.filter(owned=party, owner__kind=PartyKind.PERSON).order_by("id") \
        .values_list("owner_id", "role")
    for owner_id, role in links:
        if role == "shareholder" and effective.get(owner_id, Decimal(0)) < threshold:
            continue
        code = codes.get(role) or codes.get("default")
        if code is None or owner_id in seen or owner_id not in people:
            continue
        seen.add(owner_id)
        result.append((people[owner_id], code))
    ownership_code = codes.get("shareholder") or codes.get("default")
    indirect = sorted((pid for pid in people if pid not in seen and effective.get(pid, Decimal(0)) >= threshold),
                      key=lambda pid: (-effective[pid], pid))
    if ownership_code is not None:
        result.extend((people[pid], ownership_code) for pid in indirect)
    return result


def _valid_form(party: Party, form_type: str, on: dt.date) -> TaxForm | None:
    return (
        TaxForm.objects.filter(party=party, form_type=form_type, status=TaxFormStatus.VALID)
        .exclude(valid_until__lt=on)
        .order_by("-signed_on", "-id")
        .first()
    )


def party_facts(party: Party, *, booking_centre: str, effectively_connected: bool | None = None,
                crs_participating: bool | None = None) -> PartyFacts:
    """The facts the form rules test. Whether the booking centre takes CRS self-certifications
    comes from the one CRS list (crs_jurisdictions.yaml); a rule pack's `crs_participating` is
    not an override (`rulepacks check` reports a pack that disagrees with the list)."""
    today = timezone.localdate()
    kind = "individual" if party.kind == PartyKind.PERSON else "entity"
    classification: dict[str, Any] = {}
    cps: tuple[PersonRef, ...] = ()
    if kind == "entity":
        # A valid self-certification overrides the defaults.
        ent = _valid_form(party, "CRS_ENT", today)
        if ent and ent.data.get("crs_classification"):
            classification["crs"] = ent.data["crs_classification"]
        w8 = _valid_form(party, "W8BENE", today)
        if w8:
            if w8.chapter3_status:
                classification["ch3"] = w8.chapter3_status
            if w8.chapter4_status:
                classification["ch4"] = w8.chapter4_status
        cps = tuple(PersonRef(party_ref(p), p.display_name, role) for p, role in controlling_persons(party))
    if effectively_connected is None:
        effectively_connected = _valid_form(party, "W8ECI", today) is not None
    return build_facts(
        ref=party_ref(party), name=party.display_name, kind=kind, client_type=party.client_type,
        booking_centre=booking_centre, on=today, nationalities=list(party.nationalities or []),
        residence_country=party.residence_country, incorporation_country=party.country_of_incorporation,
        tax_residences=[t.country for t in party.tax_residences.all()],
        lawful_permanent_resident=party.us_lawful_permanent_resident,
        substantial_presence=party.us_substantial_presence, listed=party.is_listed,
        regulated_fi=party.is_regulated_fi, effectively_connected=effectively_connected,
        classification=classification, controlling_persons=cps,
    )


# --- Requirements ----------------------------------------------------------------------------


def latest_case(relationship: Relationship) -> OnboardingCase | None:
    return relationship.cases.order_by("-created_at", "-id").first()


def booking_centre_for(relationship: Relationship) -> str:
    case = latest_case(relationship)
    return (case.jurisdiction if case else "") or relationship.firm.home_jurisdiction


def required_forms(party: Party, *, booking_centre: str, case: OnboardingCase | None = None) -> list[RequiredForm]:
    effectively_connected = None
    if case is not None and "effectively_connected" in ((case.policy or {}).get("tax") or {}):
        effectively_connected = bool(case.policy["tax"]["effectively_connected"])
    rules, crs = form_rules_for(case)
    facts = party_facts(party, booking_centre=booking_centre, effectively_connected=effectively_connected,
                        crs_participating=crs)
    return determine_forms(facts, rules, on=timezone.localdate())


def _ref_to_pk(ref: str) -> int:
    return int(ref.split(":", 1)[1])


def missing_forms(party: Party, *, booking_centre: str, on: dt.date | None = None,
                  case: OnboardingCase | None = None) -> list[tuple[RequiredForm, str, TaxForm | None]]:
    """Required forms with no valid current form on file: (requirement, why, latest form or None)."""
    on = on or timezone.localdate()
    missing = []
    required = required_forms(party, booking_centre=booking_centre, case=case)
    if not required:
        return missing
    # Every form the requirements could be met by, in one query (newest first), instead of two per form.
    on_file = list(TaxForm.objects.filter(party_id__in={_ref_to_pk(r.subject_ref) for r in required},
                                          form_type__in={r.form for r in required})
                   .exclude(status=TaxFormStatus.SUPERSEDED).order_by("-created_at", "-id"))
    for req in required:
        subject_pk = _ref_to_pk(req.subject_ref)
        related_pk = _ref_to_pk(req.for_ref) if req.for_ref else None
        forms = [f for f in on_file if f.party_id == subject_pk and f.form_type == req.form
                 and (related_pk is None or f.related_party_id == related_pk)]
        latest = forms[0] if forms else None
        if any(f.status == TaxFormStatus.VALID and (f.valid_until is None or f.valid_until >= on) for f in forms):
            continue
        if latest is None:
            why = "no form on file"
        elif latest.status == TaxFormStatus.VALID or latest.status == TaxFormStatus.EXPIRED:  # valid but past valid_until: expiry task not yet run
            why = f"expired on {latest.valid_until}"
        elif latest.status == TaxFormStatus.INVALID:
            why = f"form on file is invalid: {latest.status_reason or 'see validation errors'}"
        else:
            why = f"form on file is {latest.get_status_display().lower()}, not yet validated"
        missing.append((req, why, latest))
    return missing


# --- Withholding -----------------------------------------------------------------------------


def payee_status(party: Party, *, on: dt.date | None = None) -> PayeeStatus:
    on = on or timezone.localdate()
    kind = "individual" if party.kind == PartyKind.PERSON else "entity"
    us = is_us_person(kind=kind, nationalities=list(party.nationalities or []),
                      residence_country=party.residence_country,
                      incorporation_country=party.country_of_incorporation,
                      tax_residences=[t.country for t in party.tax_residences.all()],
                      lawful_permanent_resident=party.us_lawful_permanent_resident,
                      substantial_presence=party.us_substantial_presence)
    wanted = ["W9"] if us else sorted(W8_FORMS)
    form = (
        TaxForm.objects.filter(party=party, form_type__in=wanted, status=TaxFormStatus.VALID)
        .exclude(valid_until__lt=on)
        .order_by("-signed_on", "-id")
        .first()
    )
    if form is None:
        # Presumption rules (1.1441-1(b)(3)): an entity organised abroad has foreign indicia; an
        # individual is presumed foreign only on an offshore obligation (an account booked outside
        # the United States, 1.6049-5(d)(2)), otherwise a US non-exempt recipient.
        booking = (party.firm.home_jurisdiction or "").upper()
        presumed_foreign = (not us) and (kind == "entity" or booking not in ("", "US"))
        return PayeeStatus(us_person=us, documented=False, kind=kind, presumed_foreign=presumed_foreign)
    return PayeeStatus(
        us_person=us,
        kind=kind,
        documented=True,
        certified_tin=form.certified_tin,
        exempt=form.exempt_payee,
        treaty_country=form.treaty_country,
        treaty_income_types=tuple(form.treaty_income_types or ()),
    )


def _statement(party: Party, on: dt.date) -> list[dict[str, Any]] | None:
    """The withholding statement of the party's current W-8IMY, when it allocates to owners."""
    form = _valid_form(party, "W8IMY", on)
    lines = (form.data or {}).get("withholding_statement") if form else None
    return lines if isinstance(lines, list) and lines else None


def withholding_for(party: Party, *, income_type: str, on: dt.date | None = None) -> WithholdingDecision:
    """The rate a payment of `income_type` to `party` suffers today (default withholding when the
    form has expired or is missing). An intermediary or flow-through entity with a current W-8IMY
    whose withholding statement allocates the payment is looked through: each share suffers its
    owner's rate (Treas. Reg. 1.1441-5(c)(3)(iv), (d)), giving a blended rate."""
    on = on or timezone.localdate()
    rules, rows = withholding_rules(), treaty_rows()
    lines = _statement(party, on)
    if lines is None:
        return withholding_rate(payee_status(party, on=on), income_type=income_type, on=on, rules=rules,
                                treaty_rows=rows)
    owners = Party.objects.filter(firm_id=party.firm_id, pk__in=[ln["party"] for ln in lines if ln.get("party")]
                                  ).select_related("firm").prefetch_related("tax_residences")
    by_id = {p.pk: p for p in owners}
    allocations = []
    for line in lines:
        owner = by_id.get(line.get("party"))
        status = (payee_status(owner, on=on) if owner is not None
                  else PayeeStatus(us_person=False, documented=False, kind="entity"))  # unknown owner: presumption
        allocations.append(Allocation(owner.display_name if owner else str(line.get("name", "")),
                                      Decimal(str(line["share"])), status))
    blended = blended_rate(allocations, income_type=income_type, on=on, rules=rules, treaty_rows=rows)
    parts = "; ".join(f"{name} {share}% at {d.rate}% ({d.rule})" for name, share, d in blended.parts)
    return WithholdingDecision(blended.rate, "look_through", f"W-8IMY withholding statement: {parts}",
                               blended.source)


def withholding_fraction_for(party: Party, *, income_type: str, on: dt.date | None = None) -> Decimal:
    """The rate as a fraction (0.15), the form `accounts.services.dividend_book` takes."""
    return withholding_for(party, income_type=income_type, on=on).rate / Decimal(100)


def forms_for_party(party: Party) -> QuerySet[TaxForm]:
    return TaxForm.objects.filter(party=party).order_by("-created_at", "-id")


def forms_expiring(*, firm=None, on: dt.date | None = None, within_days: int | None = None) -> QuerySet[TaxForm]:
    """Valid forms whose validity ends within the warning window (90 days by default)."""
    from .validity import expiry_warning_days

    on = on or timezone.localdate()
    horizon = on + dt.timedelta(days=expiry_warning_days() if within_days is None else within_days)
    qs = TaxForm.objects.filter(status=TaxFormStatus.VALID, valid_until__gte=on, valid_until__lte=horizon)
    if firm is not None:
        qs = qs.filter(firm=firm)
    return qs.select_related("party").order_by("valid_until", "id")


def forms_for_firm(firm) -> QuerySet[TaxForm]:
    return TaxForm.objects.filter(firm=firm).select_related("party")


def form_label(form_type: str) -> str:
    return FORM_TYPES.get(form_type, form_type)


def superseded_reason(form) -> str:
    """Why a form was superseded, naming the newer form in words: "Superseded by Form W-8BEN-E
    signed 3 Mar 2026" (a form without a signing date: "received 3 Mar 2026")."""
    from django.utils.dateformat import format as date_format

    label = form_label(form.form_type)
    if form.signed_on:
        return f"Superseded by {label} signed {date_format(form.signed_on, 'j M Y')}"
    return f"Superseded by {label} received {date_format(timezone.localtime(form.created_at), 'j M Y')}"


LEGACY_SUPERSEDED = re.compile(r"^superseded by form (\d+)$")


def status_reason_words(form) -> str:
    """A form's status reason for people. Reasons written before forms were named in words
    ("superseded by form 15") are rewritten from the newer form."""
    reason = form.status_reason or ""
    match = LEGACY_SUPERSEDED.match(reason.strip())
    if match:
        newer = TaxForm.objects.filter(pk=int(match.group(1))).only("form_type", "signed_on", "created_at").first()
        return superseded_reason(newer) if newer is not None else "Superseded by a newer form"
    return reason




# --- Pre-filling a form for signature -----------------------------------------------------------


def _address_dict(address) -> dict[str, str]:
    return {"line1": address.line1, "line2": address.line2, "city": address.city, "region": address.region,
            "postal_code": address.postal_code, "country": address.country}


def prefill_form_data(party: Party, form_type: str, *, related_party: Party | None = None,
                      role: str = "") -> dict[str, Any]:
    """Form fields taken from what onboarding already knows about the party, for a document the
    client only has to check and sign."""
    addresses = {a.kind: a for a in party.addresses.all()}
    home = addresses.get("residential") or addresses.get("registered") or addresses.get("business")
    mailing = addresses.get("mailing")
    residences = [{"country": t.country, "tin": t.tin, "no_tin_reason": t.no_tin_reason,
                   "explanation": t.no_tin_explanation} for t in party.tax_residences.all()]
    home_country = (home.country if home else "") or party.residence_country or party.country_of_incorporation
    foreign_tin = next((r["tin"] for r in residences if r["country"] == home_country and r["tin"]), "")
    us_tin = next((r["tin"] for r in residences if r["country"] == "US" and r["tin"]), "")
    data: dict[str, Any] = {"name": party.display_name, "signer_name": party.display_name if party.kind == "person" else ""}
    if form_type == "W9":
        data.update(tax_classification="individual" if party.kind == "person" else party.client_type,
                    address=_address_dict(home) if home else {}, tin=us_tin)
    elif form_type in {"W8BEN", "W8BENE", "W8IMY", "W8ECI"}:
        data.update(permanent_address=_address_dict(home) if home else {},
                    mailing_address=_address_dict(mailing) if mailing else {}, foreign_tin=foreign_tin, us_tin=us_tin)
        if form_type == "W8BEN":
            data.update(citizenship=(party.nationalities or [""])[0],
                        date_of_birth=party.date_of_birth.isoformat() if party.date_of_birth else "")
        else:
            cls = classify_entity(client_type=party.client_type, listed=party.is_listed,
                                  regulated_fi=party.is_regulated_fi)
            data.update(country_of_incorporation=party.country_of_incorporation, chapter3_status=cls["ch3"],
                        chapter4_status=cls["ch4"])
    elif form_type in {"CRS_IND", "CRS_CP"}:
        data.update(residence_address=_address_dict(home) if home else {}, tax_residences=residences,
                    date_of_birth=party.date_of_birth.isoformat() if party.date_of_birth else "",
                    place_of_birth=party.place_of_birth_country)
        if form_type == "CRS_CP" and related_party is not None:
            data.update(entity_name=related_party.display_name, role=role)
    elif form_type == "CRS_ENT":
        cls = classify_entity(client_type=party.client_type, listed=party.is_listed, regulated_fi=party.is_regulated_fi)
        data.update(address=_address_dict(home) if home else {}, tax_residences=residences,
                    country_of_incorporation=party.country_of_incorporation, crs_classification=cls["crs"])
        if cls["crs"] == "passive_nfe":
            data["controlling_persons"] = [
                {"name": p.display_name, "role": code, "party": p.pk,
                 "tax_residences": [{"country": t.country, "tin": t.tin, "no_tin_reason": t.no_tin_reason,
                                     "explanation": t.no_tin_explanation} for t in p.tax_residences.all()]}
                for p, code in controlling_persons(party)
            ]
    return data


# --- Controlling persons and the W-8BEN-E / CRS cross-check --------------------------------------


def status_words(code: str) -> str:
    """'passive_nffe' -> 'passive NFFE', 'reporting_model_1_ffi' -> 'reporting model 1 FFI'."""
    upper = {"nffe": "NFFE", "nfe": "NFE", "ffi": "FFI", "crs": "CRS"}
    return " ".join(upper.get(word, word) for word in (code or "").split("_"))


def controlling_person_type_label(code: str) -> str:
    labels: dict[str, str] = rulefiles.form_rules()["controlling_persons"].get("type_labels", {})
    return labels.get(code, code)


def controlling_persons_for_crs(party: Party) -> list[dict[str, Any]]:
    """The controlling persons of an entity as its CRS self-certification lists them, derived from
    the ownership structure (`controlling_persons`): party id, name, CtrlgPersonType and its words,
    and the tax residences recorded for the person."""
    pairs = controlling_persons(party)
    if not pairs:
        return []
    people = {p.pk: p for p in Party.objects.filter(pk__in=[p.pk for p, _ in pairs]).prefetch_related("tax_residences")}
    return [{
        "party": person.pk, "name": person.display_name, "role": code, "role_label": controlling_person_type_label(code),
        "tax_residences": [{"country": t.country, "tin": t.tin, "no_tin_reason": t.no_tin_reason,
                            "explanation": t.no_tin_explanation} for t in people[person.pk].tax_residences.all()],
    } for person, code in pairs]


def entity_crs_classification(party: Party) -> str:
    """The entity's CRS classification: its current self-certification's, else the default for its
    kind of entity (form_rules.yaml entity_classification)."""
    current = current_forms([party.pk], ["CRS_ENT"]).get((party.pk, "CRS_ENT"))
    if current is not None and current.data.get("crs_classification"):
        return str(current.data["crs_classification"])
    return str(classify_entity(client_type=party.client_type, listed=party.is_listed,
                               regulated_fi=party.is_regulated_fi).get("crs", ""))


def current_forms(party_ids: list[int], form_types: list[str]) -> dict[tuple[int, str], TaxForm]:
    """Each party's own latest form of each type that stands (received or valid), in one query."""
    forms = TaxForm.objects.filter(
        party_id__in=party_ids, form_type__in=form_types, related_party__isnull=True,
        status__in=[TaxFormStatus.RECEIVED, TaxFormStatus.VALID],
    ).select_related("party").order_by("party_id", "form_type", "-signed_on", "-id")
    found: dict[tuple[int, str], TaxForm] = {}
    for form in forms:
        found.setdefault((form.party_id, form.form_type), form)
    return found


def _signed(form: TaxForm) -> str:
    return f"signed {form.signed_on:%d %b %Y}" if form.signed_on else "not dated"


def status_mismatches(party_ids: list[int]) -> list[dict[str, Any]]:
    """Entities whose W-8BEN-E chapter 4 status and CRS self-certification classification disagree
    (form_rules.yaml status_consistency): the party, both forms, and the reason in words."""
    table = rulefiles.form_rules().get("status_consistency") or {}
    allowed_for: dict[str, list[str]] = table.get("crs_for_chapter4") or {}
    forms = current_forms(party_ids, ["W8BENE", "CRS_ENT"])
    found = []
    for (party_id, form_type), w8 in sorted(forms.items()):
        if form_type != "W8BENE":
            continue
        crs = forms.get((party_id, "CRS_ENT"))
        ch4 = w8.chapter4_status or str(w8.data.get("chapter4_status", ""))
        crs_class = str(crs.data.get("crs_classification", "")) if crs else ""
        allowed = allowed_for.get(ch4)
        if crs is None or not ch4 or not crs_class or allowed is None or crs_class in allowed:
            continue
        name = w8.party.display_name
        found.append({
            "party": w8.party, "w8": w8, "crs": crs, "chapter4_status": ch4, "crs_classification": crs_class,
            "source": table.get("source", ""),
            "reason": (f"{name}: the W-8BEN-E ({_signed(w8)}) claims {status_words(ch4)} for FATCA, "
                       f"but the CRS self-certification ({_signed(crs)}) says {status_words(crs_class)}; "
                       f"a {status_words(ch4)} is {' or '.join(status_words(c) for c in allowed)} under CRS. "
                       "Ask the client which is right and obtain a corrected form."),
        })
    return found
