"""What the tax app adds to onboarding: outstanding forms on a case, the activation check and
the party_changed hook."""
from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from compliance.tax import services
from compliance.tax.hooks import on_case_event, outstanding_tax_forms, relationship_tax_check
from compliance.tax.models import TaxForm, TaxFormStatus
from onboarding import requirements

from .factories import (
    AddressFactory,
    CaseFactory,
    EntityFactory,
    OwnershipFactory,
    PersonFactory,
    TaxResidenceFactory,
)
from .samples import SIGNED, form

pytestmark = pytest.mark.django_db


def test_the_app_registers_its_provider_activation_check_and_case_hook():
    assert requirements.providers()["tax.forms"] is outstanding_tax_forms
    assert requirements.activation_checks()["tax.forms"] is relationship_tax_check
    assert requirements.case_hooks()["tax.party_changed"] is on_case_event


@time_machine.travel(dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC))
def test_a_foreign_individual_booked_in_london_owes_a_w8ben_and_a_crs_self_certification_until_given():
    party = PersonFactory()
    AddressFactory(party=party)
    TaxResidenceFactory(party=party)
    case = CaseFactory(party=party, jurisdiction="GB")
    items = outstanding_tax_forms(case)
    assert sorted(i.code for i in items) == ["tax.crs_individual", "tax.w8ben"]
    assert all(i.category == "tax" and i.source and "no form on file" in i.reason for i in items)
    services.tax_form_capture(party=party, form_type="W8BEN", data=form("W8BEN"), signed_on=SIGNED)
    services.tax_form_capture(party=party, form_type="CRS_IND", data=form("CRS_IND"), signed_on=SIGNED)
    assert outstanding_tax_forms(case) == []


@time_machine.travel(dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC))
def test_an_invalid_form_shows_as_outstanding_with_its_reason():
    party = PersonFactory()
    case = CaseFactory(party=party, jurisdiction="US")
    services.tax_form_capture(party=party, form_type="W8BEN", data=form("W8BEN", foreign_tin="123"), signed_on=SIGNED)
    [item] = outstanding_tax_forms(case)
    assert "invalid" in item.reason and "foreign TIN" in item.reason


@time_machine.travel(dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC))
def test_a_passive_trust_booked_offshore_owes_forms_from_each_controlling_person():
    trust = EntityFactory(client_type="trust", legal_name="Solaris Family Trust", country_of_incorporation="KY")
    settlor = PersonFactory(given_names="Ann", family_name="Lee")
    OwnershipFactory(owner=settlor, owned=trust, role="settlor", percentage=0)
    OwnershipFactory(owner=PersonFactory(given_names="Small", family_name="Holder"), owned=trust,
                     role="shareholder", percentage=5)  # below the threshold: not a controlling person
    case = CaseFactory(party=trust, jurisdiction="CH")
    items = outstanding_tax_forms(case)
    assert sorted(i.code for i in items) == ["tax.crs_controlling_person", "tax.crs_entity", "tax.w8bene"]
    [cp] = [i for i in items if i.code == "tax.crs_controlling_person"]
    assert cp.subject == f"party:{settlor.pk}" and "Ann Lee" in cp.reason
    services.tax_form_capture(party=settlor, related_party=trust, form_type="CRS_CP",
                              data=form("CRS_CP"), signed_on=SIGNED)
    assert "tax.crs_controlling_person" not in {i.code for i in outstanding_tax_forms(case)}


def test_a_relationship_with_an_expired_w8_is_not_currently_documented():
    party = PersonFactory()
    case = CaseFactory(party=party, jurisdiction="US")
    with time_machine.travel(dt.datetime(2023, 3, 1, tzinfo=dt.UTC)):
        services.tax_form_capture(party=party, form_type="W8BEN", data=form("W8BEN"), signed_on=dt.date(2023, 2, 1))
        assert relationship_tax_check(case.relationship) == []
    with time_machine.travel(dt.datetime(2027, 1, 2, tzinfo=dt.UTC)):
        # even before the daily sweep has run, a form past its date does not count
        reasons = relationship_tax_check(case.relationship)
        assert reasons == ["Form W-8BEN from " + party.display_name + ": expired on 2026-12-31"]
        services.tax_forms_expiry_sweep()
        assert relationship_tax_check(case.relationship) == reasons


@time_machine.travel(dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC))
def test_the_party_changed_hook_voids_the_w8_and_reopens_the_requirement():
    party = PersonFactory()
    AddressFactory(party=party)
    case = CaseFactory(party=party, jurisdiction="US")
    w8 = services.tax_form_capture(party=party, form_type="W8BEN", data=form("W8BEN"), signed_on=SIGNED)
    assert outstanding_tax_forms(case) == []
    party.residence_country = "FR"
    party.save()
    for hook in requirements.case_hooks().values():
        hook(party, "party_changed")  # onboarding passes the party for party_changed
    w8.refresh_from_db()
    assert w8.status == TaxFormStatus.INVALID
    [item] = outstanding_tax_forms(case)
    assert item.code == "tax.w8ben" and "change in circumstances: residence" in item.reason


@time_machine.travel(dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC))
def test_a_rule_pack_pinned_on_the_case_drives_the_determination():
    party = PersonFactory()
    case = CaseFactory(party=party, jurisdiction="US", policy={"tax_forms": [
        {"code": "pack.crs_everyone", "form": "CRS_IND", "when": {"kind": "individual"},
         "reason": "pack says so", "source": "pack", "effective_from": "2026-01-01"}]})
    assert [i.code for i in outstanding_tax_forms(case)] == ["pack.crs_everyone"]


@time_machine.travel(dt.datetime(2026, 7, 1, 12, tzinfo=dt.UTC))
def test_the_onboarding_rule_packs_tax_forms_and_crs_flag_drive_the_forms():
    """With the lead's rule packs loaded: a Briton booked in the US owes a W-8BEN only (the US
    pack sets crs_participating false); booked in Switzerland also a CRS self-certification."""
    from onboarding.services import rulepacks_load

    rulepacks_load()
    party = PersonFactory()
    onshore = CaseFactory(party=party, jurisdiction="US")
    assert sorted(i.detail["form_type"] for i in outstanding_tax_forms(onshore)) == ["W8BEN"]
    offshore = CaseFactory(party=PersonFactory(), jurisdiction="CH")
    items = outstanding_tax_forms(offshore)
    assert sorted(i.detail["form_type"] for i in items) == ["CRS_IND", "W8BEN"]
    sources = {i.detail["form_type"]: i.source for i in items}
    assert all("rule pack global.defaults" in src for src in sources.values())
    assert "IRS Instructions for Form W-8BEN" in sources["W8BEN"] and "OECD CRS" in sources["CRS_IND"]


def test_a_rule_pack_form_name_this_app_does_not_know_is_refused():
    from compliance.tax.exceptions import TaxRuleFileInvalid
    from compliance.tax.selectors import _translate_pack_rule

    with pytest.raises(TaxRuleFileInvalid):
        _translate_pack_rule({"form": "W-4"}, defaults={}, source="pack")


@time_machine.travel(dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC))
def test_moving_house_through_onboarding_voids_the_w8_after_commit(django_capture_on_commit_callbacks):
    """End to end: onboarding.services.party_update fires party_changed on commit; the W-8BEN
    is void and the relationship is no longer currently documented."""
    from onboarding.services import party_update

    party = PersonFactory()
    AddressFactory(party=party)
    case = CaseFactory(party=party, jurisdiction="US")
    w8 = services.tax_form_capture(party=party, form_type="W8BEN", data=form("W8BEN"), signed_on=SIGNED)
    assert relationship_tax_check(case.relationship) == []
    with django_capture_on_commit_callbacks(execute=True):
        party_update(party=party, actor=None, residence_country="IE")
    w8.refresh_from_db()
    assert w8.status == TaxFormStatus.INVALID and w8.status_reason == "change in circumstances: residence"
    assert relationship_tax_check(case.relationship) == [
        f"Form W-8BEN from {party.display_name}: form on file is invalid: change in circumstances: residence"]


@time_machine.travel(dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC))
def test_submission_prepares_a_prefilled_draft_of_every_missing_form_once():
    trust = EntityFactory(client_type="trust", legal_name="Solaris Family Trust", country_of_incorporation="KY")
    settlor = PersonFactory(given_names="Ann", family_name="Lee", firm=trust.firm)
    TaxResidenceFactory(party=settlor)
    OwnershipFactory(owner=settlor, owned=trust, role="settlor", percentage=0)
    case = CaseFactory(party=trust, jurisdiction="CH")
    on_case_event(case, "submitted")
    drafts = TaxForm.objects.filter(status=TaxFormStatus.DRAFT).order_by("form_type")
    assert [(d.form_type, d.party_id) for d in drafts] == [
        ("CRS_CP", settlor.pk), ("CRS_ENT", trust.pk), ("W8BENE", trust.pk)]
    cp = drafts[0]
    assert (cp.related_party_id, cp.data["role"], cp.data["entity_name"]) == (trust.pk, "CRS804", "Solaris Family Trust")
    on_case_event(case, "submitted")  # again: nothing new
    assert TaxForm.objects.count() == 3
    assert len(outstanding_tax_forms(case)) == 3  # drafts do not meet the requirement
