"""Contract tests: schemathesis generates requests for every operation of the OpenAPI schema at
/api/schema/ and sends them in-process to the Django WSGI app with a firm user's token (and, for
the platform operations, an officer's). No request may get a server error (5xx).

Bounded to a few examples per operation so the whole schema runs in about two minutes."""
from __future__ import annotations

import os

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from accounts.models import Household
from onboarding.models import Relationship
from tests.factories import FirmFactory, OfficerFactory, PersonFactory, UserFactory

from .conftest import token_client

pytestmark = pytest.mark.django_db
# CONTRACT_MAX_EXAMPLES / CONTRACT_RANDOM=1 widen the search for a local exploration run.
MAX_EXAMPLES = int(os.environ.get("CONTRACT_MAX_EXAMPLES", "12"))
DERANDOMIZE = not os.environ.get("CONTRACT_RANDOM")
PLATFORM_OPERATIONS = ("/api/v1/recon-runs/upload/", "/api/v1/fills/import/")


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
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=DERANDOMIZE,
          suppress_health_check=list(HealthCheck))
def test_no_operation_answers_a_firm_user_with_a_server_error(case, firm_world):
    case.call_and_validate(headers={"Authorization": firm_world["advisor"]}, checks=[not_a_server_error])


@schema.include(path_regex="|".join(PLATFORM_OPERATIONS)).parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=DERANDOMIZE,
          suppress_health_check=list(HealthCheck))
def test_platform_uploads_answer_an_officer_without_a_server_error(case, firm_world):
    case.call_and_validate(headers={"Authorization": firm_world["officer"]}, checks=[not_a_server_error])


@schema.include(method="GET").parametrize()
@settings(max_examples=MAX_EXAMPLES // 2, deadline=None, derandomize=DERANDOMIZE,
          suppress_health_check=list(HealthCheck))
def test_no_read_answers_a_platform_officer_with_a_server_error(case, firm_world):
    case.call_and_validate(headers={"Authorization": firm_world["officer"]}, checks=[not_a_server_error])
