"""Structural accessibility of the portal's pages: a language, one h1, the landmarks, a label
for every control, live regions for validation messages, and errors tied to their fields."""
from __future__ import annotations

import pytest
from django.urls import reverse
from lxml import html as lxml_html

from onboarding import services
from tests.factories import EntityFactory, PersonFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(firm, advisor):
    party = EntityFactory(firm=firm, legal_name="Access Co Ltd")
    case = services.case_create(firm=firm, party=party, actor=advisor)
    services.ownership_link_add(owner=PersonFactory(firm=firm), owned=party, actor=advisor, percentage=50)
    return case


def pages(case):
    yield reverse("portal:home")
    yield reverse("portal:client_new")
    yield reverse("portal:client_new_kind", args=["person"])
    yield reverse("portal:client_new_kind", args=["entity"])
    for step in ("party", "ownership", "documents", "tax", "review"):
        yield reverse("portal:wizard_step", args=[case.pk, step])
    yield reverse("portal:case_detail", args=[case.pk])
    yield reverse("portal:account_list")


def unlabelled_controls(doc) -> list[str]:
    labelled = {label.get("for") for label in doc.iter("label")}
    missing = []
    for control in doc.xpath("//input | //select | //textarea"):
        if control.get("type") in ("hidden", "submit", "button"):
            continue
        inside_label = any(ancestor.tag == "label" for ancestor in control.iterancestors())
        if not (control.get("id") in labelled or control.get("aria-label") or inside_label):
            missing.append(control.get("name"))
    return missing


def test_every_page_has_landmarks_one_h1_and_labelled_controls(signed_in, case):
    for url in pages(case):
        response = signed_in.get(url)
        assert response.status_code == 200, url
        doc = lxml_html.fromstring(response.content)
        assert doc.get("lang") == "en", url
        assert len(doc.xpath("//h1")) == 1, url
        assert doc.xpath("//main[@id='main']") and doc.xpath("//nav[@aria-label]") and doc.xpath("//header"), url
        assert doc.xpath("//a[@href='#main']"), f"{url}: no skip link"
        assert unlabelled_controls(doc) == [], url
        assert doc.xpath("//*[@aria-live='polite' and contains(@class, 'messages')]"), url


def test_live_validated_fields_point_at_their_live_region(signed_in, case):
    doc = lxml_html.fromstring(signed_in.get(reverse("portal:client_new_kind", args=["entity"])).content)
    for name in ("lei", "registration_number", "tax_id"):
        control = doc.xpath(f"//input[@name='{name}']")[0]
        region = f"live-{name}"
        assert region in control.get("aria-describedby").split()
        assert doc.xpath(f"//*[@id='{region}' and @aria-live='polite']")
        assert control.get("hx-get") == reverse("portal:validate")
    # A check that depends on another field runs again when that field changes (and so clears).
    assert "change from:[name='tax_id_country']" in doc.xpath("//input[@name='tax_id']")[0].get("hx-trigger")
    # Countries are chosen from a list of names, never typed as codes.
    country = doc.xpath("//select[@name='country_of_incorporation']")[0]
    assert "Germany" in [o.text for o in country.xpath("option")]


def test_a_field_error_is_announced_and_tied_to_its_field(signed_in):
    response = signed_in.post(reverse("portal:client_new_kind", args=["entity"]),
                              {"legal_name": "X Ltd", "client_type": "corporation", "lei": "NOTALEI"})
    doc = lxml_html.fromstring(response.content)
    control = doc.xpath("//input[@name='lei']")[0]
    assert control.get("aria-invalid") == "true"
    assert doc.xpath("//*[@id='id_lei_error']")
    assert doc.xpath("//*[@role='alert']//a[@href='#id_lei']"), "the error summary links to the field"


def test_sign_in_and_second_factor_pages_use_the_portal_layout(signed_in):
    doc = lxml_html.fromstring(signed_in.get("/accounts/otp/").content)
    assert len(doc.xpath("//h1")) == 1 and doc.xpath("//main[@id='main']")
    assert unlabelled_controls(doc) == []
    assert doc.xpath("//input[@autocomplete='one-time-code']")
    signed_in.logout()
    doc = lxml_html.fromstring(signed_in.get("/accounts/login/").content)
    assert doc.xpath("//link[contains(@href, 'portal.css')]") and unlabelled_controls(doc) == []
