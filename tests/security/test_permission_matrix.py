"""The permission matrix: every API endpoint x every role x own firm / other firm.

Endpoints are discovered from the API's URL patterns, so a new endpoint is covered the day it
is added. Data comes from the demo loader (three firms with cases, parties, documents...) plus
whatever each app's demo adds."""
from __future__ import annotations

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from config import api_urls
from onboarding.api import urls as onboarding_api_urls
from onboarding.api.auth import api_token_create
from onboarding.models import Firm, Role, User

pytestmark = pytest.mark.django_db
FIRM_PATHS = ("firm", "party__firm", "account__firm", "endpoint__firm", "custody_account__account__firm",
              "block__firm", "order__account__firm", "run__firm", "case__firm")


def firm_path(model) -> str | None:
    for path in FIRM_PATHS:
        try:
            model.objects.filter(**{f"{path}__isnull": True}).query  # noqa: B018 - resolves the path
            return path
        except Exception:  # noqa: BLE001 - path does not exist on this model
            continue
    return None


def viewsets():
    found = []
    for router in (onboarding_api_urls.router, getattr(api_urls, "router", None)):
        if router is None:
            continue
        for prefix, viewset, basename in router.registry:
            found.append((prefix, viewset, basename))
    return found


@pytest.fixture
def world(db):
    call_command("rulepacks", "load")
    call_command("seed_demo")
    firms = list(Firm.objects.order_by("pk"))
    clients = {}
    for role in (Role.ADVISOR, Role.FIRM_ADMIN, Role.OPERATIONS):
        user = User.objects.filter(firm=firms[0], role=role).first()
        _, token = api_token_create(user=user, name="matrix")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        clients[role] = client
    officer = User.objects.filter(role=Role.COMPLIANCE_OFFICER, is_superuser=False).first()
    _, token = api_token_create(user=officer, name="matrix")
    clients["officer"] = APIClient()
    clients["officer"].credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return firms, clients


def _model_of(viewset):
    serializer = getattr(viewset, "serializer_class", None)
    return getattr(getattr(serializer, "Meta", None), "model", None)


def test_anonymous_requests_are_refused_everywhere(world):
    anonymous = APIClient()
    for prefix, _viewset, _ in viewsets():
        response = anonymous.get(f"/api/v1/{prefix}/")
        assert response.status_code in (401, 403), prefix
        assert anonymous.post(f"/api/v1/{prefix}/", {}, format="json").status_code in (401, 403), prefix


@pytest.mark.parametrize("role", [Role.ADVISOR, Role.FIRM_ADMIN, Role.OPERATIONS])
def test_firm_users_never_see_another_firms_objects(world, role):
    firms, clients = world
    client = clients[role]
    own, checked_detail = firms[0], 0
    for prefix, viewset, _ in viewsets():
        model = _model_of(viewset)
        path = firm_path(model) if model is not None else None
        if path is None:
            continue
        listed = client.get(f"/api/v1/{prefix}/", {"page_size": 500})
        assert listed.status_code == 200, (prefix, listed.status_code)
        body = listed.json()
        ids = {row["id"] for row in (body["results"] if isinstance(body, dict) and "results" in body else body)}
        foreign = set(model.objects.exclude(**{path: own}).values_list("pk", flat=True))
        assert not ids & foreign, f"{prefix} lists another firm's rows to a {role}"
        for pk in list(foreign)[:5]:
            if hasattr(viewset, "retrieve"):
                response = client.get(f"/api/v1/{prefix}/{pk}/")
                assert response.status_code == 404, (prefix, pk, response.status_code)
                checked_detail += 1
            if hasattr(viewset, "destroy"):
                response = client.delete(f"/api/v1/{prefix}/{pk}/")
                assert response.status_code == 404, (prefix, pk, "DELETE", response.status_code)
                assert model.objects.filter(pk=pk).exists()
                checked_detail += 1
    assert checked_detail > 10, "the matrix must actually probe other firms' objects"


def test_officers_see_every_firm(world):
    firms, clients = world
    for prefix, viewset, _ in viewsets():
        model = _model_of(viewset)
        path = firm_path(model) if model is not None else None
        if path is None or not model.objects.exists() or not hasattr(viewset, "retrieve"):
            continue
        row = model.objects.exclude(**{path: firms[0]}).first() or model.objects.first()
        assert clients["officer"].get(f"/api/v1/{prefix}/{row.pk}/").status_code == 200, prefix


def test_only_firm_users_who_may_write_can_create_cases(world):
    firms, clients = world
    from onboarding.models import Party

    party = Party.objects.filter(firm=firms[0], cases__isnull=True).first() or Party.objects.filter(firm=firms[0]).first()
    response = clients[Role.OPERATIONS].post("/api/v1/parties/", {"kind": "person", "family_name": "Ops"}, format="json")
    assert response.status_code == 201  # operations staff may record parties
    other_party = Party.objects.exclude(firm=firms[0]).first()
    assert clients[Role.ADVISOR].post("/api/v1/cases/", {"party": other_party.pk}, format="json").status_code == 404
    assert party is not None
