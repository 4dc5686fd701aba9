"""TIN validation per country: stdnum where it exists, format-only fallback, CRS reasons."""
from __future__ import annotations

import pytest

from compliance.tax.tin import guess_us_tin_type, validate_missing_tin, validate_tin


@pytest.mark.parametrize(
    "country,tin,entity,method",
    [
        ("US", "536-90-4399", False, "stdnum:us.ssn"),
        ("US", "91-1144442", True, "stdnum:us.ein"),
        ("GB", "1955839661", False, "stdnum:gb.utr"),
        ("DE", "36574261809", False, "stdnum:de.idnr"),
        ("FR", "3023217600053", False, "stdnum:fr.nif"),
        ("IN", "ACUPA7085R", False, "stdnum:in_.pan"),
        ("HK", "A123456(7)", False, "pattern"),
        ("JE", "1234567890", False, "pattern"),
        ("IM", "H123456-78", False, "pattern"),
    ],
)
def test_a_well_formed_tin_is_accepted_with_the_method_that_checked_it(country, tin, entity, method):
    check = validate_tin(country, tin, entity=entity)
    assert check.valid, check.message
    assert check.method == method


def test_a_bad_check_digit_is_rejected_by_stdnum():
    check = validate_tin("GB", "1955839662")
    assert not check.valid
    assert "not a valid Unique Taxpayer Reference (UTR) (the check digit is wrong)" in check.message
    assert "gb." not in check.message  # the reason is in words, not a library module


def test_a_pattern_country_proves_only_the_shape():
    check = validate_tin("AE", "100123456789003")
    assert check.valid and not check.verified
    assert not validate_tin("AE", "200123").valid


def test_an_ssn_is_not_accepted_as_an_entity_ein_when_it_does_not_validate_as_one():
    assert not validate_tin("US", "000-12-3456", entity=True).valid


def test_a_country_without_a_rule_falls_back_to_an_unverified_format_check():
    check = validate_tin("ZZ", "AB-12345")
    assert check.valid and check.method == "fallback"
    assert not validate_tin("ZZ", "<script>").valid


def test_us_tin_type_is_guessed():
    assert guess_us_tin_type("536-90-4399") == "ssn"
    assert guess_us_tin_type("91-1144442") == "ein"


@pytest.mark.parametrize(
    "country,reason,explanation,ok",
    [
        ("KY", "A", "", True),  # Cayman issues no TINs
        ("GB", "A", "", False),  # the UK does
        ("GB", "B", "", False),  # B must be explained
        ("GB", "B", "arrived last month, UTR applied for", True),
        ("BM", "C", "", True),
        ("DE", "C", "", False),
        ("DE", "", "", False),
        ("DE", "Z", "", False),
    ],
)
def test_crs_reasons_for_a_missing_tin(country, reason, explanation, ok):
    assert validate_missing_tin(country, reason, explanation).valid is ok


def test_the_tax_forms_and_the_party_pages_read_one_identifier_table():
    """A Singapore NRIC with a correct check letter (S1234567D: weighted sum 106, 106 mod 11 = 7,
    'JZIHGFEDCBA'[7] = 'D') is a TIN on a tax form exactly when it is on a party page."""
    from onboarding.validation import validate_identifier

    assert validate_tin("SG", "S1234567D").valid and validate_tin("SG", "S1234567D").verified
    assert validate_identifier("tax_id", "SG", "S1234567D").validator == "check:sg.nric"
    assert not validate_tin("SG", "S1234567A").valid  # wrong check letter: refused on both
    assert "check digit is wrong" in validate_tin("SG", "S1234567A").message
