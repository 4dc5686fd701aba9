"""Step 4 records a signed tax form through compliance.tax: valid forms are accepted, invalid
ones are kept with their problems shown next to the fields they are about."""
from __future__ import annotations

import pytest
from django.urls import reverse

from compliance.tax.models import TaxForm
from onboarding import services
from tests.factories import EntityFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(firm, advisor):
    party = EntityFactory(firm=firm, legal_name="Fjord Holdings AS", country_of_incorporation="NO")
    services.party_add_address(party=party, actor=advisor, kind="registered", line1="Karl Johans gate 1", city="Oslo",
                               country="NO")
    services.party_set_tax_residence(party=party, actor=advisor, country="NO", no_tin_reason="B",
                                     no_tin_explanation="being issued")
    return services.case_create(firm=firm, party=party, actor=advisor, jurisdiction="GB")


def capture(client, case, **fields):
    data = {"action": "tax_form", "tf-name": "Fjord Holdings AS", "tf-address_line1": "Karl Johans gate 1",
            "tf-address_city": "Oslo", "tf-address_country": "NO", "tf-country_of_incorporation": "NO",
            "tf-signer_name": "Kari Nordmann", "tf-signed_on": "2026-11-02", "tf-certified": "on"}
    data.update({f"tf-{k}": v for k, v in fields.items()})
    return client.post(reverse("portal:wizard_step", args=[case.pk, "tax"]), data)


def test_tax_step_offers_the_forms_the_client_must_give_with_fields_from_the_party(signed_in, case):
    page = signed_in.get(reverse("portal:wizard_step", args=[case.pk, "tax"]))
    form = page.context["capture"]
    codes = [code for code, _label in form.fields["form_type"].choices]
    assert "W8BENE" in codes and "CRS_ENT" in codes
    assert form.initial["name"] == "Fjord Holdings AS" and form.initial["address_city"] == "Oslo"
    assert "Record a signed tax form" in page.content.decode()


def test_a_valid_w8bene_is_recorded_as_valid(signed_in, case):
    response = capture(signed_in, case, form_type="W8BENE", chapter3_status="corporation",
                       chapter4_status="active_nffe", foreign_tin_not_required="on")
    assert response.status_code == 302, response.context["capture"].errors
    form = TaxForm.objects.get(party=case.party, form_type="W8BENE")
    assert form.status == "valid" and form.data["permanent_address"]["city"] == "Oslo"


def test_an_invalid_form_is_kept_and_its_problem_shown_next_to_the_field(signed_in, case):
    response = capture(signed_in, case, form_type="W8BENE", chapter3_status="corporation",
                       chapter4_status="participating_ffi", foreign_tin_not_required="on")
    assert response.status_code == 422
    assert "GIIN" in " ".join(response.context["capture"].errors["giin"])
    assert TaxForm.objects.get(party=case.party, form_type="W8BENE").status == "invalid"


def test_a_form_for_another_firms_case_cannot_be_recorded(client, other_advisor, case):
    client.force_login(other_advisor)
    assert capture(client, case, form_type="W8BENE").status_code == 404
    assert not TaxForm.objects.exists()


def test_the_dashboard_lists_tax_forms_expiring_soon(signed_in, case, advisor, time_machine):
    import datetime as dt

    from compliance.tax.services import tax_form_capture

    time_machine.move_to(dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC))
    signed_in.force_login(advisor)  # a session from another time would have expired
    data = {"name": "Fjord Holdings AS", "country_of_incorporation": "NO", "chapter3_status": "corporation",
            "chapter4_status": "active_nffe", "foreign_tin_not_required": True, "certified": True,
            "signer_name": "Kari Nordmann",
            "permanent_address": {"line1": "Karl Johans gate 1", "city": "Oslo", "country": "NO"}}
    soon = tax_form_capture(party=case.party, form_type="W8BENE", data=data, signed_on=dt.date(2023, 5, 1),
                            actor=advisor)
    assert soon.status == "valid" and soon.valid_until == dt.date(2026, 12, 31)
    page = signed_in.get(reverse("portal:home"))
    assert page.status_code == 200, (page.status_code, page.get("Location"))
    assert [form.pk for form in page.context["tax_expiring"]] == [soon.pk]
    assert "Fjord Holdings AS" in page.content.decode() and "31 Dec 2026" in page.content.decode()


@pytest.fixture
def owned_case(case, advisor):
    """Fjord Holdings is 60% owned by Kari Nordmann (a Norwegian resident) and 10% by Ola, below
    the 25% CRS threshold; Kari's tax residence is recorded on the party."""
    from tests.factories import PersonFactory

    kari = PersonFactory(firm=case.firm, given_names="Kari", family_name="Nordmann", residence_country="NO",
                         nationalities=["NO"])
    services.party_set_tax_residence(party=kari, actor=advisor, country="NO", no_tin_reason="B",
                                     no_tin_explanation="being issued")
    ola = PersonFactory(firm=case.firm, given_names="Ola", family_name="Small")
    services.ownership_link_add(owner=kari, owned=case.party, actor=advisor, percentage="60")
    services.ownership_link_add(owner=ola, owned=case.party, actor=advisor, percentage="10")
    return case


def test_a_passive_nfe_lists_the_controlling_persons_of_its_ownership_and_is_recorded_valid(signed_in, owned_case):
    """The dead end of issue 19: a passive NFE's CRS form always failed with "must name its
    controlling persons". The controlling persons now come from the ownership step (OECD CRS
    VIII(D)(6): a natural person holding 25% or more; CtrlgPersonType CRS801, control by
    ownership), are offered ticked on the tax step, and the form is recorded valid."""
    page = signed_in.get(reverse("portal:wizard_step", args=[owned_case.pk, "tax"]))
    html = page.content.decode()
    assert "Kari Nordmann (controlling person of a legal person: control by ownership)" in html
    assert "Ola Small" not in html  # 10% is below the 25% threshold
    kari_id = str(owned_case.party.owners.get(percentage=60).owner_id)
    assert page.context["capture"].initial["controlling_persons"] == [kari_id]
    response = capture(signed_in, owned_case, form_type="CRS_ENT", crs_classification="passive_nfe",
                       controlling_persons=[kari_id])
    assert response.status_code == 302, response.context["capture"].errors
    form = TaxForm.objects.get(party=owned_case.party, form_type="CRS_ENT")
    assert form.status == "valid", form.validation_errors
    [person] = form.data["controlling_persons"]
    assert person["name"] == "Kari Nordmann" and person["role"] == "CRS801"
    assert person["tax_residences"][0]["country"] == "NO"
    # The case page shows them, derived from the structure, in words
    case_page = signed_in.get(reverse("portal:case_detail", args=[owned_case.pk])).content.decode()
    assert "Controlling persons for CRS (passive NFE)" in case_page
    assert "control by ownership" in case_page


def test_a_passive_nfe_form_without_its_controlling_persons_is_refused_next_to_the_field(signed_in, owned_case):
    response = capture(signed_in, owned_case, form_type="CRS_ENT", crs_classification="passive_nfe")
    assert response.status_code == 422
    assert "controlling persons" in " ".join(response.context["capture"].errors["controlling_persons"])


def test_a_w8bene_and_a_crs_form_that_disagree_are_an_outstanding_item_with_the_reason(signed_in, owned_case):
    """W-8BEN-E passive NFFE beside a CRS self-certification saying active NFE: under the OECD CRS
    (VIII(D)(9)) and the W-8BEN-E instructions a passive NFFE is a passive NFE, so the two forms
    disagree; the case lists it as outstanding with both statuses in words. A matching pair does not."""
    from onboarding import selectors

    capture(signed_in, owned_case, form_type="W8BENE", chapter3_status="corporation", chapter4_status="passive_nffe",
            foreign_tin_not_required="on", no_substantial_us_owners="on")
    capture(signed_in, owned_case, form_type="CRS_ENT", crs_classification="active_nfe")
    assert set(TaxForm.objects.filter(party=owned_case.party).values_list("status", flat=True)) == {"valid"}
    items = [o for o in selectors.case_outstanding(owned_case) if o.code == "tax.status_mismatch"]
    assert len(items) == 1
    assert "claims passive NFFE for FATCA" in items[0].reason and "says active NFE" in items[0].reason
    assert "a passive NFFE is passive NFE under CRS" in items[0].reason
    assert items[0].category == "tax" and "OECD CRS" in items[0].source
    page = signed_in.get(reverse("portal:case_detail", args=[owned_case.pk])).content.decode()
    assert "The W-8BEN-E and the CRS self-certification disagree" in page

    kari_id = str(owned_case.party.owners.get(percentage=60).owner_id)
    capture(signed_in, owned_case, form_type="CRS_ENT", crs_classification="passive_nfe", controlling_persons=[kari_id])
    assert not [o for o in selectors.case_outstanding(owned_case) if o.code == "tax.status_mismatch"]


def test_the_consistency_table_names_only_statuses_the_forms_know(tmp_path):
    import yaml

    from compliance.tax import rulefiles
    from compliance.tax.exceptions import TaxRuleFileInvalid

    data = yaml.safe_load((rulefiles.RULES_DIR / "form_rules.yaml").read_text())
    data["status_consistency"]["crs_for_chapter4"]["passive_nffe"] = ["passive_nfe", "dormant_nfe"]
    path = tmp_path / "form_rules.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(TaxRuleFileInvalid, match="dormant_nfe"):
        rulefiles.load_form_rules(path)


def test_the_owners_of_a_holding_company_are_the_controlling_persons_of_its_subsidiary(signed_in, case, advisor):
    """Fjord Holdings AS is owned 100% by Fjord Topco AS, which Kari owns 70% and Ola 30% (so
    Kari 70% and Ola 30% of Fjord Holdings, both over the 25% threshold, OECD CRS VIII(D)(6)
    read with the FATF beneficial owner). Before, only direct person links counted and a
    passive NFE held through a holding company had no controlling persons at all."""
    from compliance.tax.selectors import controlling_persons_for_crs
    from tests.factories import PersonFactory

    topco = EntityFactory(firm=case.firm, legal_name="Fjord Topco AS", country_of_incorporation="NO")
    kari = PersonFactory(firm=case.firm, given_names="Kari", family_name="Nordmann", residence_country="NO")
    ola = PersonFactory(firm=case.firm, given_names="Ola", family_name="Nordmann", residence_country="NO")
    services.ownership_link_add(owner=topco, owned=case.party, actor=advisor, percentage="100")
    services.ownership_link_add(owner=kari, owned=topco, actor=advisor, percentage="70")
    services.ownership_link_add(owner=ola, owned=topco, actor=advisor, percentage="30")
    persons = controlling_persons_for_crs(case.party)
    assert [(p["name"], p["role"]) for p in persons] == [("Kari Nordmann", "CRS801"), ("Ola Nordmann", "CRS801")]
    page = signed_in.get(reverse("portal:wizard_step", args=[case.pk, "tax"]))
    assert page.context["capture"].initial["controlling_persons"] == [str(kari.pk), str(ola.pk)]
    # Ola has no tax residence yet: the problem names him
    response = capture(signed_in, case, form_type="CRS_ENT", crs_classification="passive_nfe",
                       controlling_persons=[str(kari.pk), str(ola.pk)])
    assert response.status_code == 422
    assert response.context["capture"].errors["controlling_persons"] == [
        "Kari Nordmann: at least one tax residence is required", "Ola Nordmann: at least one tax residence is required"]
    for person in (kari, ola):
        services.party_set_tax_residence(party=person, actor=advisor, country="NO", no_tin_reason="B",
                                         no_tin_explanation="being issued")
    response = capture(signed_in, case, form_type="CRS_ENT", crs_classification="passive_nfe",
                       controlling_persons=[str(kari.pk), str(ola.pk)])
    assert response.status_code == 302, response.context["capture"].errors
    assert list(TaxForm.objects.filter(party=case.party, form_type="CRS_ENT").order_by("pk")
                .values_list("status", flat=True)) == ["superseded", "valid"]


def test_the_tax_step_records_a_controlling_persons_tax_residence(signed_in, owned_case):
    """A passive NFE's self-certification carries its controlling persons' residences: the tax
    step offers them under "Whose tax residence" and records theirs, not the client's."""
    from onboarding.models import TaxResidence

    kari = owned_case.party.owners.get(percentage=60).owner
    page = signed_in.get(reverse("portal:wizard_step", args=[owned_case.pk, "tax"]))
    choices = dict(page.context["form"].fields["party"].choices)
    assert choices[kari.pk] == "Kari Nordmann (controlling person)"
    response = signed_in.post(reverse("portal:wizard_step", args=[owned_case.pk, "tax"]), {
        "action": "residence", "party": kari.pk, "country": "SE", "no_tin_reason": "B",
        "no_tin_explanation": "being issued"}, follow=True)
    assert "Tax residence of Kari Nordmann saved." in response.content.decode()
    assert set(TaxResidence.objects.filter(party=kari).values_list("country", flat=True)) == {"NO", "SE"}
    assert not TaxResidence.objects.filter(party=owned_case.party, country="SE").exists()


def test_the_tax_step_does_not_record_a_residence_for_someone_outside_the_structure(signed_in, owned_case):
    from tests.factories import PersonFactory

    stranger = PersonFactory(firm=owned_case.firm, given_names="Sven", family_name="Stranger")
    response = signed_in.post(reverse("portal:wizard_step", args=[owned_case.pk, "tax"]), {
        "action": "residence", "party": stranger.pk, "country": "SE", "no_tin_reason": "B",
        "no_tin_explanation": "being issued"})
    assert response.status_code == 422 and "party" in response.context["form"].errors
    assert not stranger.tax_residences.exists()
