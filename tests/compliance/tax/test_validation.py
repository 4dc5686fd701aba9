"""Validation of captured forms: fields, TINs, treaty claims, signature, indicia, controlling persons."""
from __future__ import annotations

import datetime as dt

import pytest

from compliance.tax.indicia import PartyContext
from compliance.tax.validation import validate_form

from .samples import FORMS, SIGNED, TODAY, form

PERSON = PartyContext(ref="party:1", kind="individual", name="Oliver Twist", residence_country="GB",
                      address_countries=("GB",), phones=("+44 20 7946 0000",))
ENTITY = PartyContext(ref="party:2", kind="entity", name="Entity", incorporation_country="GB", address_countries=("GB",))


def ctx_for(kind):
    return ENTITY if kind in {"W8BENE", "W8IMY", "CRS_ENT", "W8ECI"} else PERSON


def codes(result):
    return {(e.field, e.code) for e in result.errors}


@pytest.mark.parametrize("kind", sorted(FORMS))
def test_each_sample_form_is_valid(kind):
    result = validate_form(kind, form(kind), signed_on=SIGNED, party=ctx_for(kind), today=TODAY)
    assert result.ok, [e.as_dict() for e in result.errors] + [i.as_dict() for i in result.uncured_indicia]


def test_w8ben_gets_its_three_year_validity_and_treaty_rate():
    result = validate_form("W8BEN", form("W8BEN"), signed_on=SIGNED, party=PERSON, today=TODAY)
    assert result.valid_until == dt.date(2029, 12, 31)
    assert result.treaty_rate == "15"


def test_a_w8ben_signed_more_than_three_years_ago_is_expired():
    result = validate_form("W8BEN", form("W8BEN"), signed_on=dt.date(2022, 12, 1), party=PERSON, today=TODAY)
    assert ("signed_on", "expired") in codes(result)


def test_an_unsigned_or_future_dated_form_is_invalid():
    assert ("signed_on", "required") in codes(validate_form("W9", form("W9"), signed_on=None, party=PERSON, today=TODAY))
    future = validate_form("W9", form("W9"), signed_on=TODAY + dt.timedelta(days=1), party=PERSON, today=TODAY)
    assert ("signed_on", "future") in codes(future)


def test_a_w9_without_the_perjury_certification_is_invalid():
    result = validate_form("W9", form("W9", certified=False), signed_on=SIGNED, party=PERSON, today=TODAY)
    assert ("certified", "required") in codes(result)


def test_a_w9_with_a_bad_tin_is_invalid():
    result = validate_form("W9", form("W9", tin="000-00-0000"), signed_on=SIGNED, party=PERSON, today=TODAY)
    assert ("tin", "tin_invalid") in codes(result)


def test_a_w8ben_treaty_claim_at_the_wrong_rate_is_removed_but_the_form_stands():
    claim = {"country": "GB", "article": "10(2)(b)", "rate": "0", "income_type": "dividends"}
    result = validate_form("W8BEN", form("W8BEN", treaty_claim=claim), signed_on=SIGNED, party=PERSON, today=TODAY)
    assert result.ok and result.treaty_claim_removed and result.treaty_rate is None
    assert ("treaty_claim", "treaty_invalid") in {(w.field, w.code) for w in result.warnings}


def test_a_w8ben_needs_a_foreign_tin_or_a_statement_that_none_is_required():
    data = form("W8BEN", foreign_tin="")
    assert ("foreign_tin", "required") in codes(validate_form("W8BEN", data, signed_on=SIGNED, party=PERSON, today=TODAY))
    data["foreign_tin_not_required"] = True
    assert validate_form("W8BEN", data, signed_on=SIGNED, party=PERSON, today=TODAY).ok


def test_a_po_box_is_not_a_permanent_residence_address():
    addr = dict(FORMS["W8BEN"]["permanent_address"], line1="PO Box 123")
    result = validate_form("W8BEN", form("W8BEN", permanent_address=addr), signed_on=SIGNED, party=PERSON, today=TODAY)
    assert ("permanent_address.line1", "po_box") in codes(result)


@pytest.mark.parametrize(
    "party_changes,form_changes,indicium",
    [
        ({"address_countries": ("GB", "US")}, {}, "us_address"),
        ({"phones": ("+1 212 555 0100",)}, {}, "us_phone"),
        ({"place_of_birth_country": "US"}, {}, "us_place_of_birth"),
        ({"standing_instruction_countries": ("US",)}, {}, "us_standing_instruction"),
        ({}, {"mailing_address": {"line1": "5 Elm St", "city": "Boston", "country": "US"}}, "us_address"),
    ],
)
def test_us_indicia_on_a_w8_make_it_invalid_until_cured(party_changes, form_changes, indicium):
    party = PartyContext(**{**PERSON.__dict__, **party_changes})
    result = validate_form("W8BEN", form("W8BEN", **form_changes), signed_on=SIGNED, party=party, today=TODAY)
    assert [i.code for i in result.uncured_indicia] == [indicium]
    assert not result.ok
    cure = list(result.indicia[0].cure_any_of[0])
    cured = validate_form("W8BEN", form("W8BEN", **form_changes), signed_on=SIGNED, party=party, today=TODAY,
                          cure_documents=cure)
    assert cured.ok and [i.code for i in cured.indicia] == [indicium]


def test_a_canadian_phone_number_is_not_a_us_indicium():
    party = PartyContext(**{**PERSON.__dict__, "phones": ("+1 416 555 0100",)})
    assert validate_form("W8BEN", form("W8BEN"), signed_on=SIGNED, party=party, today=TODAY).indicia == []


def test_a_us_phone_beside_a_non_us_phone_is_not_an_indicium():
    party = PartyContext(**{**PERSON.__dict__, "phones": ("+1 212 555 0100", "+44 20 7946 0000")})
    assert validate_form("W8BEN", form("W8BEN"), signed_on=SIGNED, party=party, today=TODAY).indicia == []


def test_a_passive_nfe_self_certification_must_name_controlling_persons():
    result = validate_form("CRS_ENT", form("CRS_ENT", controlling_persons=[]), signed_on=SIGNED, party=ENTITY, today=TODAY)
    assert ("controlling_persons", "required") in codes(result)


def test_a_controlling_person_without_tin_or_reason_is_invalid():
    persons = [{"name": "Ann Lee", "role": "CRS803", "tax_residences": [{"country": "GB"}]}]
    result = validate_form("CRS_ENT", form("CRS_ENT", controlling_persons=persons), signed_on=SIGNED, party=ENTITY,
                           today=TODAY)
    assert ("controlling_persons[0].tax_residences[0].no_tin_reason", "tin_missing") in codes(result)


def test_crs_reason_a_is_refused_for_a_country_that_issues_tins():
    data = form("CRS_IND", tax_residences=[{"country": "GB", "no_tin_reason": "A"}])
    result = validate_form("CRS_IND", data, signed_on=SIGNED, party=PERSON, today=TODAY)
    assert ("tax_residences[0].no_tin_reason", "tin_missing") in codes(result)


def test_a_passive_nffe_w8bene_must_list_substantial_us_owners():
    data = form("W8BENE", chapter4_status="passive_nffe")
    assert ("substantial_us_owners", "required") in codes(
        validate_form("W8BENE", data, signed_on=SIGNED, party=ENTITY, today=TODAY))
    data["substantial_us_owners"] = [{"name": "Jane Roe", "tin": "536-90-4399"}]
    assert validate_form("W8BENE", data, signed_on=SIGNED, party=ENTITY, today=TODAY).ok


def test_a_participating_ffi_needs_a_giin():
    data = form("W8IMY", giin="not-a-giin")
    assert ("giin", "giin_invalid") in codes(validate_form("W8IMY", data, signed_on=SIGNED, party=ENTITY, today=TODAY))


def test_an_individual_cannot_give_a_w8bene():
    result = validate_form("W8BENE", form("W8BENE"), signed_on=SIGNED, party=PERSON, today=TODAY)
    assert ("form_type", "wrong_form") in codes(result)


def test_a_us_citizen_cannot_give_a_w8ben():
    dual = PartyContext(**{**PERSON.__dict__, "nationalities": ("GB", "US")})
    result = validate_form("W8BEN", form("W8BEN"), signed_on=SIGNED, party=dual, today=TODAY)
    assert ("citizenship", "us_person") in codes(result)
    assert ("citizenship", "us_person") in codes(
        validate_form("W8BEN", form("W8BEN", citizenship="US"), signed_on=SIGNED, party=PERSON, today=TODAY))
