"""Rule files load into rows; a bad file is refused whole with its line and field named."""
import datetime as dt
import textwrap

import pytest

from trading.reference.exceptions import ReferenceDataError
from trading.reference.models import EligibilityRule, Market, SettlementCycle
from trading.reference.selectors import settlement_cycle
from trading.reference.services import eligibility_rules_load, reference_load_all, settlement_cycles_load

pytestmark = pytest.mark.django_db


def test_shipped_rule_files_load_and_reload_without_duplicates():
    first = reference_load_all()
    second = reference_load_all()
    assert first == second
    assert Market.objects.filter(mic__in=["XNYS", "XLON", "XTKS", "XHKG", "XETR"]).count() == 5
    assert SettlementCycle.objects.count() == first["settlement_cycles"]
    assert EligibilityRule.objects.filter(code="reg_s_no_us_persons").exists()


def test_eu_and_uk_move_to_t_plus_1_on_11_october_2027_as_data():
    reference_load_all()
    xlon = Market.objects.get(mic="XLON")
    assert settlement_cycle(market=xlon, instrument_type="equity", on=dt.date(2027, 10, 8)).days == 2
    assert settlement_cycle(market=xlon, instrument_type="equity", on=dt.date(2027, 10, 11)).days == 1
    xetr = Market.objects.get(mic="XETR")
    assert settlement_cycle(market=xetr, instrument_type="etf", on=dt.date(2027, 10, 11)).days == 1


def test_us_settlement_was_t_plus_2_before_28_may_2024():
    reference_load_all()
    xnys = Market.objects.get(mic="XNYS")
    assert settlement_cycle(market=xnys, instrument_type="equity", on=dt.date(2024, 5, 24)).days == 2
    assert settlement_cycle(market=xnys, instrument_type="equity", on=dt.date(2024, 5, 28)).days == 1


def test_a_settlement_file_with_an_unknown_market_names_the_line_and_loads_nothing(tmp_path):
    reference_load_all()
    before = SettlementCycle.objects.count()
    path = tmp_path / "cycles.yaml"
    path.write_text(textwrap.dedent("""\
        version: "x"
        rules:
          - {market: XNYS, instrument_type: bond, days: 1, effective_from: 2024-05-28, source: "SEC"}
          - {market: XXXX, instrument_type: "", days: 2, effective_from: 2020-01-01, source: "nowhere"}
        """))
    with pytest.raises(ReferenceDataError) as err:
        settlement_cycles_load(path=path)
    assert err.value.detail == {"file": str(path), "line": 4, "field": "market"}
    assert "cycles.yaml:4" in err.value.message
    assert SettlementCycle.objects.count() == before


def test_a_settlement_file_with_a_non_integer_day_count_is_refused(tmp_path):
    reference_load_all()
    path = tmp_path / "cycles.yaml"
    path.write_text('rules:\n  - {market: XNYS, days: "one", effective_from: 2024-05-28, source: "SEC"}\n')
    with pytest.raises(ReferenceDataError) as err:
        settlement_cycles_load(path=path)
    assert err.value.detail["field"] == "days"


def test_an_eligibility_file_with_an_unknown_investor_type_is_refused_whole(tmp_path):
    path = tmp_path / "elig.yaml"
    path.write_text(textwrap.dedent("""\
        rules:
          - {code: a, tag: t, description: d, source: s, effective_from: 2020-01-01}
          - code: b
            tag: t
            description: d
            source: s
            effective_from: 2020-01-01
            allowed_investor_types: [wealthy]
        """))
    with pytest.raises(ReferenceDataError) as err:
        eligibility_rules_load(path=path)
    assert err.value.detail["line"] == 3
    assert err.value.detail["field"] == "allowed_investor_types"
    assert not EligibilityRule.objects.exists()


def test_an_instrument_type_row_overrides_the_market_default_from_its_date(tmp_path):
    reference_load_all()
    path = tmp_path / "cycles.yaml"
    path.write_text(textwrap.dedent("""\
        version: "test"
        rules:
          - {market: XLON, instrument_type: bond, days: 1, effective_from: 2026-01-01, source: "test: gilts T+1"}
        """))
    settlement_cycles_load(path=path)
    xlon = Market.objects.get(mic="XLON")
    assert settlement_cycle(market=xlon, instrument_type="bond", on=dt.date(2026, 6, 1)).days == 1
    assert settlement_cycle(market=xlon, instrument_type="bond", on=dt.date(2025, 6, 1)).days == 2  # market default
    assert settlement_cycle(market=xlon, instrument_type="equity", on=dt.date(2026, 6, 1)).days == 2
    row = SettlementCycle.objects.get(market=xlon, instrument_type="bond")
    assert (row.source, row.version) == ("test: gilts T+1", "test")


def test_the_reference_load_command_prints_json(db):
    import json
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("reference_load", "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert result["ok"] and result["markets"] >= 12 and result["settlement_cycles"] >= 20
