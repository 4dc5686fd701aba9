"""Every profile of the regulatory table (regulatory_profiles.yaml, answers worked out from the
cited texts) through the real functions: determination (on this app's rules and on the global
rule pack's `tax_forms`), validation, validity, withholding and look-through."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from compliance.tax import rulefiles
from compliance.tax.determination import build_facts, determine_forms
from compliance.tax.indicia import PartyContext
from compliance.tax.selectors import _translate_pack_rule
from compliance.tax.validation import validate_form
from compliance.tax.validity import void_reasons
from compliance.tax.withholding import Allocation, PayeeStatus, blended_rate, withholding_rate
from onboarding.rules.packs import PACK_DIR, read_pack_file

TABLE = yaml.safe_load(Path(__file__).with_name("regulatory_profiles.yaml").read_text(encoding="utf-8"))
DEFAULTS = TABLE["defaults"]
PROFILES = TABLE["profiles"]


def _date(value):
    return value if isinstance(value, dt.date) or value is None else dt.date.fromisoformat(str(value))


def _pack_rules():
    pack = read_pack_file(PACK_DIR / "global.yaml").content
    rule = next(r for r in pack["rules"] if r["id"] == "global.defaults")
    own = rulefiles.form_rules()["tax_forms"]
    defaults = {r["form"]: r for r in own}
    rules = [_translate_pack_rule(r, defaults=defaults, source="global.defaults: x") for r in rule["set"]["tax_forms"]]
    return rules + [r for r in own if r.get("per")]


def _payee(spec: dict) -> PayeeStatus:
    spec = dict(spec)
    spec["treaty_income_types"] = tuple(spec.get("treaty_income_types", ()))
    return PayeeStatus(**spec)


def run_determine(row, on):
    party = dict(row["party"])
    facts = build_facts(ref="party:1", name=row["title"], booking_centre=row["booking_centre"], on=on,
                        kind=party.pop("kind"), client_type=party.pop("client_type"), **party)
    assert facts.us_person is row["expect"]["us_person"]
    for rules in (rulefiles.form_rules()["tax_forms"], _pack_rules()):
        forms = sorted(f.form for f in determine_forms(facts, rules, on=on))
        assert forms == sorted(row["expect"]["forms"])


def run_validate(row, on):
    data = dict(TABLE["bases"][row["form"]])
    data.update(row.get("data") or {})
    spec = dict(row["party"])
    for key in ("address_countries", "nationalities", "phones"):
        if key in spec:
            spec[key] = tuple(spec[key])
    if "kyc_us_owners" in spec:
        spec["kyc_us_owners"] = tuple(tuple(o) for o in spec["kyc_us_owners"])
    party = PartyContext(ref="party:1", name=data["name"], **spec)
    result = validate_form(row["form"], data, signed_on=_date(row.get("signed_on", DEFAULTS["signed_on"])),
                           party=party, today=on, cure_documents=row.get("cure") or [])
    expect = row["expect"]
    errors = {(e.field, e.code) for e in result.errors}
    assert result.ok is expect["ok"], [e.as_dict() for e in result.errors] + [i.code for i in result.uncured_indicia]
    for field, code in expect.get("errors_include", []):
        assert (field, code) in errors
    for field, code in expect.get("warnings_include", []):
        assert (field, code) in {(w.field, w.code) for w in result.warnings}
    if "treaty_claim_removed" in expect:
        assert result.treaty_claim_removed is expect["treaty_claim_removed"]
    if "treaty_rate" in expect:
        assert result.treaty_rate == expect["treaty_rate"]
    if "valid_until" in expect:
        assert result.valid_until == _date(expect["valid_until"])
    if "indicia" in expect:
        assert sorted(i.code for i in result.indicia) == sorted(expect["indicia"])


def run_validity(row, on):
    before = {"name": "A", "residence": "GB", "address": row["before"], "tin": ["X:1"]}
    after = dict(before, address=row["after"])
    assert void_reasons(row["form"], before, after) == set(row["expect"]["void"])


def run_withholding(row, on):
    decision = withholding_rate(_payee(row["payee"]), income_type=row["income_type"], on=on)
    assert decision.rate == Decimal(row["expect"]["rate"])
    if "rule" in row["expect"]:
        assert decision.rule == row["expect"]["rule"]


def run_blended(row, on):
    allocations = [Allocation(a["name"], Decimal(a["share"]), _payee(a["payee"])) for a in row["allocations"]]
    decision = blended_rate(allocations, income_type=row["income_type"], on=on)
    assert decision.rate == Decimal(row["expect"]["rate"])


RUNNERS = {"determine": run_determine, "validate": run_validate, "validity": run_validity,
           "withholding": run_withholding, "blended": run_blended}


def test_the_table_covers_about_forty_profiles_with_a_citation_each():
    assert len(PROFILES) >= 40
    assert all(p.get("cite") for p in PROFILES)
    assert len({p["id"] for p in PROFILES}) == len(PROFILES)


@pytest.mark.parametrize("row", PROFILES, ids=[p["id"] for p in PROFILES])
def test_profile(row):
    RUNNERS[row["kind"]](row, _date(row.get("as_of", DEFAULTS["as_of"])))
