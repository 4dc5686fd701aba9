"""The rule packs against the regulatory table (tests/onboarding/jurisdictions.yaml): every row,
worked out from the cited regulation, resolved through the real pack resolver."""
import copy
import io
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from onboarding.rules.packs import (
    PackVersion,
    compare_with_table,
    read_pack_dir,
    unimported_lists,
    validate_pack,
)

TABLE = Path(__file__).with_name("jurisdictions.yaml")
ROWS = yaml.safe_load(TABLE.read_text(encoding="utf-8"))["rows"]


@pytest.fixture(scope="module")
def packs():
    files = read_pack_dir()
    for pack in files:
        validate_pack(pack)
    return [PackVersion(code=f.code, version=1, content=f.content) for f in files]


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_each_row_of_the_regulatory_table_holds(packs, row):
    assert compare_with_table(packs, [row]) == []


def test_the_check_command_compares_the_packs_with_the_table():
    out = io.StringIO()
    call_command("rulepacks", "check", "--against", str(TABLE), stdout=out)
    assert f"agree with all {len(ROWS)} rows" in out.getvalue()


def test_a_pack_citing_the_wrong_limb_is_caught(packs):
    wrong = copy.deepcopy(packs)
    gb = next(p for p in wrong if p.code == "GB")
    rule = next(r for r in gb.content["rules"] if r["id"] == "gb.bo-threshold")
    rule["source"] = "MLR 2017 reg. 5(1)(a): more than 25% of shares or voting rights"  # the old, wrong limb
    [problem] = compare_with_table(wrong, [r for r in ROWS if r["id"] == "GB-corp"])
    assert "reg. 5(1)(b)" in problem


def test_the_eu_trust_rule_survives_the_amlr_threshold(packs):
    # The AMLR's general 25%-or-more rule must not replace the trust rule after 10 July 2027.
    [row] = [r for r in ROWS if r["id"] == "EU-FR-trust-amlr"]
    assert compare_with_table(packs, [row]) == []


def test_the_global_baseline_resolves_historical_cases(packs):
    assert compare_with_table(packs, [r for r in ROWS if r["id"] in {"BR-fallback-2005", "US-historical-2010"}]) == []
    out = io.StringIO()
    call_command("rulepacks", "check", "--as-of", "2005-01-01", stdout=out)
    assert out.getvalue().startswith("OK")


def test_every_list_a_pack_names_is_imported(packs):
    # The SECO list (CH) and the UAE Local Terrorist List (AE) have importers of their own
    # (compliance/screening/seco.py, uae_local_list.py), so the strict check passes.
    from onboarding.requirements import screening_lists

    imported = screening_lists()
    assert {"ofac", "un", "eu", "uksl", "seco", "ae_local"} <= imported  # registered by compliance's importers
    assert unimported_lists(packs, imported) == {}
    out = io.StringIO()
    call_command("rulepacks", "check", "--strict-lists", stdout=out)
    assert out.getvalue().startswith("OK") and "WARNING" not in out.getvalue()


def test_a_list_that_nothing_imports_is_flagged(tmp_path):
    import shutil

    from onboarding.rules.packs import PACK_DIR

    for path in PACK_DIR.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    target = tmp_path / "ch.yaml"
    content = yaml.safe_load(target.read_text())
    next(r for r in content["rules"] if r["id"] == "ch.seco")["add"]["screening.lists"] = ["seco", "ch_cantonal"]
    target.write_text(yaml.safe_dump(content, allow_unicode=True))
    out = io.StringIO()
    call_command("rulepacks", "check", "--dir", str(tmp_path), stdout=out)
    assert "list 'ch_cantonal' named by CH:ch.seco is not imported" in out.getvalue()
    with pytest.raises(CommandError, match="ch_cantonal"):
        call_command("rulepacks", "check", "--dir", str(tmp_path), "--strict-lists", stdout=io.StringIO())


def test_a_superseded_rule_without_a_successor_on_its_date_is_refused(tmp_path):
    import shutil

    from onboarding.rules.packs import PACK_DIR

    for path in PACK_DIR.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    target = tmp_path / "ae.yaml"
    content = yaml.safe_load(target.read_text())
    successor = next(r for r in content["rules"] if r["id"] == "ae.bo-threshold-109-2023")
    successor["effective_from"] = "2024-01-01"  # a gap after Resolution 58/2020 ends on 2023-11-12
    target.write_text(yaml.safe_dump(content))
    with pytest.raises(CommandError, match="no rule governing \\['beneficial_ownership'\\] starts on 2023-11-13"):
        call_command("rulepacks", "check", "--dir", str(tmp_path), stdout=io.StringIO())


def test_a_pack_contradicting_the_crs_list_is_refused(tmp_path):
    import shutil

    from onboarding.rules.packs import PACK_DIR

    for path in PACK_DIR.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    target = tmp_path / "us.yaml"
    content = yaml.safe_load(target.read_text())
    next(r for r in content["rules"] if r["id"] == "us.no-crs")["set"]["crs_participating"] = True
    target.write_text(yaml.safe_dump(content))
    with pytest.raises(CommandError, match="US does not participate"):
        call_command("rulepacks", "check", "--dir", str(tmp_path), stdout=io.StringIO())
