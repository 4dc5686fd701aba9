"""The one error catalogue and body: stable codes, one detail shape, JSON for every /api/ error (HTML
elsewhere), and a request id on every response."""
from __future__ import annotations

import logging
import uuid

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from django_fsm import TransitionNotAllowed
from rest_framework import serializers
from rest_framework.test import APIClient

from onboarding.api.errors import NON_FIELD_KEY, api_exception_handler, catalogue, flatten_detail
from onboarding.exceptions import FourEyesViolation, InvalidTransition, MeridianError
from tests.factories import FirmFactory, UserFactory

from .conftest import assert_error, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def partner(db):
    return token_client(UserFactory(firm=FirmFactory(), role="advisor"))


# ---- JSON for every /api/ error, HTML elsewhere -------------------------------------------------------------------
def test_an_unknown_api_url_answers_json_404_and_an_unknown_page_the_html_404(partner):
    body = assert_error(partner.get("/api/v1/no-such-thing/"), 404, "not_found")
    assert "/api/v1/no-such-thing/" in body["message"]
    assert_error(APIClient().get("/api/nothing-here"), 404, "not_found")  # no credentials, no version
    page = APIClient().get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


def test_a_wrong_method_answers_json_405_with_allow(partner):
    response = partner.delete("/api/v1/cases/")
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


def test_missing_and_bad_credentials_answer_401_codes():
    assert_error(APIClient().get("/api/v1/cases/"), 401, "not_authenticated")
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token abc.def")
    assert_error(bad.get("/api/v1/cases/"), 401, "authentication_failed")


def test_a_malformed_json_body_is_a_parse_error(partner):
    response = partner.post("/api/v1/parties/", data="{not json", content_type="application/json")
    assert_error(response, 400, "parse_error")


@pytest.mark.urls("tests.api.urls_failing")
def test_an_unexpected_failure_under_api_is_json_500_and_a_page_stays_html():
    client = APIClient(raise_request_exception=False)
    body = assert_error(client.get("/api/v1/failing/"), 500, "server_error")
    assert "a bug" not in body["message"]  # no internals leak
    page = client.get("/failing-page/")
    assert page.status_code == 500 and not page["Content-Type"].startswith("application/json")


# ---- request ids ---------------------------------------------------------------------------------------------------
def test_every_response_carries_a_request_id_and_a_client_uuid_is_kept(partner):
    ok = partner.get("/api/v1/cases/")
    assert ok.status_code == 200 and len(ok["X-Request-ID"]) == 32
    mine = uuid.uuid4().hex
    assert partner.get("/api/v1/cases/", HTTP_X_REQUEST_ID=mine)["X-Request-ID"] == mine
    body = assert_error(partner.get("/api/v1/cases/999999/", HTTP_X_REQUEST_ID=mine), 404, "not_found")
    assert body["request_id"] == mine
    # anything that is not a UUID (a log-injection attempt) is replaced, never echoed
    forged = partner.get("/api/v1/cases/", HTTP_X_REQUEST_ID="x\nFAKE LOG LINE")["X-Request-ID"]
    assert "FAKE" not in forged and len(forged) == 32
    assert APIClient().get("/accounts/login/")["X-Request-ID"]  # pages too


def test_log_lines_written_during_a_request_carry_its_id(partner, settings):
    from django_guid.log_filters import CorrelationId

    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Keep()
    for name, spec in settings.LOGGING["filters"].items():
        assert spec["()"] == "django_guid.log_filters.CorrelationId"
        handler.addFilter(CorrelationId(spec["correlation_id_field"]))
    assert "%(request_id)s" in settings.LOGGING["formatters"]["plain"]["format"]
    logging.getLogger("django.request").addHandler(handler)
    try:
        mine = uuid.uuid4().hex
        partner.get("/api/v1/cases/999999/", HTTP_X_REQUEST_ID=mine)
    finally:
        logging.getLogger("django.request").removeHandler(handler)
    assert records and records[-1].request_id == mine


# ---- the detail shape ----------------------------------------------------------------------------------------------
def test_nested_serializer_errors_flatten_to_dotted_paths():
    class Identifier(serializers.Serializer):
        kind = serializers.ChoiceField(choices=["lei"])
        value = serializers.CharField()

    class Owner(serializers.Serializer):
        name = serializers.CharField()
        identifiers = Identifier(many=True)

        def validate(self, attrs):
            raise serializers.ValidationError("an owner needs a percentage")

    class Case(serializers.Serializer):
        owners = Owner(many=True)
        party = serializers.IntegerField()

    data = Case(data={"owners": [{"name": "A", "identifiers": [{"kind": "lei", "value": "x"}]},
                                 {"identifiers": [{"kind": "nope", "value": "x"}, {}]}], "party": "p"})
    assert not data.is_valid()
    detail = flatten_detail(data.errors)
    assert detail == {
        f"owners.0.{NON_FIELD_KEY}": ["an owner needs a percentage"],
        "owners.1.name": ["This field is required."],
        "owners.1.identifiers.0.kind": ['"nope" is not a valid choice.'],
        "owners.1.identifiers.1.kind": ["This field is required."],
        "owners.1.identifiers.1.value": ["This field is required."],
        "party": ["A valid integer is required."],
    }


def test_django_all_and_bare_lists_go_under_the_documented_key():
    assert flatten_detail({"__all__": ["dates overlap"]}) == {NON_FIELD_KEY: ["dates overlap"]}
    assert flatten_detail(["one", "two"]) == {NON_FIELD_KEY: ["one", "two"]}
    assert flatten_detail("just a string") == {NON_FIELD_KEY: ["just a string"]}
    assert flatten_detail({}) is None and flatten_detail([]) is None
    response = api_exception_handler(DjangoValidationError({"__all__": ["x"], "name": ["y"]}), {})
    assert response.data["detail"] == {NON_FIELD_KEY: ["x"], "name": ["y"]}


def test_a_state_machine_refusal_that_escapes_a_service_is_still_invalid_transition():
    response = api_exception_handler(TransitionNotAllowed("Can't switch from state 'open'"), {})
    assert response.status_code == 409 and response.data["code"] == "invalid_transition"


def test_an_importers_location_detail_becomes_a_field_path():
    exc = MeridianError("exec.csv: line 2: field last_qty: must be positive",
                        detail={"file": "exec.csv", "line": 2, "field": "last_qty"})
    assert api_exception_handler(exc, {}).data["detail"] == {"lines.2.last_qty": [exc.message]}


# ---- the catalogue -------------------------------------------------------------------------------------------------
def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_each_code_has_one_status_and_every_raiser_agrees():
    entries = {e.code: e for e in catalogue()}
    assert len(entries) == len(catalogue())
    for cls in _subclasses(MeridianError):
        if cls.__module__.startswith("tests"):
            continue
        assert entries[cls.code].status == cls.status_code, cls


def test_every_state_machine_and_four_eyes_refusal_shares_one_code():
    classes = [c for c in _subclasses(MeridianError) if not c.__module__.startswith("tests")]
    transitions = [c for c in classes if "Transition" in c.__name__ or "State" in c.__name__]
    assert len(transitions) >= 4  # onboarding, compliance alerts, trading orders, reconciliation breaks, tax forms
    for cls in transitions:
        assert issubclass(cls, InvalidTransition) and cls.code == "invalid_transition", cls
    four_eyes = [c for c in classes if "FourEyes" in c.__name__ or "SecondPerson" in c.__name__]
    assert len(four_eyes) >= 3
    for cls in four_eyes:
        assert issubclass(cls, FourEyesViolation) and cls.code == "four_eyes_required", cls


def test_the_catalogue_is_published_in_the_api_and_the_schema():
    listed = APIClient().get("/api/v1/errors/")
    assert listed.status_code == 200
    rows = {row["code"]: row for row in listed.json()}
    assert rows["invalid_transition"]["status"] == 409 and rows["four_eyes_required"]["status"] == 403
    assert rows["validation_failed"]["status"] == 400 and "order_invalid_state" not in rows
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert "| `invalid_transition` | 409" in schema["info"]["description"]
    error = schema["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "message", "detail", "request_id"}
    assert "invalid_transition" in error["properties"]["code"]["enum"]
    submit = schema["paths"]["/api/v1/cases/{id}/submit/"]["post"]
    assert submit["responses"]["409"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert any(p.get("name") == "Idempotency-Key" and p["schema"]["maxLength"] == 255 for p in submit["parameters"])
    release = schema["paths"]["/api/v1/orders/release/"]["post"]  # not idempotent: the header is not offered
    assert not any(p.get("name") == "Idempotency-Key" for p in release.get("parameters", []))


def test_the_management_command_prints_the_catalogue(capsys):
    from django.core.management import call_command

    call_command("error_catalogue")
    out = capsys.readouterr().out
    assert "| `four_eyes_required` | 403 Forbidden |" in out
