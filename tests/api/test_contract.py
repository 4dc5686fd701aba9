"""The schema is the contract. This module is the project's one schemathesis configuration: it generates
requests for every operation of the OpenAPI schema at /api/schema/, sends them in-process to the Django WSGI
app with a firm user's token (and, for the platform operations, an officer's), and checks every response
against the schema: no server error, every status code documented, the documented content type, the body
valid against its schema, and invalid input refused. A stateful run follows the links the schema declares
(create a resource, then read and act on it by the id the creation returned).

`make test` runs it derandomised (a fixed seed) with CONTRACT_MAX_EXAMPLES examples per operation (about two
minutes); `make fuzz` runs it randomised and wider (CONTRACT_RANDOM=1, more examples). Each finding becomes a
regression test in tests/api/test_contract_findings.py."""
from __future__ import annotations

import os

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import Household
from onboarding.models import Relationship
from tests.factories import FirmFactory, OfficerFactory, PersonFactory, UserFactory

from .conftest import token_client

pytestmark = pytest.mark.django_db
MAX_EXAMPLES = int(os.environ.get("CONTRACT_MAX_EXAMPLES", "6"))
STATEFUL_EXAMPLES = int(os.environ.get("CONTRACT_STATEFUL_EXAMPLES", "15"))
DERANDOMIZE = not os.environ.get("CONTRACT_RANDOM")
PLATFORM_OPERATIONS = ("/api/v1/recon-runs/upload/", "/api/v1/fills/import/")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection]
HYPOTHESIS = dict(deadline=None, derandomize=DERANDOMIZE, suppress_health_check=list(HealthCheck),
                  database=None)


def _token(user) -> str:
    return token_client(user)._credentials["HTTP_AUTHORIZATION"]


@pytest.fixture
def firm_world(db):
    firm = FirmFactory()
    party = PersonFactory(firm=firm)
    Relationship.objects.create(firm=firm, party=party, state="active")
    Household.objects.create(firm=firm, name="Seed")
    return {"advisor": _token(UserFactory(firm=firm, role="advisor")), "officer": _token(OfficerFactory())}


@pytest.fixture(autouse=True)
def _in_process(settings, tmp_path):
    """Files go to a temporary MEDIA_ROOT, and (as Django's test client does) the database
    connection is not closed at the end of each request, so the test's transaction survives."""
    settings.MEDIA_ROOT = tmp_path / "media"
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


# Generating the schema reads no data, so it is loaded at collection (once for all operations).
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
schema.config.phases.coverage.enabled = False  # its exhaustive boundary cases would take ~10 minutes


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, **HYPOTHESIS)
def test_every_operation_answers_a_firm_user_as_documented(case, firm_world):
    case.call_and_validate(headers={"Authorization": firm_world["advisor"]}, checks=CHECKS)


@schema.include(path_regex="|".join(PLATFORM_OPERATIONS)).parametrize()
@settings(max_examples=MAX_EXAMPLES, **HYPOTHESIS)
def test_platform_uploads_answer_an_officer_as_documented(case, firm_world):
    case.call_and_validate(headers={"Authorization": firm_world["officer"]}, checks=CHECKS)


@schema.include(method="GET").parametrize()
@settings(max_examples=max(MAX_EXAMPLES // 2, 1), **HYPOTHESIS)
def test_every_read_answers_a_platform_officer_as_documented(case, firm_world):
    case.call_and_validate(headers={"Authorization": firm_world["officer"]}, checks=CHECKS)


def test_stateful_sequences_follow_the_links_as_documented(firm_world):
    class Workflow(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"headers": {"Authorization": firm_world["advisor"]}}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS)

    Workflow.run(settings=settings(max_examples=STATEFUL_EXAMPLES, stateful_step_count=6, **HYPOTHESIS))
