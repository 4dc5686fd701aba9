"""Random and hostile JSON bodies to every POST endpoint of the API never yield a 5xx.

Endpoints are discovered from the routers (list routes with `create`, and every extra action
accepting POST, on list or on an existing object), so a new endpoint is fuzzed the day it is
added. Bodies: arbitrary JSON (hypothesis), the serializer's own field names filled with hostile
values (wrong types, huge strings, NUL bytes, deep nesting, huge numbers, path and SQL strings),
and raw bodies that are not JSON at all."""
from __future__ import annotations

import json
import os

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from onboarding.api.auth import api_token_create
from onboarding.models import Firm, Role, User
from tests.security.test_permission_matrix import _model_of, firm_path, viewsets

pytestmark = pytest.mark.django_db

HOSTILE_VALUES = [
    None, True, -1, 0, 10**40, -10**40, 1e308, "", " ", "\x00", "x" * 100_000, "../../../../etc/passwd",
    "'; DROP TABLE onboarding_party; --", "<script>alert(1)</script>", "٣٤٥", "\ud7ff\ue000", "NaN", "Infinity",
    "-0", "1e999999", "2026-02-30", "9999-12-31T99:99:99", [], {}, [[[[[[[[[[[]]]]]]]]]]], {"a": {"b": {"c": {}}}},
    list(range(1000)), {"__proto__": {"admin": True}}, "ZZ", "XX", "GB" * 50,
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50) | st.sampled_from(HOSTILE_VALUES[:20]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


def post_endpoints(world_firm) -> list[tuple[str, set[str]]]:
    """(path, field names of the request serializer) for every POST route, with a real object id
    of the caller's firm for detail routes."""
    found = []
    for prefix, viewset, _ in viewsets():
        model = _model_of(viewset)
        fields = _serializer_fields(getattr(viewset, "serializer_class", None))
        if hasattr(viewset, "create"):
            found.append((f"/api/v1/{prefix}/", fields))
        pk = None
        if model is not None:
            path = firm_path(model)
            qs = model.objects.filter(**{path: world_firm}) if path else model.objects.all()
            obj = qs.order_by("pk").first()
            pk = obj.pk if obj is not None else None
        for action in viewset.get_extra_actions():
            if "post" not in action.mapping:
                continue
            url_path = action.url_path
            action_fields = _serializer_fields(action.kwargs.get("serializer_class")) | fields
            if action.detail:
                found.append((f"/api/v1/{prefix}/{pk or 1}/{url_path}/", action_fields))
            else:
                found.append((f"/api/v1/{prefix}/{url_path}/", action_fields))
    return found


def _serializer_fields(serializer) -> set[str]:
    if serializer is None:
        return set()
    try:
        return set(serializer().fields)
    except Exception:  # noqa: BLE001 - a serializer needing context: fall back to no names
        return set()


@pytest.fixture
def world(db):
    call_command("rulepacks", "load")
    call_command("seed_demo")
    firm = Firm.objects.order_by("pk").first()
    clients = []
    users = [User.objects.filter(firm=firm, role=Role.ADVISOR).first(),
             User.objects.filter(role=Role.COMPLIANCE_OFFICER, is_superuser=False).first()]
    for user in users:
        _, token = api_token_create(user=user, name="fuzz")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        clients.append(client)
    return firm, clients


def _check(client, path, body, *, raw: bytes | None = None):
    if raw is not None:
        response = client.generic("POST", path, raw, content_type="application/json")
    else:
        response = client.post(path, body, format="json")
    assert response.status_code < 500, (path, body if raw is None else raw[:200], response.status_code)
    return response


def test_every_post_endpoint_survives_hostile_bodies(world):
    firm, clients = world
    endpoints = post_endpoints(firm)
    assert len(endpoints) >= 10, endpoints  # the discovery must find the API
    raws = [b"", b"{", b"[1,2", b"\xff\xfe\x00", b'{"a": ' * 200 + b"1" + b"}" * 200, b"null", b"NaN",
            json.dumps({"x": "y" * 1_000_000}).encode()]
    for n, client in enumerate(clients):
        for path, fields in endpoints:
            for raw in raws:
                _check(client, path, None, raw=raw)
            for value in HOSTILE_VALUES[n::2]:  # each caller half of the values, together all of them
                _check(client, path, {name: value for name in fields} or {"x": value})


# Each example posts random bodies to a dozen routes drawn from all of them, as both callers (every route gets
# the fixed hostile bodies above). `make test` runs a few derandomised examples, `make fuzz` many random ones;
# schemathesis is the schema-aware fuzzer, this one also sends bodies that ignore the schema entirely.
RANDOM_EXAMPLES = int(os.environ.get("HOSTILE_JSON_EXAMPLES", "25"))
ROUTES_PER_EXAMPLE = 12


def _body(fields: set[str]):
    """A body for one route: its own field names with random values, or any JSON at all."""
    if not fields:
        return json_values
    return st.one_of(st.fixed_dictionaries({}, optional={n: json_values for n in sorted(fields)}), json_values)


@settings(max_examples=RANDOM_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=os.environ.get("CONTRACT_RANDOM") != "1")
@given(data=st.data())
def test_every_post_endpoint_survives_random_json(world, data):
    firm, clients = world
    endpoints = post_endpoints(firm)
    # few top-level draws per example: hypothesis's bookkeeping grows with them, and one huge draw overruns
    # its buffer, so an example covering every route would never finish generating
    for _ in range(ROUTES_PER_EXAMPLE):
        path, fields = endpoints[data.draw(st.integers(0, len(endpoints) - 1))]
        body = data.draw(_body(fields))
        for client in clients:
            _check(client, path, body)


def test_a_deeply_nested_json_body_is_a_400_not_a_500(db):
    firm = _firm_with_advisor()
    client = APIClient(raise_request_exception=False)
    _, token = api_token_create(user=User.objects.get(firm=firm), name="deep")
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    body = b'{"a": ' * 5000 + b"1" + b"}" * 5000
    response = client.generic("POST", "/api/v1/parties/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def _firm_with_advisor():
    from tests.factories import FirmFactory, UserFactory

    firm = FirmFactory(home_jurisdiction="GB")
    UserFactory(firm=firm, role=Role.ADVISOR)
    return firm


# --- One hostile field at a time, in an otherwise valid request ------------------------------
# The bodies above fill every field with the same value, so a request stops at its first check
# (for a tax form: the form type) and never reaches the validation of the other fields. Here each
# case is a complete, valid form of a real type (tests/compliance/tax/samples.py, each checked to
# be accepted first) with exactly one field replaced, so the case reaches that field's check.

def _hostile_for(value) -> list:
    """Values that are wrong for a field whose valid value is `value` (never right for it)."""
    if isinstance(value, bool):
        return [{"a": 1}, [True], "x" * 10_000]
    if isinstance(value, str):
        return [{"nested": "object"}, ["a", "list"], 10**40, "x" * 100_000, "a\x00b"]
    if isinstance(value, dict):
        return ["text", [1, 2], 10**40, {"line1": {"deep": ["x"]}}]
    if isinstance(value, list):
        return ["text", {"a": 1}, [["nested"]], [None]]
    return ["text", {"a": 1}]


def _names_field(body: dict, field: str) -> bool:
    detail = body.get("detail") or {}
    text = json.dumps(detail) + " " + str(body.get("message", ""))
    return field in text


@pytest.mark.parametrize("form_type", ["W9", "W8BEN", "W8BENE", "W8IMY", "W8ECI", "CRS_IND", "CRS_ENT", "CRS_CP"])
def test_one_hostile_field_of_a_real_tax_form_reaches_its_validation(db, form_type):
    from tests.compliance.tax.samples import FORMS, form
    from tests.factories import EntityFactory, PersonFactory

    firm = _firm_with_advisor()
    _, token = api_token_create(user=User.objects.get(firm=firm), name="one-field")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    person = PersonFactory(firm=firm, given_names="Oliver", family_name="Twist")
    entity = EntityFactory(firm=firm)
    party = entity if form_type in ("W8BENE", "W8IMY", "W8ECI", "CRS_ENT") else person
    base = {"party": party.pk, "form_type": form_type, "signed_on": "2026-03-10"}
    if form_type == "CRS_CP":
        base["related_party"] = entity.pk
    accepted = client.post("/api/v1/tax-forms/", {**base, "data": form(form_type)}, format="json")
    assert accepted.status_code == 201, (form_type, accepted.content)  # the base request passes every check
    sent = 0
    for field, good in FORMS[form_type].items():
        for value in _hostile_for(good):
            response = client.post("/api/v1/tax-forms/", {**base, "data": form(form_type, **{field: value})},
                                   format="json")
            sent += 1
            where = (form_type, field, repr(value)[:40], response.status_code)
            assert response.status_code in (201, 400), where
            body = response.json()
            if response.status_code == 400:
                assert _names_field(body, field), (where, body)
            else:  # captured as received, and validation names the field
                assert body["status"] != "valid" and _names_field({"detail": body["validation_errors"]}, field), \
                    (where, body)
    assert sent >= 3 * len(FORMS[form_type])


@pytest.mark.parametrize(("field", "value"), [
    (f, v) for f in ("given_names", "family_name", "email", "phone", "residence_country", "nationalities",
                     "date_of_birth", "client_type", "kind")
    for v in ({"a": 1}, ["x"], "x" * 100_000, "a\x00b")  # (a number is text to DRF's CharField by design)
])
def test_one_hostile_field_of_a_valid_party_reaches_its_validation(db, field, value):
    firm = _firm_with_advisor()
    _, token = api_token_create(user=User.objects.get(firm=firm), name="one-field")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    valid = {"kind": "person", "client_type": "individual", "given_names": "Ada", "family_name": "Lovelace",
             "email": "ada@example.com", "phone": "+44 20 7946 0000", "residence_country": "GB",
             "nationalities": ["GB"], "date_of_birth": "1980-12-10"}
    assert client.post("/api/v1/parties/", valid, format="json").status_code == 201
    response = client.post("/api/v1/parties/", {**valid, field: value}, format="json")
    assert response.status_code == 400, (field, response.status_code, response.content[:300])
    assert field in (response.json()["detail"] or {}), response.json()
