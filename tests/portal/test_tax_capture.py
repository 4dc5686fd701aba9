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
