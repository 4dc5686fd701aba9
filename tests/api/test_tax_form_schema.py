"""Tax-form `data` is typed per form type (issue 18): the capture request is a `oneOf` by `form_type`, each with
its own `data` schema, and the shape is enforced (400 naming the field path). The complete forms of
tests/compliance/tax/samples.py (written from the IRS and OECD forms) must pass the served schema."""
from __future__ import annotations

import jsonschema
import pytest
from rest_framework.test import APIClient

from tests.compliance.tax.samples import FORMS
from tests.compliance.tax.samples import form as tax_form
from tests.factories import FirmFactory, PersonFactory, UserFactory

from .conftest import assert_error, token_client
from .test_webhook_events import as_json_schema

pytestmark = pytest.mark.django_db

# What each form asks for, read off the forms themselves (W-8BEN Part I lines 1-3 and 8; W-9 lines 1, 3, 5-6
# and Part I; the CRS self-certification's identification section).
NEEDED = {
    "W8BEN": {"name", "citizenship", "permanent_address", "date_of_birth"},
    "W9": {"name", "tax_classification", "address", "tin"},
    "CRS_IND": {"name", "date_of_birth", "residence_address", "tax_residences"},
}


@pytest.fixture(scope="module")
def doc(django_db_blocker):
    with django_db_blocker.unblock():
        return APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def capture_schema(doc, form_type: str) -> dict:
    request = doc["paths"]["/api/v1/tax-forms/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    proxy = doc["components"]["schemas"][request["$ref"].rsplit("/", 1)[1]]
    ref = proxy["discriminator"]["mapping"][form_type]
    return doc["components"]["schemas"][ref.rsplit("/", 1)[1]]


def test_the_capture_request_is_one_schema_per_form_type(doc):
    request = doc["paths"]["/api/v1/tax-forms/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    proxy = doc["components"]["schemas"][request["$ref"].rsplit("/", 1)[1]]
    assert proxy["discriminator"]["propertyName"] == "form_type"
    assert set(proxy["discriminator"]["mapping"]) == set(FORMS)
    assert len(proxy["oneOf"]) == len(FORMS)
    w8ben = capture_schema(doc, "W8BEN")
    data = doc["components"]["schemas"][w8ben["properties"]["data"]["$ref"].rsplit("/", 1)[1]]
    assert data["additionalProperties"] is False
    assert data["properties"]["date_of_birth"]["format"] == "date"
    assert "tax_classification" not in data["properties"]  # a W-9 field
    for form_type, needed in NEEDED.items():
        schema = capture_schema(doc, form_type)
        data = doc["components"]["schemas"][schema["properties"]["data"]["$ref"].rsplit("/", 1)[1]]
        documented = {name for name, prop in data["properties"].items()
                      if "needed for a valid form" in prop.get("description", "")}
        assert needed <= documented, (form_type, needed - documented)
    address = doc["components"]["schemas"]["AddressDataRequest"]
    assert set(address["required"]) == {"line1", "city", "country"}


@pytest.mark.parametrize("form_type", sorted(FORMS))
def test_every_complete_sample_form_follows_its_served_schema(doc, form_type):
    body = {"party": 1, "form_type": form_type, "signed_on": "2026-03-10", "data": tax_form(form_type)}
    jsonschema.validate(body, as_json_schema(doc, capture_schema(doc, form_type)))
    other = "W9" if form_type != "W9" else "W8BEN"
    with pytest.raises(jsonschema.ValidationError):  # the data of one form is not another's
        jsonschema.validate({**body, "form_type": other}, as_json_schema(doc, capture_schema(doc, other)))


@pytest.fixture
def advisor_api():
    firm = FirmFactory()
    party = PersonFactory(firm=firm, given_names="Jane", family_name="Doe")
    return token_client(UserFactory(firm=firm, role="advisor")), party


def post(api, party, form_type: str, data: dict):
    return api.post("/api/v1/tax-forms/", {"party": party.pk, "form_type": form_type, "signed_on": "2026-11-01",
                                           "data": data}, format="json")


@pytest.mark.parametrize(("change", "path"), [
    ({"date_of_birth": "first of May"}, "data.date_of_birth"),
    ({"favourite_colour": "blue"}, "data.favourite_colour"),
    ({"tax_classification": "individual"}, "data.tax_classification"),  # a W-9 field on a W-8BEN
    ({"permanent_address": {"line1": "1 High St", "city": "Leeds", "country": "GBR"}}, "data.permanent_address.country"),
    ({"permanent_address": {"city": "Leeds", "country": "GB"}}, "data.permanent_address.line1"),
    ({"treaty_claim": {"country": "GB", "rate": "fifteen", "income_type": "dividends"}}, "data.treaty_claim.rate"),
    ({"certified": "maybe"}, "data.certified"),
])
def test_a_field_of_the_wrong_shape_is_a_400_naming_its_path(advisor_api, change, path):
    api, party = advisor_api
    body = assert_error(post(api, party, "W8BEN", tax_form("W8BEN", name="Jane Doe", **change)), 400,
                        "validation_failed")
    assert path in body["detail"], body


def test_an_incomplete_form_is_stored_invalid_naming_what_it_lacks(advisor_api):
    api, party = advisor_api
    data = tax_form("W8BEN", name="Jane Doe")
    del data["date_of_birth"]
    response = post(api, party, "W8BEN", data)
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "invalid"
    assert "date_of_birth" in {e["field"] for e in response.json()["validation_errors"]}
    complete = post(api, party, "W8BEN", tax_form("W8BEN", name="Jane Doe", date_of_birth="1980-02-03"))
    assert complete.status_code == 201 and complete.json()["status"] == "valid", complete.json()
