"""Property-based checks of the engines (hypothesis)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.tax import rulefiles
from compliance.tax.tin import validate_missing_tin, validate_tin
from compliance.tax.validity import valid_until
from compliance.tax.withholding import PayeeStatus, withholding_rate

COUNTRIES = sorted(rulefiles.tins()["countries"]) + ["ZZ", ""]
TREATY_RATES = {row["rate"] for row in rulefiles.treaties()["rows"]}


@settings(max_examples=300, deadline=None)
@given(country=st.sampled_from(COUNTRIES), value=st.text(max_size=40), entity=st.booleans())
def test_tin_validation_never_raises_and_a_valid_tin_is_non_empty(country, value, entity):
    check = validate_tin(country, value, entity=entity)
    assert check.valid in (True, False)
    if check.valid:
        assert check.value.strip()


@given(country=st.sampled_from(COUNTRIES), reason=st.text(max_size=3), explanation=st.text(max_size=20))
def test_a_missing_tin_reason_is_accepted_only_as_a_b_or_c(country, reason, explanation):
    if validate_missing_tin(country, reason, explanation).valid:
        assert reason.strip().upper() in {"A", "B", "C"}


@given(signed=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2090, 12, 31)),
       form=st.sampled_from(["W8BEN", "W8BENE", "W8ECI"]))
def test_a_w8_runs_to_the_last_day_of_the_third_year_after_signing(signed, form):
    until = valid_until(form, signed)
    assert (until.month, until.day, until.year - signed.year) == (12, 31, 3)
    assert until > signed


@given(us=st.booleans(), documented=st.booleans(), certified=st.booleans(), exempt=st.booleans(),
       country=st.sampled_from(["GB", "CN", "IN", "SG", ""]),
       income=st.sampled_from(["dividends", "interest", "royalties", "gross_proceeds"]))
def test_the_rate_is_always_one_the_rules_or_the_treaty_table_can_give(us, documented, certified, exempt, country,
                                                                       income):
    decision = withholding_rate(PayeeStatus(us, documented, certified, exempt, country, (income,)),
                                income_type=income, on=dt.date(2026, 6, 1))
    assert decision.rate in {Decimal(0), Decimal(24), Decimal(30)} | TREATY_RATES
    if exempt:
        assert decision.rate == 0
    elif us and not (documented and certified):
        assert decision.rate == 24
    elif not us and not documented:
        # presumption rules: an individual not on an offshore obligation is presumed a US
        # non-exempt recipient (24% backup withholding, 1.1441-1(b)(3)(iii))
        assert decision.rate == 24
