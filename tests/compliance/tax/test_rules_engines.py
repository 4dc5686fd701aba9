"""Form determination, validity, treaty claims and withholding: the plain-Python engines."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from compliance.tax import rulefiles
from compliance.tax.determination import PartyFacts, PersonRef, classify_entity, determine_forms, is_us_person
from compliance.tax.exceptions import TaxRuleFileInvalid
from compliance.tax.treaty import check_treaty_claim
from compliance.tax.validity import valid_until, void_reasons
from compliance.tax.withholding import PayeeStatus, withholding_rate


def facts(**kw):
    base = dict(ref="party:1", name="Client", kind="individual", client_type="individual", us_person=False,
                booking_centre="US", booking_centre_crs=False)
    base.update(kw)
    return PartyFacts(**base)


def forms(f):
    return sorted(r.form for r in determine_forms(f))


def test_us_individual_booked_onshore_needs_only_a_w9():
    assert forms(facts(us_person=True)) == ["W9"]


def test_us_individual_booked_offshore_needs_a_w9_and_a_crs_self_certification():
    assert forms(facts(us_person=True, booking_centre="CH", booking_centre_crs=True)) == ["CRS_IND", "W9"]


def test_foreign_individual_booked_onshore_needs_a_w8ben():
    assert forms(facts()) == ["W8BEN"]


def test_foreign_individual_booked_in_singapore_needs_w8ben_and_crs():
    assert forms(facts(booking_centre="SG", booking_centre_crs=True)) == ["CRS_IND", "W8BEN"]


def test_foreign_individual_with_effectively_connected_income_gives_a_w8eci_not_a_w8ben():
    assert forms(facts(effectively_connected=True)) == ["W8ECI"]


def test_foreign_corporation_gives_w8bene_with_chapter_3_and_4_status():
    cls = classify_entity(client_type="corporation")
    required = determine_forms(facts(kind="entity", client_type="corporation", chapter3_status=cls["ch3"],
                                     chapter4_status=cls["ch4"]))
    assert [r.form for r in required] == ["W8BENE"]
    assert required[0].detail == {"chapter3_status": "corporation", "chapter4_status": "active_nffe"}


def test_foreign_intermediary_gives_a_w8imy():
    assert forms(facts(kind="entity", client_type="broker_dealer", intermediary=True)) == ["W8IMY"]


def test_passive_nfe_booked_offshore_needs_a_self_certification_from_every_controlling_person():
    f = facts(kind="entity", client_type="trust", booking_centre="GB", booking_centre_crs=True, passive_nfe=True,
              controlling_persons=(PersonRef("party:7", "Ann Lee", "settlor"), PersonRef("party:8", "Bo Ng", "trustee")))
    required = determine_forms(f)
    assert sorted(r.form for r in required) == ["CRS_CP", "CRS_CP", "CRS_ENT", "W8BENE"]
    cps = [r for r in required if r.form == "CRS_CP"]
    assert {r.subject_ref for r in cps} == {"party:7", "party:8"}
    assert all(r.for_ref == "party:1" for r in cps)
    assert "Ann Lee" in cps[0].reason


def test_us_entity_gives_a_w9_even_when_passive():
    assert forms(facts(kind="entity", client_type="trust", us_person=True, passive_nfe=True)) == ["W9"]


def test_us_person_is_citizen_resident_or_us_incorporated():
    assert is_us_person(kind="individual", nationalities=["GB", "US"], residence_country="GB",
                        incorporation_country="", tax_residences=[])
    assert not is_us_person(kind="individual", nationalities=["GB"], residence_country="GB",
                            incorporation_country="", tax_residences=["GB"])
    assert is_us_person(kind="entity", nationalities=[], residence_country="", incorporation_country="US",
                        tax_residences=[])


def test_listed_entity_is_a_publicly_traded_nffe():
    assert classify_entity(client_type="corporation", listed=True)["ch4"] == "publicly_traded_nffe"
    assert classify_entity(client_type="family_office_vehicle")["crs"] == "passive_nfe"


def test_w8_is_valid_to_31_december_of_the_third_year_after_signing():
    assert valid_until("W8BEN", dt.date(2026, 3, 10)) == dt.date(2029, 12, 31)
    assert valid_until("W8BENE", dt.date(2026, 12, 31)) == dt.date(2029, 12, 31)
    assert valid_until("W9", dt.date(2026, 3, 10)) is None


def test_a_move_to_another_country_voids_a_w8_but_not_a_w9():
    before = {"name": "A", "residence": "GB", "address": ["residential|1 A ST|LONDON|N1|GB"], "tin": ["GB:1"]}
    after = dict(before, address=["residential|1 RUE A|PARIS|75001|FR"])
    assert void_reasons("W8BEN", before, after) == {"address_country"}
    same_country = dict(before, address=["residential|2 B ST|LEEDS|LS1|GB"])
    assert void_reasons("W8BEN", before, same_country) == set()
    assert void_reasons("W9", before, after) == set()
    assert void_reasons("W9", before, dict(before, tin=["US:2"])) == {"tin"}


@pytest.mark.parametrize(
    "claim,residence,ok",
    [
        ({"country": "GB", "article": "10(2)(b)", "rate": "15", "income_type": "dividends"}, "GB", True),
        ({"country": "CN", "article": "9", "rate": "10", "income_type": "dividends"}, "CN", True),
        ({"country": "IN", "article": "10(2)(b)", "rate": "25", "income_type": "dividends"}, "IN", True),
        ({"country": "GB", "article": "10", "rate": "10", "income_type": "dividends"}, "GB", False),  # wrong rate
        ({"country": "GB", "article": "10(2)(b)", "rate": "15", "income_type": "dividends"}, "FR", False),  # not resident
        ({"country": "SG", "article": "10", "rate": "15", "income_type": "dividends"}, "SG", False),  # no treaty
        ({"country": "DE", "article": "11", "rate": "15", "income_type": "dividends"}, "DE", False),  # wrong article
    ],
)
def test_treaty_claims_are_checked_against_the_treaty_table(claim, residence, ok):
    assert check_treaty_claim(claim, residence_country=residence, on=dt.date(2026, 1, 5)).valid is ok


ON = dt.date(2026, 6, 1)


def test_undocumented_payee_presumed_foreign_suffers_30_percent():
    d = withholding_rate(PayeeStatus(us_person=False, documented=False, presumed_foreign=True),
                         income_type="dividends", on=ON)
    assert d.rate == Decimal(30) and d.is_default


def test_undocumented_individual_not_presumed_foreign_is_presumed_us_and_suffers_backup_withholding():
    # Treas. Reg. 1.1441-1(b)(3)(iii): without documentation or an offshore obligation the
    # individual is presumed a US non-exempt recipient; backup withholding is 24% (IRC 3406(a)(1)).
    d = withholding_rate(PayeeStatus(us_person=False, documented=False, kind="individual"),
                         income_type="dividends", on=ON)
    assert (d.rate, d.rule) == (Decimal(24), "presumed_us_individual") and d.is_default


def test_valid_treaty_claim_gives_the_treaty_rate():
    d = withholding_rate(PayeeStatus(False, True, treaty_country="CN", treaty_income_types=("dividends",)),
                         income_type="dividends", on=ON)
    assert (d.rate, d.rule, d.treaty_article) == (Decimal(10), "treaty", "9")


def test_documented_foreign_person_without_treaty_claim_pays_30_percent():
    d = withholding_rate(PayeeStatus(False, True), income_type="dividends", on=ON)
    assert (d.rate, d.rule) == (Decimal(30), "statutory_documented")


def test_treaty_claim_for_another_income_type_does_not_lower_the_rate():
    d = withholding_rate(PayeeStatus(False, True, treaty_country="GB", treaty_income_types=("interest",)),
                         income_type="dividends", on=ON)
    assert d.rate == Decimal(30)


def test_us_person_without_certified_tin_suffers_24_percent_backup_withholding():
    assert withholding_rate(PayeeStatus(True, True, certified_tin=False), income_type="interest", on=ON).rate == 24
    assert withholding_rate(PayeeStatus(True, False), income_type="interest", on=ON).rate == 24


def test_certified_us_person_and_exempt_payee_suffer_nothing():
    assert withholding_rate(PayeeStatus(True, True, certified_tin=True), income_type="dividends", on=ON).rate == 0
    assert withholding_rate(PayeeStatus(False, False, exempt=True), income_type="dividends", on=ON).rule == "exempt"


def test_gross_proceeds_to_a_documented_foreigner_are_not_withheld():
    assert withholding_rate(PayeeStatus(False, True), income_type="gross_proceeds", on=ON).rate == 0


def test_every_rule_row_carries_source_and_effective_from():
    for row in rulefiles.treaties()["rows"]:
        assert row["source"] and isinstance(row["effective_from"], dt.date)
    for rule in rulefiles.withholding()["rules"]:
        assert rule["source"] and isinstance(rule["effective_from"], dt.date)
    for rule in rulefiles.form_rules()["tax_forms"]:
        assert rule["source"] and isinstance(rule["effective_from"], dt.date)


def test_a_treaty_file_with_a_row_missing_its_source_is_rejected_naming_the_row(tmp_path):
    bad = tmp_path / "treaties.yaml"
    bad.write_text("income_types: {dividends: x}\nrows:\n"
                   "  - {country: GB, income_type: dividends, article: '10', rate: '15', source: s, effective_from: 2020-01-01}\n"
                   "  - {country: DE, income_type: dividends, article: '10', rate: '15', effective_from: 2020-01-01}\n")
    with pytest.raises(TaxRuleFileInvalid) as exc:
        rulefiles.load_treaties(bad)
    assert exc.value.detail == {"file": "treaties.yaml", "row": "row 2", "field": "source"}


def test_a_rate_above_100_percent_is_rejected(tmp_path):
    bad = tmp_path / "withholding.yaml"
    bad.write_text("rules:\n  - {code: x, priority: 1, when: {}, rate: '130', source: s, effective_from: 2020-01-01}\n")
    with pytest.raises(TaxRuleFileInvalid, match="percentage"):
        rulefiles.load_withholding(bad)


def test_an_unquoted_no_for_norway_is_caught_not_read_as_false(tmp_path):
    bad = tmp_path / "tins.yaml"
    bad.write_text("countries:\n  NO: {modules: [no.orgnr], source: s}\n")
    with pytest.raises(TaxRuleFileInvalid, match="quote NO"):
        rulefiles.load_tins(bad)


def test_norway_is_a_crs_jurisdiction_with_a_tin_rule():
    from compliance.tax.determination import is_crs_jurisdiction
    from compliance.tax.tin import validate_tin

    assert is_crs_jurisdiction("NO")
    assert validate_tin("NO", "974760673", entity=True).method == "stdnum:no.orgnr"


def test_a_form_rule_not_yet_in_force_is_not_applied():
    rules = [{"code": "x", "form": "CRS_IND", "when": {}, "reason": "r", "source": "s", "effective_from": "2027-01-01"}]
    assert determine_forms(facts(), rules, on=dt.date(2026, 12, 31)) == []
    assert [r.code for r in determine_forms(facts(), rules, on=dt.date(2027, 1, 1))] == ["x"]
