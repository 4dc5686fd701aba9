"""The advisor portal's pages, through Django's test client: each page renders for its firm,
shows what is outstanding and why, and another firm's case is a 404."""
from __future__ import annotations

import pytest
from django.urls import reverse

from onboarding import services
from onboarding.audit import events_for
from onboarding.models import CaseState, Document, OnboardingCase, OwnershipLink, Party
from onboarding.samples import pdf_bytes
from tests.factories import EntityFactory, PersonFactory

pytestmark = pytest.mark.django_db

PDF = pdf_bytes("test document")
VALID_LEI = "5493001KJTIIGC8Y1R12"


def entity_case(firm, advisor, **kwargs):
    party = EntityFactory(firm=firm, legal_name=kwargs.pop("legal_name", "Acme Holdings Ltd"), **kwargs)
    return services.case_create(firm=firm, party=party, actor=advisor)


def test_sign_in_page_and_dashboard_require_login(client, advisor):
    response = client.get(reverse("portal:home"))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert b'<label for="id_username"' in page.content
    response = client.post("/accounts/login/", {"username": "alice", "password": "pw"})
    assert response.status_code == 302 and response["Location"] == "/"


def test_dashboard_lists_open_cases_with_their_outstanding_reasons(signed_in, firm, advisor):
    case = entity_case(firm, advisor)
    page = signed_in.get(reverse("portal:home"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Acme Holdings Ltd" in html
    assert "has no registered office" in html or "has no registered address" in html or "has no" in html
    assert reverse("portal:wizard_resume", args=[case.pk]) in html
    assert "Reviews due" in html and "Tax forms expiring" in html and "Accounts by status" in html


def test_dashboard_shows_reviews_due(signed_in, firm, advisor):
    import datetime as dt

    from django.utils import timezone

    from onboarding.models import Relationship

    party = PersonFactory(firm=firm, given_names="Rita", family_name="Review")
    Relationship.objects.create(firm=firm, party=party, next_review_due=timezone.localdate() - dt.timedelta(days=3))
    html = signed_in.get(reverse("portal:home")).content.decode()
    assert "Rita Review" in html and "(overdue)" in html


def test_dashboard_never_shows_another_firms_cases(signed_in, other_advisor):
    entity_case(other_advisor.firm, other_advisor, legal_name="Secret Other Firm Client SA")
    html = signed_in.get(reverse("portal:home")).content.decode()
    assert "Secret Other Firm Client SA" not in html


@pytest.mark.parametrize("name,args", [
    ("portal:case_detail", []),
    ("portal:wizard_resume", []),
    ("portal:wizard_step", ["party"]),
    ("portal:wizard_step", ["ownership"]),
    ("portal:wizard_step", ["documents"]),
    ("portal:wizard_step", ["tax"]),
    ("portal:wizard_step", ["review"]),
])
def test_another_firms_case_is_not_found_on_every_page(signed_in, other_advisor, name, args):
    case = entity_case(other_advisor.firm, other_advisor)
    assert signed_in.get(reverse(name, args=[case.pk, *args])).status_code == 404


def test_another_firms_case_cannot_be_withdrawn_submitted_or_changed(signed_in, other_advisor):
    case = entity_case(other_advisor.firm, other_advisor)
    owner = PersonFactory(firm=other_advisor.firm)
    link = services.ownership_link_add(owner=owner, owned=case.party, actor=other_advisor, percentage=50)
    assert signed_in.post(reverse("portal:case_withdraw", args=[case.pk])).status_code == 404
    assert signed_in.post(reverse("portal:wizard_step", args=[case.pk, "review"])).status_code == 404
    assert signed_in.post(reverse("portal:ownership_remove", args=[case.pk, link.pk])).status_code == 404
    case.refresh_from_db()
    assert case.state == CaseState.DRAFT
    assert OwnershipLink.objects.filter(pk=link.pk).exists()


def test_ownership_link_of_another_structure_cannot_be_removed_through_my_case(signed_in, firm, advisor):
    mine = entity_case(firm, advisor)
    other = entity_case(firm, advisor, legal_name="Other Co Ltd")
    link = services.ownership_link_add(owner=PersonFactory(firm=firm), owned=other.party, actor=advisor, percentage=30)
    assert signed_in.post(reverse("portal:ownership_remove", args=[mine.pk, link.pk])).status_code == 404
    assert OwnershipLink.objects.filter(pk=link.pk).exists()


def test_new_entity_client_creates_party_identifiers_address_and_draft_case(signed_in, advisor):
    response = signed_in.post(reverse("portal:client_new_kind", args=["entity"]), {
        "legal_name": "Borealis Capital Ltd", "client_type": "corporation", "date_of_incorporation": "2010-03-04",
        "country_of_incorporation": "GB", "registration_number": "01234567", "lei": VALID_LEI,
        "address_line1": "1 King William Street", "address_city": "London", "address_country": "gb",
    })
    assert response.status_code == 302
    party = Party.objects.get(legal_name="Borealis Capital Ltd")
    case = OnboardingCase.objects.get(party=party)
    assert response["Location"] == reverse("portal:wizard_step", args=[case.pk, "ownership"])
    assert case.state == CaseState.DRAFT and case.firm_id == advisor.firm_id
    assert set(party.identifiers.values_list("kind", flat=True)) == {"registration", "lei"}
    assert party.addresses.get().kind == "registered"


def test_invalid_lei_is_reported_next_to_the_lei_field_and_nothing_is_saved(signed_in):
    response = signed_in.post(reverse("portal:client_new_kind", args=["entity"]), {
        "legal_name": "Broken Lei Ltd", "client_type": "corporation", "country_of_incorporation": "GB",
        "lei": "5493001KJTIIGC8Y1R13",
    })
    assert response.status_code == 422
    assert "is not a valid LEI" in " ".join(response.context["form"].errors["lei"])
    assert b'id="id_lei_error"' in response.content
    assert not Party.objects.filter(legal_name="Broken Lei Ltd").exists()


def test_bad_country_is_reported_next_to_the_country_field(signed_in):
    response = signed_in.post(reverse("portal:client_new_kind", args=["person"]), {
        "given_names": "Ann", "family_name": "Example", "residence_country": "XX",
    })
    assert response.status_code == 422
    assert "XX is not a country in the list" in response.context["form"].errors["residence_country"][0]


def test_invalid_passport_number_is_reported_next_to_the_number(signed_in):
    response = signed_in.post(reverse("portal:client_new_kind", args=["person"]), {
        "given_names": "Ann", "family_name": "Example", "residence_country": "GB",
        "id_kind": "passport", "id_value": "!!", "id_country": "GB",
    })
    assert response.status_code == 422
    assert "id_value" in response.context["form"].errors
    assert not Party.objects.filter(family_name="Example").exists()


def test_ownership_step_adds_owners_nested_entities_and_shows_beneficial_owners(signed_in, firm, advisor):
    case = entity_case(firm, advisor)
    url = reverse("portal:wizard_step", args=[case.pk, "ownership"])
    response = signed_in.post(url, {
        "owned": case.party_id, "role": "shareholder", "percentage": "60", "kind": "entity",
        "legal_name": "Middle Holdings BV", "client_type": "corporation", "country_of_incorporation": "NL",
    })
    assert response.status_code == 302, response.content.decode()[:3000]
    middle = Party.objects.get(legal_name="Middle Holdings BV")
    response = signed_in.post(url, {
        "owned": middle.pk, "role": "shareholder", "percentage": "50", "kind": "person",
        "given_names": "Jane", "family_name": "Deep", "date_of_birth": "1970-01-01", "residence_country": "NL",
        "nationalities": "NL", "address_line1": "Herengracht 1", "address_city": "Amsterdam", "address_country": "NL",
    })
    assert response.status_code == 302
    page = signed_in.get(url)
    html = page.content.decode()
    assert "Jane Deep" in html and "Middle Holdings BV" in html
    summary = {row["name"]: row for row in page.context["summary"]}
    assert summary["Jane Deep"]["effective_percentage"] == "30.00"
    assert summary["Jane Deep"]["is_beneficial_owner"] is True
    assert summary["Jane Deep"]["through"] == ["Middle Holdings BV"]


def test_ownership_over_100_percent_is_reported_next_to_the_percentage(signed_in, firm, advisor):
    case = entity_case(firm, advisor)
    services.ownership_link_add(owner=PersonFactory(firm=firm), owned=case.party, actor=advisor, percentage=80)
    response = signed_in.post(reverse("portal:wizard_step", args=[case.pk, "ownership"]), {
        "owned": case.party_id, "role": "shareholder", "percentage": "30", "kind": "person",
        "given_names": "Too", "family_name": "Much", "residence_country": "GB",
    })
    assert response.status_code == 422
    assert "more than 100%" in response.context["form"].errors["percentage"][0]
    assert not Party.objects.filter(family_name="Much").exists()


def test_remove_owner(signed_in, firm, advisor):
    case = entity_case(firm, advisor)
    link = services.ownership_link_add(owner=PersonFactory(firm=firm), owned=case.party, actor=advisor, percentage=40)
    response = signed_in.post(reverse("portal:ownership_remove", args=[case.pk, link.pk]))
    assert response.status_code == 302
    assert not OwnershipLink.objects.filter(pk=link.pk).exists()


def test_document_upload_accepts_a_pdf_and_rejects_a_disguised_text_file(signed_in, firm, advisor):
    from django.core.files.uploadedfile import SimpleUploadedFile

    case = entity_case(firm, advisor)
    url = reverse("portal:wizard_step", args=[case.pk, "documents"])
    ok = signed_in.post(url, {"party": case.party_id, "doc_type": "certificate_of_incorporation",
                              "file": SimpleUploadedFile("coi.pdf", PDF, content_type="application/pdf")})
    assert ok.status_code == 302
    assert Document.objects.filter(party=case.party, doc_type="certificate_of_incorporation").count() == 1
    bad = signed_in.post(url, {"party": case.party_id, "doc_type": "articles",
                               "file": SimpleUploadedFile("articles.pdf", b"just text", content_type="application/pdf")})
    assert bad.status_code == 422
    assert "only PDF, PNG and JPEG" in bad.context["form"].errors["file"][0]
    assert not Document.objects.filter(doc_type="articles").exists()


def test_document_for_a_party_outside_the_structure_is_refused(signed_in, firm, advisor):
    from django.core.files.uploadedfile import SimpleUploadedFile

    case = entity_case(firm, advisor)
    stranger = PersonFactory(firm=firm)
    response = signed_in.post(reverse("portal:wizard_step", args=[case.pk, "documents"]), {
        "party": stranger.pk, "doc_type": "passport", "file": SimpleUploadedFile("p.pdf", PDF)})
    assert response.status_code == 422
    assert "party" in response.context["form"].errors
    assert not Document.objects.filter(party=stranger).exists()


def test_tax_residence_without_tin_needs_a_reason(signed_in, firm, advisor):
    case = entity_case(firm, advisor)
    url = reverse("portal:wizard_step", args=[case.pk, "tax"])
    bad = signed_in.post(url, {"action": "residence", "party": case.party_id, "country": "GB"})
    assert bad.status_code == 422
    assert "reason it is missing" in bad.context["form"].errors["tin"][0]
    ok = signed_in.post(url, {"action": "residence", "party": case.party_id, "country": "GB", "no_tin_reason": "A"})
    assert ok.status_code == 302
    assert case.party.tax_residences.get().no_tin_reason == "A"
    page = signed_in.get(url)
    assert b"W-8BEN-E" in page.content or b"CRS self-certification (entity)" in page.content


def test_resume_reopens_at_the_first_incomplete_step(signed_in, firm, advisor):
    case = entity_case(firm, advisor)
    services.party_add_address(party=case.party, actor=advisor, kind="registered", line1="1 A St", city="London",
                               country="GB")
    services.party_add_identifier(party=case.party, actor=advisor, kind="registration", country="GB", value="01234567")
    resume = reverse("portal:wizard_resume", args=[case.pk])
    assert signed_in.get(resume)["Location"] == reverse("portal:wizard_step", args=[case.pk, "ownership"])
    owner = PersonFactory(firm=firm)
    services.ownership_link_add(owner=owner, owned=case.party, actor=advisor, percentage=100)
    services.party_add_address(party=owner, actor=advisor, kind="residential", line1="2 B St", city="London",
                               country="GB")
    # the GB pack also wants a control person: still on the ownership step
    assert signed_in.get(resume)["Location"] == reverse("portal:wizard_step", args=[case.pk, "ownership"])
    services.ownership_link_add(owner=owner, owned=case.party, actor=advisor, role="director")
    assert signed_in.get(resume)["Location"] == reverse("portal:wizard_step", args=[case.pk, "documents"])


def test_submit_from_review_moves_the_case_on_and_the_case_page_shows_why_it_is_outstanding(signed_in, firm, advisor):
    case = entity_case(firm, advisor)
    services.ownership_link_add(owner=PersonFactory(firm=firm, given_names="Olga", family_name="Owner"),
                                owned=case.party, actor=advisor, percentage=70)
    review = signed_in.get(reverse("portal:wizard_step", args=[case.pk, "review"]))
    assert review.status_code == 200
    assert "Olga Owner" in review.content.decode()
    response = signed_in.post(reverse("portal:wizard_step", args=[case.pk, "review"]))
    assert response["Location"] == reverse("portal:case_detail", args=[case.pk])
    case.refresh_from_db()
    assert case.state == CaseState.SUBMITTED and case.submitted_by == advisor
    page = signed_in.get(reverse("portal:case_detail", args=[case.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert page.context["outstanding"], "an incomplete case has outstanding items"
    for item in page.context["outstanding"]:
        assert item.reason in html.replace("&#x27;", "'")
    assert "beneficial owner Olga Owner" in html
    assert "Submitted to compliance" in html and "case.submitted" not in html  # the audit trail, in words
    # a submitted case is no longer editable in the wizard
    assert signed_in.get(reverse("portal:wizard_step", args=[case.pk, "party"]))["Location"] == \
        reverse("portal:case_detail", args=[case.pk])


def test_withdraw_button_withdraws_and_audits(signed_in, firm, advisor):
    case = entity_case(firm, advisor)
    response = signed_in.post(reverse("portal:case_withdraw", args=[case.pk]), {"reason": "client changed mind"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == CaseState.WITHDRAWN
    event = events_for(case).get(event_type="case.withdrawn")
    assert event.reason == "client changed mind" and event.actor == advisor
    html = signed_in.get(reverse("portal:case_detail", args=[case.pk])).content.decode()
    assert "Withdraw case" not in html


def test_party_step_updates_the_party(signed_in, firm, advisor):
    case = entity_case(firm, advisor)
    response = signed_in.post(reverse("portal:wizard_step", args=[case.pk, "party"]), {
        "legal_name": "Acme Holdings Ltd", "client_type": "corporation", "country_of_incorporation": "GB",
        "date_of_incorporation": "2005-05-05", "source_of_wealth": "Trading profits",
    })
    assert response.status_code == 302
    case.party.refresh_from_db()
    assert case.party.source_of_wealth == "Trading profits"


@pytest.mark.parametrize("params,expected,ok", [
    ({"check": "lei", "field": "lei", "lei": VALID_LEI}, VALID_LEI, True),
    ({"check": "lei", "field": "lei", "lei": "5493001KJTIIGC8Y1R13"}, "is not a valid LEI", False),
    ({"check": "country", "field": "residence_country", "residence_country": "de"}, "Germany (DE)", True),
    ({"check": "country", "field": "residence_country", "residence_country": "ZZ"}, "not an ISO 3166-1", False),
    ({"check": "tax_id", "field": "tax_id", "tax_id": "078-05-1121", "country_field": "c", "c": "US"}, "078051121", True),
    ({"check": "tax_id", "field": "tax_id", "tax_id": "12345", "country_field": "c", "c": "US"},
     "is not a valid tax identification number for United States (US): not a valid Social Security number", False),
    ({"check": "tax_id", "field": "tax_id", "tax_id": "36574261809", "country_field": "c", "c": ""},
     "Choose the issuing country", False),
    ({"check": "tax_id", "field": "tax_id", "tax_id": "36574261808", "country_field": "c", "c": "DE"},
     "Steuernummer", True),
    ({"check_field": "id_kind", "id_kind": "passport", "field": "id_value", "id_value": "123456789",
      "country_field": "id_country", "id_country": "GB"}, "123456789", True),
])
def test_live_validation_fragment(signed_in, params, expected, ok):
    response = signed_in.get(reverse("portal:validate"), params)
    assert response.status_code == 200
    html = response.content.decode().replace("&#x27;", "'")
    assert expected in html
    assert ('class="ok"' in html) is ok


def test_live_validation_needs_sign_in(client, db):
    assert client.get(reverse("portal:validate"), {"check": "country", "field": "c", "c": "GB"}).status_code == 302


def test_a_resumed_party_step_shows_saved_dates_in_the_date_picker(signed_in, firm, advisor):
    """The date inputs are native pickers: their value must be ISO even though the site's locale
    writes dates as dd/mm/yyyy."""
    case = entity_case(firm, advisor)
    html = signed_in.get(reverse("portal:wizard_step", args=[case.pk, "party"])).content.decode()
    assert 'type="date" name="date_of_incorporation" value="2005-05-05"' in html


def test_case_page_shows_what_compliance_asked_for(signed_in, firm, advisor):
    from tests.factories import OfficerFactory

    officer = OfficerFactory()
    case = entity_case(firm, advisor)
    case = services.case_start_review(case=services.case_submit(case=case, actor=advisor), actor=officer)
    services.case_request_information(case=case, actor=officer, reason="please send the register of members")
    html = signed_in.get(reverse("portal:case_detail", args=[case.pk])).content.decode()
    assert "Compliance asks for more information" in html
    assert "please send the register of members" in html
    assert reverse("portal:wizard_resume", args=[case.pk]) in html  # the advisor can continue and resubmit


def test_a_person_goes_through_the_wizard_without_an_ownership_step(signed_in, advisor):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = signed_in.post(reverse("portal:client_new_kind", args=["person"]), {
        "given_names": "Maria", "family_name": "Rossi", "date_of_birth": "1980-02-03", "nationalities": "IT",
        "residence_country": "GB", "id_kind": "passport", "id_value": "YA1234567", "id_country": "IT",
        "address_line1": "3 Queen Street", "address_city": "London", "address_country": "GB",
    })
    case = OnboardingCase.objects.get(party__family_name="Rossi")
    assert response["Location"] == reverse("portal:wizard_step", args=[case.pk, "documents"])
    assert signed_in.get(reverse("portal:wizard_step", args=[case.pk, "ownership"])).status_code == 404
    url = reverse("portal:wizard_step", args=[case.pk, "documents"])
    for doc_type in ("passport", "utility_bill"):
        assert signed_in.post(url, {"party": case.party_id, "doc_type": doc_type,
                                    "file": SimpleUploadedFile(f"{doc_type}.pdf", PDF)}).status_code == 302
    assert signed_in.post(reverse("portal:wizard_step", args=[case.pk, "tax"]),
                          {"action": "residence", "party": case.party_id, "country": "GB", "no_tin_reason": "A"}
                          ).status_code == 302
    page = signed_in.get(reverse("portal:wizard_step", args=[case.pk, "review"]))
    steps = [s["name"] for s in page.context["steps"]]
    assert steps == ["party", "documents", "tax", "review"]
    assert not any(row.code.startswith("document.") for row in page.context["outstanding"])
    signed_in.post(reverse("portal:wizard_step", args=[case.pk, "review"]))
    case.refresh_from_db()
    assert case.state == CaseState.SUBMITTED


def test_dashboard_query_count_grows_only_with_the_open_cases_it_explains(signed_in, firm, advisor):
    """Each open case shown costs one requirement evaluation (onboarding's and every provider's,
    about 20 queries) the first time after a change; after that the evaluations come from the
    cache keyed by the firm's audit generation, so a repeat visit costs a constant."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert signed_in.get(reverse("portal:home")).status_code == 200
        return len(ctx.captured_queries)

    def add_cases(n: int) -> None:
        for _ in range(n):
            party = EntityFactory(firm=firm)
            services.case_create(firm=firm, party=party, actor=advisor)
            services.ownership_link_add(owner=PersonFactory(firm=firm), owned=party, actor=advisor, percentage=50)

    add_cases(1)
    one = queries()
    cached_one = queries()
    assert cached_one < one
    add_cases(9)
    ten = queries()
    assert ten - one <= 9 * 25, (one, ten)
    assert queries() == cached_one, "a repeat visit with nothing changed evaluates nothing"
    add_cases(30)  # only the ten most recently updated open cases are explained on the dashboard
    assert queries() <= one + 9 * 25


def test_the_advisors_audit_trail_is_in_words_with_tax_forms_and_alerts_but_no_screening_notes(
        signed_in, firm, advisor):
    """The advisor's case page reads the one label table: no event or state code shows; the tax
    form's and the screening alert's events are there, but a screening note (it names list entries)
    is for compliance only."""
    from decimal import Decimal

    from compliance.models import ScreeningAlert
    from onboarding.audit import record_event
    from tests.factories import tax_documented

    person = PersonFactory(firm=firm, given_names="Maria", family_name="Rossi", residence_country="GB",
                           nationalities=["GB"])
    case = services.case_create(firm=firm, party=person, actor=advisor)
    services.party_set_tax_residence(party=person, actor=advisor, country="GB", tin="1955839661")
    tax_documented(person)
    alert = ScreeningAlert.objects.create(firm=firm, party=person, source="ofac", entry_ref="OFAC-1234",
                                          entry_hash="0" * 64, entry_name="MARIA ROSSA", party_version=1,
                                          score=Decimal("0.81"))
    record_event(subject=alert, event_type="screening.alert_cleared", from_state="open", to_state="cleared",
                 reason="OFAC-1234 MARIA ROSSA born 1950: a different person")
    html = signed_in.get(reverse("portal:case_detail", args=[case.pk])).content.decode()
    audit = html[html.index('id="audit-title"'):]
    for words in ("Case opened", "Tax residence recorded", "Tax form validated",
                  "Screening alert cleared as a false positive"):
        assert words in audit, words
    for code in ("party.tax_residence_set", "case.created", "tax_form.", "screening.alert_cleared", "_"):
        assert code not in audit.split("</table>")[0].split("<tbody>")[1], code
    assert "MARIA ROSSA" not in html and "OFAC-1234" not in html


def test_dashboard_rows_follow_every_change_at_once(signed_in, firm, advisor):
    """The dashboard caches each open case's rendered row (issue 18); a change to the client (audited,
    so the firm's audit generation moves) shows on the very next page."""
    from django.utils.html import escape

    case = entity_case(firm, advisor)
    before = services_requirements(case)
    wanted = [item for item in before if item.code == "field.registration_number"]
    assert wanted, [item.code for item in before]
    reason = escape(wanted[0].reason)
    assert reason in signed_in.get(reverse("portal:home")).content.decode()
    assert reason in signed_in.get(reverse("portal:home")).content.decode()  # now from the cache
    services.party_add_identifier(party=case.party, actor=advisor, kind="registration", value="AB123456", country="GB")
    html = signed_in.get(reverse("portal:home")).content.decode()
    assert reason not in html and "Acme Holdings Ltd" in html
    renamed = services.party_update(party=Party.objects.get(pk=case.party_id), actor=advisor, legal_name="Acme Renamed plc")
    assert renamed.legal_name == "Acme Renamed plc"
    html = signed_in.get(reverse("portal:home")).content.decode()
    assert "Acme Renamed plc" in html and "Acme Holdings Ltd" not in html


def services_requirements(case):
    from onboarding.selectors import case_outstanding

    return case_outstanding(OnboardingCase.objects.get(pk=case.pk))
