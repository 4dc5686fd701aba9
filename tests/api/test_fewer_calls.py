"""Fewer calls: a whole client structure in one POST /cases/, parties in bulk, search, page sizes, and the
answer to a write is what the next GET reads."""
from __future__ import annotations

import pytest

from onboarding import services
from onboarding.models import AuditEvent, Document, OnboardingCase, OwnershipLink, Party
from onboarding.samples import pdf_bytes
from tests.factories import FirmFactory, UserFactory

from .conftest import assert_error, token_client

pytestmark = pytest.mark.django_db
# 5493001KJTIIGC8Y1R12: Bloomberg Finance L.P.'s LEI as published by GLEIF (ISO 17442 check digits 12)
LEI = "5493001KJTIIGC8Y1R12"


@pytest.fixture
def packs(db):
    services.rulepacks_load()


@pytest.fixture
def firm(db):
    return FirmFactory(home_jurisdiction="GB")


@pytest.fixture
def partner(firm):
    return token_client(UserFactory(firm=firm, role="advisor"))


def structure(upload_id=None):
    return {
        "jurisdiction": "GB",
        "client": {
            "kind": "entity", "legal_name": "Acme Holdings Ltd", "country_of_incorporation": "GB",
            "residence_country": "GB",
            "identifiers": [{"kind": "lei", "value": LEI}],
            "addresses": [{"kind": "registered", "line1": "1 Main St", "city": "London", "country": "GB"}],
            "tax_residences": [{"country": "GB", "no_tin_reason": "A"}],
            "documents": [upload_id] if upload_id else [],
        },
        "related": [
            {"ref": "jane", "party": {"kind": "person", "given_names": "Jane", "family_name": "Doe",
                                      "date_of_birth": "1980-02-03", "residence_country": "GB",
                                      "addresses": [{"kind": "residential", "line1": "2 High St", "city": "Leeds",
                                                     "country": "GB"}]}},
            {"ref": "john", "party": {"kind": "person", "given_names": "John", "family_name": "Roe",
                                      "residence_country": "FR"}},
        ],
        "ownership": [
            {"owner": "jane", "owned": "client", "percentage": "60", "role": "shareholder"},
            {"owner": "john", "owned": "client", "percentage": "40", "role": "shareholder"},
        ],
    }


def test_a_whole_structure_is_one_call_and_the_owners_are_computed(packs, firm, partner):
    upload = partner.post("/api/v1/documents/", {"doc_type": "certificate_of_incorporation", "file": _pdf()},
                          format="multipart")
    assert upload.status_code == 201 and upload.json()["party"] is None
    response = partner.post("/api/v1/cases/", structure(upload.json()["id"]), format="json")
    assert response.status_code == 201, response.content
    case = OnboardingCase.objects.get(pk=response.json()["id"])
    client = case.party
    assert client.legal_name == "Acme Holdings Ltd" and client.identifiers.get().kind == "lei"
    assert client.addresses.count() == 1 and client.tax_residences.get().country == "GB"
    assert Document.objects.get(pk=upload.json()["id"]).party == client
    assert sorted(OwnershipLink.objects.filter(owned=client).values_list("percentage", flat=True)) == [40, 60]
    owners = partner.get(f"/api/v1/cases/{case.pk}/beneficial-owners/").json()
    assert {o["name"]: o["effective_percentage"] for o in owners} == {"Jane Doe": "60.00", "John Roe": "40.00"}
    assert response.json() == partner.get(f"/api/v1/cases/{case.pk}/").json()
    assert AuditEvent.objects.filter(event_type="party.created").count() == 3


def test_one_bad_value_deep_in_the_structure_names_its_path_and_nothing_is_written(packs, firm, partner):
    bad = structure()
    bad["related"][1]["party"]["addresses"] = [{"kind": "residential", "line1": "x", "city": "Paris",
                                                "country": "XX"}]
    body = assert_error(partner.post("/api/v1/cases/", bad, format="json"), 400, "validation_failed")
    assert list(body["detail"]) == ["related.1.party.addresses.0.country"], body
    unknown = structure()
    unknown["ownership"][0]["owner"] = "nobody"
    body = assert_error(partner.post("/api/v1/cases/", unknown, format="json"), 400, "validation_failed")
    assert list(body["detail"]) == ["ownership.0.owner"]
    shape = structure()
    shape["related"][0]["party"]["identifiers"] = [{"kind": "nope", "value": "1"}]
    body = assert_error(partner.post("/api/v1/cases/", shape, format="json"), 400, "validation_failed")
    assert list(body["detail"]) == ["related.0.party.identifiers.0.kind"]
    assert Party.objects.count() == 0 and OnboardingCase.objects.count() == 0


def test_an_existing_client_still_opens_a_case_by_id_and_not_both(packs, firm, partner):
    pid = partner.post("/api/v1/parties/", {"kind": "person", "family_name": "Solo"}, format="json").json()["id"]
    assert partner.post("/api/v1/cases/", {"party": pid}, format="json").status_code == 201
    both = {"party": pid, "client": {"kind": "person", "family_name": "X"}}
    body = assert_error(partner.post("/api/v1/cases/", both, format="json"), 400, "validation_failed")
    assert list(body["detail"]) == ["non_field_errors"]


def test_parties_in_bulk_are_all_or_nothing(firm, partner):
    people = [{"kind": "person", "given_names": f"P{i}", "family_name": "Prospect"} for i in range(45)]
    done = partner.post("/api/v1/parties/bulk/", {"parties": people}, format="json")
    assert done.status_code == 201 and len(done.json()) == 45
    people[7] = {"kind": "person", "residence_country": "GB"}  # no name
    body = assert_error(partner.post("/api/v1/parties/bulk/", {"parties": people}, format="json"),
                        400, "validation_failed")
    assert list(body["detail"]) == ["parties.7.family_name"]
    assert Party.objects.count() == 45


def test_search_and_page_size_work_and_a_bad_page_size_is_refused(firm, partner):
    partner.post("/api/v1/parties/bulk/", {"parties": [
        {"kind": "person", "given_names": "Ann", "family_name": "Smith"},
        {"kind": "person", "given_names": "Bob", "family_name": "Jones"},
        {"kind": "entity", "legal_name": "Smithson Trading Ltd"}]}, format="json")
    found = partner.get("/api/v1/parties/?search=smith").json()
    assert found["count"] == 2
    assert len(partner.get("/api/v1/parties/?page_size=1").json()["results"]) == 1
    for bad in ("0", "501", "1.5", "-3", "x"):
        assert_error(partner.get(f"/api/v1/parties/?page_size={bad}"), 400, "validation_failed")


def test_the_api_root_lists_every_resource(partner):
    root = partner.get("/api/v1/").json()
    for name in ("parties", "cases", "documents", "webhooks", "tax-forms", "accounts", "orders", "recon-breaks",
                 "screening-alerts", "custodians", "models", "errors"):
        assert name in root, name


def test_the_audit_trail_detail_is_an_object(packs, firm, partner):
    case = partner.post("/api/v1/cases/", structure(), format="json").json()
    rows = partner.get(f"/api/v1/cases/{case['id']}/audit/").json()
    assert rows and all(isinstance(r["detail"], dict) for r in rows)
    assert any(r["detail"].get("kind") == "entity" for r in rows if r["event_type"] == "party.created")


def test_submit_answers_what_the_next_get_reads(packs, firm, partner):
    case = partner.post("/api/v1/cases/", structure(), format="json").json()
    submitted = partner.post(f"/api/v1/cases/{case['id']}/submit/")
    assert submitted.status_code == 200, submitted.content
    assert submitted.json() == partner.get(f"/api/v1/cases/{case['id']}/").json()


def _pdf():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("address.pdf", pdf_bytes("proof"), content_type="application/pdf")
