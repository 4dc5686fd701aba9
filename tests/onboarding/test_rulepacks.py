"""Rule packs: schema checks, precedence global < region < country, effective dates, the
fallback for every jurisdiction, loading as versions, and pinning a case to its versions."""
import datetime as dt
import shutil

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from onboarding.exceptions import RulePackError
from onboarding.models import RulePack
from onboarding.rules.packs import (
    PACK_DIR,
    PackVersion,
    check_coverage,
    read_pack_dir,
    resolve,
    validate_pack,
)

TODAY = dt.date(2026, 11, 24)


@pytest.fixture(scope="module")
def packs():
    files = read_pack_dir()
    for pack in files:
        validate_pack(pack)
    return [PackVersion(code=f.code, version=1, content=f.content) for f in files]


def policy(packs, jurisdiction, client_type="corporation", risk="medium", as_of=TODAY):
    return resolve(packs, jurisdiction=jurisdiction, client_type=client_type, risk_level=risk, as_of=as_of)


def test_the_required_jurisdictions_all_have_packs(packs):
    codes = {p.code for p in packs}
    assert {"GLOBAL", "EU", "US", "GB", "LU", "IE", "DE", "CH", "SG", "HK", "AE", "KY", "VG"} <= codes


def test_every_country_client_type_and_risk_level_resolves(packs):
    assert check_coverage(packs, as_of=TODAY) == 249 * 9 * 3


def test_a_country_without_a_pack_falls_back_to_the_global_baseline(packs):
    resolved = policy(packs, "BR")
    assert resolved.packs == ["GLOBAL@1"]
    assert resolved.policy["beneficial_ownership"]["threshold"] == 25


def test_the_us_uses_25_percent_or_more_and_a_control_person(packs):
    bo = policy(packs, "US").policy["beneficial_ownership"]
    assert (bo["threshold"], bo["inclusive"], bo["control_person"]) == (25, True, True)
    assert policy(packs, "US").policy["crs_participating"] is False


def test_the_uk_overrides_the_baseline_with_more_than_25_percent(packs):
    bo = policy(packs, "GB").policy["beneficial_ownership"]
    assert (bo["threshold"], bo["inclusive"]) == (25, False)
    # from 28 January 2026 the UK Sanctions List (FCDO) is the single source; the OFSI list before
    assert "uksl" in policy(packs, "GB").policy["screening"]["lists"]
    assert "uk" not in policy(packs, "GB").policy["screening"]["lists"]
    assert "uk" in policy(packs, "GB", as_of=dt.date(2026, 1, 27)).policy["screening"]["lists"]


def test_a_region_overlay_applies_before_the_country_overlay(packs):
    resolved = policy(packs, "LU", client_type="trust")
    assert resolved.packs == ["GLOBAL@1", "EU@1", "LU@1"]
    assert "eu" in resolved.policy["screening"]["lists"]  # added by the EU region pack
    assert resolved.policy["approval"]["level"] == "four_eyes"  # set by the LU country pack
    codes = [d["code"] for d in resolved.policy["required_documents"]]
    assert "constitution" in codes


def test_effective_dates_switch_rules_on_when_they_start(packs):
    before = policy(packs, "DE", as_of=dt.date(2027, 7, 9)).policy["beneficial_ownership"]
    after = policy(packs, "DE", as_of=dt.date(2027, 7, 10)).policy["beneficial_ownership"]
    assert before["inclusive"] is False  # AMLD: more than 25%
    assert after["inclusive"] is True  # AMLR Art. 52 from 10 July 2027: 25% or more


def test_offshore_centres_lower_the_threshold_and_need_four_eyes(packs):
    vg = policy(packs, "VG").policy
    assert vg["beneficial_ownership"]["threshold"] == 10
    assert vg["approval"]["level"] == "four_eyes"
    ky_high = policy(packs, "KY", risk="high").policy
    assert ky_high["beneficial_ownership"]["threshold"] == 10
    assert policy(packs, "KY", risk="low").policy["beneficial_ownership"]["threshold"] == 25


def test_high_risk_needs_four_eyes_everywhere(packs):
    assert policy(packs, "BR", client_type="individual", risk="high").policy["approval"]["level"] == "four_eyes"
    assert policy(packs, "BR", client_type="individual", risk="low").policy["approval"]["level"] == "single"


def test_every_applied_rule_cites_its_source(packs):
    resolved = policy(packs, "US", client_type="individual")
    assert resolved.applied_rules
    assert all(rule["source"] for rule in resolved.applied_rules)
    assert "31 CFR" in resolved.key_sources["required_fields"]


def _write_bad_pack(tmp_path, mutate):
    for path in PACK_DIR.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    target = tmp_path / "gb.yaml"
    content = yaml.safe_load(target.read_text())
    mutate(content)
    target.write_text(yaml.safe_dump(content))
    return tmp_path


def test_a_rule_without_a_source_fails_the_check_naming_file_and_rule(tmp_path):
    directory = _write_bad_pack(tmp_path, lambda c: c["rules"][0].pop("source"))
    with pytest.raises(CommandError, match=r"gb.yaml rule 'gb.bo-threshold': 'source' is a required property"):
        call_command("rulepacks", "check", "--dir", str(directory))


def test_an_unknown_document_type_fails_the_check(tmp_path):
    def mutate(content):
        content["rules"].append({
            "id": "gb.bad", "source": "test", "effective_from": "2026-01-01",
            "add": {"required_documents": [{"code": "x", "subject": "client", "accepted": ["selfie"]}]},
        })

    directory = _write_bad_pack(tmp_path, mutate)
    with pytest.raises(CommandError, match=r"gb.yaml rule 'gb.bad': required_documents: unknown document type"):
        call_command("rulepacks", "check", "--dir", str(directory))


def test_broken_yaml_is_reported_with_its_line(tmp_path):
    (tmp_path / "global.yaml").write_text("code: GLOBAL\nrules: [\n  - id: x\n")
    with pytest.raises(CommandError, match=r"global.yaml line \d+: not valid YAML"):
        call_command("rulepacks", "check", "--dir", str(tmp_path))


def test_a_bad_threshold_is_refused():
    from onboarding.rules.packs import PackFile

    content = {"code": "ZZ", "name": "x", "scope": "country", "jurisdictions": ["FR"], "effective_from": "2026-01-01",
               "source": "test", "rules": [{"id": "zz.a", "source": "test source", "effective_from": "2026-01-01",
                                            "set": {"beneficial_ownership": {"threshold": 250}}}]}
    with pytest.raises(RulePackError, match="threshold must be a number in"):
        validate_pack(PackFile(path="zz.yaml", content=content))


@pytest.mark.django_db
def test_loading_twice_creates_no_new_version_and_a_changed_file_does(tmp_path):
    call_command("rulepacks", "load")
    first = RulePack.objects.count()
    call_command("rulepacks", "load")
    assert RulePack.objects.count() == first
    directory = _write_bad_pack(tmp_path, lambda c: c["rules"][0]["set"]["beneficial_ownership"].update(threshold=20))
    call_command("rulepacks", "load", "--dir", str(directory))
    assert RulePack.objects.filter(code="GB").count() == 2
    assert RulePack.objects.get(code="GB", version=2).content["rules"][0]["set"]["beneficial_ownership"]["threshold"] == 20


@pytest.mark.django_db
def test_a_bad_file_loads_nothing(tmp_path):
    directory = _write_bad_pack(tmp_path, lambda c: c["rules"][0].pop("effective_from"))
    with pytest.raises(CommandError):
        call_command("rulepacks", "load", "--dir", str(directory))
    assert RulePack.objects.count() == 0
