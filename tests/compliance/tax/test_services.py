"""Capture, validation, supersession, change of circumstances, expiry and withholding status."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from compliance.tax import selectors, services
from compliance.tax.exceptions import TaxFormInvalid, TaxFormStateError
from compliance.tax.models import TaxForm, TaxFormStatus, TreatyRate, WithholdingRule, WithholdingStatus
from onboarding.audit import events_for

from .factories import AddressFactory, PersonFactory, TaxResidenceFactory
from .samples import SIGNED, TODAY, form

pytestmark = pytest.mark.django_db


@pytest.fixture
def briton():
    party = PersonFactory(given_names="Oliver", family_name="Twist")
    AddressFactory(party=party)
    TaxResidenceFactory(party=party)
    return party


@pytest.fixture
def american():
    party = PersonFactory(given_names="Jane", family_name="Roe", residence_country="US", nationalities=["US"],
                          place_of_birth_country="US", phone="+1 212 555 0100")
    AddressFactory(party=party, line1="1 Main Street", city="Springfield", postal_code="62701", country="US")
    return party


def capture(party, kind, **changes):
    return services.tax_form_capture(party=party, form_type=kind, data=form(kind, **changes), signed_on=SIGNED,
                                     today=TODAY)


def test_a_valid_w8ben_is_accepted_with_its_expiry_and_treaty_claim_and_audited(briton):
    f = capture(briton, "W8BEN")
    assert f.status == TaxFormStatus.VALID
    assert f.valid_until == dt.date(2029, 12, 31)
    assert (f.treaty_country, f.treaty_income_types) == ("GB", ["dividends"])
    assert [e.event_type for e in events_for(f)] == ["tax_form.received", "tax_form.validated"]
    assert events_for(f).last().to_state == "valid"


def test_an_invalid_form_keeps_its_errors_and_reason(briton):
    f = capture(briton, "W8BEN", foreign_tin="123")
    assert f.status == TaxFormStatus.INVALID
    assert any(e["field"] == "foreign_tin" for e in f.validation_errors)
    assert "foreign TIN" in f.status_reason
    assert events_for(f).last().event_type == "tax_form.invalid"


def test_an_unknown_form_type_is_refused_without_writing(briton):
    with pytest.raises(TaxFormInvalid):
        services.tax_form_capture(party=briton, form_type="W4", data={}, signed_on=SIGNED)
    assert not TaxForm.objects.exists()


def test_a_new_valid_form_supersedes_the_earlier_one(briton):
    first = capture(briton, "W8BEN")
    second = capture(briton, "W8BEN")
    first.refresh_from_db()
    assert (first.status, second.status) == (TaxFormStatus.SUPERSEDED, TaxFormStatus.VALID)
    assert TaxForm.objects.filter(party=briton, status="valid").count() == 1


def test_a_w8_from_someone_born_in_the_us_is_invalid_until_cured(briton):
    briton.place_of_birth_country = "US"
    briton.save()
    f = capture(briton, "W8BEN")
    assert f.status == TaxFormStatus.INVALID and f.indicia[0]["code"] == "us_place_of_birth"
    f = services.tax_form_add_cure_documents(form=f, documents=["certificate_of_loss_of_nationality",
                                                                "non_us_passport"], today=TODAY)
    assert f.status == TaxFormStatus.VALID
    assert f.indicia[0]["code"] == "us_place_of_birth"  # still recorded, now cured


def test_a_move_within_the_country_keeps_the_w8ben_a_move_to_the_us_voids_it(briton, american):
    # 1.1441-1(e)(4)(ii)(D): only a change to a US address or to another country makes a W-8
    # unreliable; a new address in the same foreign country does not.
    w8 = capture(briton, "W8BEN")
    w9 = capture(american, "W9")
    assert w9.status == TaxFormStatus.VALID
    briton.addresses.update(line1="221B Baker Street")
    american.addresses.update(line1="2 Main Street")
    assert services.tax_forms_review_party_change(party=briton) == []
    assert services.tax_forms_review_party_change(party=american) == []
    briton.addresses.update(line1="1 Ocean Drive", country="US")
    assert services.tax_forms_review_party_change(party=briton) == [w8]
    w8.refresh_from_db()
    assert w8.status == TaxFormStatus.INVALID and "address_us" in w8.status_reason
    assert events_for(w8).last().event_type == "tax_form.invalidated"


def test_a_change_of_name_voids_a_w9(american):
    w9 = capture(american, "W9")
    american.family_name = "Doe"
    american.save()
    services.tax_forms_review_party_change(party=american)
    w9.refresh_from_db()
    assert w9.status == TaxFormStatus.INVALID and "name" in w9.status_reason


def test_only_received_or_valid_forms_can_be_invalidated(briton):
    f = capture(briton, "W8BEN", foreign_tin="123")
    with pytest.raises(TaxFormStateError):
        services.tax_form_invalidate(form=f, reason="x")


def test_the_expiry_sweep_expires_flags_and_puts_the_party_on_default_withholding(briton):
    old = services.tax_form_capture(party=briton, form_type="W8BEN", data=form("W8BEN"),
                                    signed_on=dt.date(2023, 2, 1), today=dt.date(2023, 3, 1))
    assert old.valid_until == dt.date(2026, 12, 31)
    assert WithholdingStatus.objects.get(party=briton).basis == "documented"
    assert selectors.withholding_for(briton, income_type="dividends", on=dt.date(2026, 6, 1)).rate == Decimal(15)

    assert list(selectors.forms_expiring(on=dt.date(2026, 10, 15))) == [old]
    assert not selectors.forms_expiring(on=dt.date(2026, 9, 1)).exists()
    soon = services.tax_forms_expiry_sweep(today=dt.date(2026, 10, 15))
    assert soon["expiring"] == [old.pk] and soon["expired"] == []
    again = services.tax_forms_expiry_sweep(today=dt.date(2026, 10, 16))
    assert again["expiring"] == []  # flagged once

    result = services.tax_forms_expiry_sweep(today=dt.date(2027, 1, 1))
    old.refresh_from_db()
    assert result["expired"] == [old.pk] and old.status == TaxFormStatus.EXPIRED
    assert old.status_reason == "expired on 2026-12-31"
    assert [e.event_type for e in events_for(old)][-2:] == ["tax_form.expiring", "tax_form.expired"]
    assert result["default_withholding_parties"] == [briton.pk]
    assert WithholdingStatus.objects.get(party=briton).basis == "default"
    decision = selectors.withholding_for(briton, income_type="dividends", on=dt.date(2027, 1, 2))
    # the firm books the account outside the US: an offshore obligation, so the undocumented
    # individual is presumed foreign (1.6049-5(d)(2)) and suffers the statutory 30%
    assert (decision.rate, decision.rule) == (Decimal(30), "presumed_foreign")
    assert services.tax_forms_expiry_sweep(today=dt.date(2027, 1, 1))["expired"] == []  # idempotent


def test_us_person_without_a_w9_suffers_backup_withholding_and_with_one_none(american):
    assert selectors.withholding_for(american, income_type="interest", on=TODAY).rate == Decimal(24)
    capture(american, "W9")
    assert selectors.withholding_for(american, income_type="interest", on=TODAY).rate == Decimal(0)


def test_loading_the_rule_files_twice_upserts_the_rows(db):
    first = services.tax_rules_load()
    second = services.tax_rules_load()
    assert first == second
    assert TreatyRate.objects.filter(is_active=True).count() == first["treaty_rates"]
    assert TreatyRate.objects.get(country="CN", income_type="dividends").rate == Decimal(10)
    assert WithholdingRule.objects.get(code="backup_withholding").rate == Decimal(24)
    assert WithholdingRule.objects.get(code="treaty").rate is None


def test_a_rate_edited_in_the_admin_table_is_used_for_withholding(briton):
    services.tax_rules_load()
    capture(briton, "W8BEN")
    TreatyRate.objects.filter(country="GB", income_type="dividends").update(rate=Decimal("12.5"))
    assert selectors.withholding_for(briton, income_type="dividends", on=TODAY).rate == Decimal("12.5")


def test_the_database_refuses_two_valid_forms_of_the_same_kind(briton):
    from django.db import IntegrityError, transaction

    first = capture(briton, "W8BEN")
    with pytest.raises(IntegrityError), transaction.atomic():
        TaxForm.objects.create(firm=briton.firm, party=briton, form_type="W8BEN", status="valid", data={})
    assert TaxForm.objects.filter(party=briton, status="valid").get() == first


def test_form_data_is_encrypted_at_rest(briton):
    from django.db import connection

    f = capture(briton, "W8BEN")
    with connection.cursor() as cursor:
        cursor.execute("SELECT data FROM tax_taxform WHERE id = %s", [f.pk])
        raw = cursor.fetchone()[0]
    assert raw.startswith("enc:") and "1955839661" not in raw
    f.refresh_from_db()
    assert f.data["foreign_tin"] == "1955839661"


def test_a_prepared_w8ben_is_prefilled_from_the_party_and_becomes_valid_once_signed(briton):
    briton.date_of_birth = dt.date(1980, 5, 1)
    briton.save()
    draft = services.tax_form_prepare(party=briton, form_type="W8BEN")
    assert draft.status == TaxFormStatus.DRAFT
    assert draft.data["permanent_address"]["city"] == "London"
    assert (draft.data["foreign_tin"], draft.data["citizenship"], draft.data["date_of_birth"]) == (
        "1955839661", "GB", "1980-05-01")
    signed = services.tax_form_record_signed(form=draft, signed_on=SIGNED, changes={"certified": True}, today=TODAY)
    assert signed.status == TaxFormStatus.VALID
    assert [e.event_type for e in events_for(signed)] == ["tax_form.prepared", "tax_form.received",
                                                          "tax_form.validated"]
    with pytest.raises(TaxFormStateError):
        services.tax_form_record_signed(form=signed, signed_on=SIGNED)


def test_a_prepared_crs_entity_form_lists_the_controlling_persons():
    from .factories import EntityFactory, OwnershipFactory

    trust = EntityFactory(client_type="trust", legal_name="Solaris Family Trust", country_of_incorporation="KY")
    settlor = PersonFactory(given_names="Ann", family_name="Lee")
    TaxResidenceFactory(party=settlor)
    OwnershipFactory(owner=settlor, owned=trust, role="settlor", percentage=0)
    draft = services.tax_form_prepare(party=trust, form_type="CRS_ENT")
    assert draft.data["crs_classification"] == "passive_nfe"
    assert draft.data["controlling_persons"] == [
        {"name": "Ann Lee", "role": "CRS804", "party": settlor.pk,
         "tax_residences": [{"country": "GB", "tin": "1955839661", "no_tin_reason": "", "explanation": ""}]}]


def test_the_render_task_stores_the_pdf(briton, settings, tmp_path):
    from django.core.files.storage import default_storage

    from compliance.tax.tasks import tax_render_form_pdf

    settings.MEDIA_ROOT = tmp_path
    f = capture(briton, "W8BEN")
    name = tax_render_form_pdf.delay(f.pk).get()
    assert name == f"tax_forms/{f.firm_id}/{f.pk}-W8BEN.pdf"
    with default_storage.open(name) as fh:
        assert fh.read(4) == b"%PDF"
    assert tax_render_form_pdf.delay(f.pk).get() == name  # idempotent: same name, replaced


def test_the_withholding_fraction_is_what_the_ledger_books(briton):
    capture(briton, "W8BEN")
    assert selectors.withholding_fraction_for(briton, income_type="dividends", on=TODAY) == Decimal("0.15")


def test_a_partnership_with_a_withholding_statement_is_looked_through_to_a_blended_rate(briton, american):
    # Treas. Reg. 1.1441-5(c)(3)(iv), (d); Instructions for Form W-8IMY. Partners: the Briton (W-8BEN,
    # UK treaty 15% on dividends) 50%, the American (W-9 with a certified TIN, 0%) 30%, 20% left
    # unallocated (presumed foreign, 30%): 0.5 x 15 + 0.3 x 0 + 0.2 x 30 = 7.5 + 0 + 6 = 13.5%.
    from .factories import EntityFactory

    capture(briton, "W8BEN")
    capture(american, "W9")
    partnership = EntityFactory(firm=briton.firm, client_type="partnership", country_of_incorporation="KY")
    american.firm = briton.firm
    american.save()
    statement = [{"party": briton.pk, "share": "50"}, {"party": american.pk, "share": "30"}]
    imy = capture(partnership, "W8IMY", withholding_statement=statement)
    assert imy.status == TaxFormStatus.VALID, imy.validation_errors
    decision = selectors.withholding_for(partnership, income_type="dividends", on=TODAY)
    assert (decision.rate, decision.rule) == (Decimal("13.5"), "look_through")
    assert "1.1441-5" in decision.source


def test_a_withholding_statement_allocating_more_than_the_payment_is_refused(briton):
    from .factories import EntityFactory

    partnership = EntityFactory(firm=briton.firm, client_type="partnership", country_of_incorporation="KY")
    imy = capture(partnership, "W8IMY", withholding_statement=[{"party": briton.pk, "share": "70"},
                                                              {"name": "Other LP", "share": "40"}])
    assert imy.status == TaxFormStatus.INVALID
    assert any(e["field"] == "withholding_statement" and e["code"] == "invalid" for e in imy.validation_errors)
