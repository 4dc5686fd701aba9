"""The requirement evaluator under the real packs: exemptions and trust rules as the regulations
state them, and every outstanding item carrying the exact citation of the rule behind it (what
the officer's desk shows beside the requirement)."""
import datetime as dt
from decimal import Decimal

import pytest

from onboarding.rules.evaluator import (
    CaseFacts,
    PartyFacts,
    RelatedParty,
    beneficial_owners,
    evaluate,
    exemption,
)
from onboarding.rules.packs import PackVersion, read_pack_dir, resolve

ON = dt.date(2026, 12, 1)


@pytest.fixture(scope="module")
def packs():
    return [PackVersion(code=f.code, version=1, content=f.content) for f in read_pack_dir()]


def resolved(packs, jurisdiction, client_type="corporation", as_of=ON):
    return resolve(packs, jurisdiction=jurisdiction, client_type=client_type, risk_level="medium", as_of=as_of)


def entity(pid, name, client_type="corporation", **kw):
    return PartyFacts(id=pid, name=name, kind="entity", client_type=client_type, **kw)


def person(pid, name):
    return PartyFacts(id=pid, name=name, kind="person", client_type="individual")


def test_a_us_subsidiary_51_percent_owned_by_a_listed_company_is_excluded(packs):
    # 31 CFR 1010.230(e)(2) through 1020.315(b)(5)
    policy = resolved(packs, "US").policy
    parent = RelatedParty(entity(2, "ListedCo Inc", is_listed=True), Decimal("60"), [], set())
    owner = RelatedParty(person(3, "Ann Lee"), Decimal("30"), ["ListedCo Inc"], set())
    facts = CaseFacts(client=entity(1, "Sub LLC", incorporation_country="US"), related=[parent, owner], cycles=[],
                      risk_level="medium")
    assert exemption(policy, facts) == "listed_subsidiary_51"
    assert beneficial_owners(policy, facts) == []
    half = CaseFacts(client=facts.client, related=[RelatedParty(parent.facts, Decimal("50"), [], set()), owner],
                     cycles=[], risk_level="medium")
    assert exemption(policy, half) == "" and [o.facts.name for o in beneficial_owners(policy, half)] == ["Ann Lee"]
    abroad = CaseFacts(client=entity(1, "Sub Ltd", incorporation_country="GB"), related=[parent, owner], cycles=[],
                       risk_level="medium")
    assert exemption(policy, abroad) == ""  # (b)(5) covers entities organised in the US


def test_a_us_trust_has_no_ownership_prong_but_its_trustee_is_identified(packs):
    policy = resolved(packs, "US", "trust").policy
    beneficiary = RelatedParty(person(2, "Ben"), Decimal("80"), [], {"beneficiary"})
    facts = CaseFacts(client=entity(1, "Smith Trust", "trust"), related=[beneficiary], cycles=[], risk_level="medium")
    assert beneficial_owners(policy, facts) == []
    items = evaluate(policy, facts, citations=resolved(packs, "US", "trust").citations)
    control = [i for i in items if i.code == "ownership.control_person"]
    assert control and "1010.230(e)(1)" in control[0].citation["source"]


def test_a_uk_trust_beneficiary_with_a_small_interest_is_a_beneficial_owner(packs):
    # MLR 2017 reg. 6(1): no percentage threshold for trust beneficiaries
    policy = resolved(packs, "GB", "trust").policy
    small = RelatedParty(person(2, "Ben"), Decimal("3"), [], {"beneficiary"})
    facts = CaseFacts(client=entity(1, "Smith Trust", "trust"), related=[small], cycles=[], risk_level="medium")
    assert [o.facts.name for o in beneficial_owners(policy, facts)] == ["Ben"]


def test_outstanding_items_carry_the_exact_citation_of_their_rule(packs):
    r = resolved(packs, "DE")
    facts = CaseFacts(client=entity(1, "Muster GmbH", incorporation_country="DE"), related=[], cycles=[],
                      risk_level="medium")
    items = {i.code: i for i in evaluate(r.policy, facts, citations=r.citations)}
    extract = items["document.bo_register_extract"]
    assert extract.citation["rule"] == "de.transparency-register" and extract.citation["pack"] == "DE"
    assert "GwG §11(5)" in extract.citation["source"] and "§23a" in extract.citation["source"]
    assert extract.source == extract.citation["source"]
    constitution = items["document.constitution"]
    assert constitution.citation["rule"] == "global.entity" and "FATF R.10(b)" in constitution.citation["source"]
    assert all(i.citation.get("rule") for i in items.values())


def test_eu_high_risk_third_countries_trigger_edd_beside_the_fatf_lists(packs):
    r = resolved(packs, "FR")
    owner = RelatedParty(PartyFacts(id=2, name="Ann", kind="person", client_type="individual", countries={"TZ"}),
                         Decimal("40"), [], set())
    facts = CaseFacts(client=entity(1, "SARL", incorporation_country="FR"), related=[owner], cycles=[], risk_level="medium")
    from onboarding.rules.evaluator import edd_triggered

    assert "eu_high_risk_third_country" in edd_triggered(r.policy, facts)


def test_the_advisor_party_form_records_a_green_card_and_substantial_presence():
    from onboarding.forms import PartyForm

    form = PartyForm({"given_names": "Ann", "family_name": "Lee", "residence_country": "GB", "nationalities": "GB",
                      "us_lawful_permanent_resident": "on"}, kind="person", creating=False)
    assert form.is_valid(), form.errors
    data = form.party_data()
    assert data["us_lawful_permanent_resident"] is True and data["us_substantial_presence"] is False
