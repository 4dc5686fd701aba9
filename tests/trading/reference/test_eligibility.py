"""Eligibility rules are data: Reg S, professional-only, PRIIPs KID and Stock Connect."""
import datetime as dt

import pytest

from trading.reference import eligibility
from trading.reference.selectors import eligibility_rules, instrument_tags

pytestmark = pytest.mark.django_db
ON = dt.date(2026, 11, 23)

US_RETAIL = eligibility.Investor("retail", "US", "onshore", True)
SWISS_PRO = eligibility.Investor("professional", "CH", "offshore", False)
UK_RETAIL = eligibility.Investor("retail", "GB", "onshore", False)
HK_PRO = eligibility.Investor("professional", "HK", "offshore", False)
SG_RETAIL = eligibility.Investor("retail", "SG", "offshore", False)


def test_a_us_person_may_not_hold_a_reg_s_bond(ref):
    reasons = eligibility.check(US_RETAIL, ["reg_s"], eligibility_rules(), on=ON)
    assert [r.rule for r in reasons] == ["reg_s_no_us_persons"]
    assert "17 CFR 230" in reasons[0].source


def test_a_professional_only_bond_is_refused_to_retail_and_allowed_to_professionals(ref):
    rules = eligibility_rules()
    tags = instrument_tags(instrument_ids=[ref.instruments["DEMO_BOND"].pk])[0]
    assert {r.rule for r in eligibility.check(SG_RETAIL, tags, rules, on=ON)} == {"professional_only"}
    assert eligibility.check(SWISS_PRO, tags, rules, on=ON) == []


def test_a_us_etf_without_a_kid_is_refused_to_uk_retail_but_not_to_singapore_retail(ref):
    rules = eligibility_rules()
    assert [r.rule for r in eligibility.check(UK_RETAIL, ["no_priips_kid"], rules, on=ON)] == ["no_priips_kid_eea_uk_retail"]
    assert eligibility.check(SG_RETAIL, ["no_priips_kid"], rules, on=ON) == []


def test_stock_connect_a_shares_need_a_hong_kong_booking_centre(ref):
    rules = eligibility_rules()
    assert eligibility.check(HK_PRO, ["stock_connect"], rules, on=ON) == []
    assert eligibility.check(SWISS_PRO, ["stock_connect"], rules, on=ON)[0].rule == "stock_connect_northbound"


def test_a_rule_not_yet_in_force_does_not_apply():
    rule = eligibility.Rule(code="x", tag="t", description="d", source="s", effective_from=dt.date(2027, 1, 1), us_persons_allowed=False)
    assert eligibility.check(US_RETAIL, ["t"], [rule], on=ON) == []
    assert len(eligibility.check(US_RETAIL, ["t"], [rule], on=dt.date(2027, 1, 1))) == 1


def test_the_eligibility_matrix_agrees_with_the_per_cell_check(ref):
    rules = eligibility_rules()
    investors = [US_RETAIL, SWISS_PRO, UK_RETAIL, HK_PRO, SG_RETAIL, US_RETAIL]
    keys = ["AAPL", "DEMO_BOND", "SPY", "MOUTAI", "CSPX"]
    tags = instrument_tags(instrument_ids=[ref.instruments[k].pk for k in keys])
    grid = eligibility.matrix(investors, tags, rules, on=ON)
    assert grid.shape == (6, 5)
    for i, inv in enumerate(investors):
        for j, t in enumerate(tags):
            assert grid[i, j] == (not eligibility.check(inv, t, rules, on=ON)), (inv, keys[j])
    assert grid[:, 0].all()  # Apple: no tags, everyone
    assert not grid[0, 4]  # offshore UCITS fund refused to a US person
