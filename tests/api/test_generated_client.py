"""The generated client is the proof that the schema is the contract: a Python client generated from the
schema by openapi-python-client (locally, into a temporary directory at test time, so it always reflects the
schema of this commit - committed generated code would go stale silently) drives a partner's flow against the
app in-process: create a case with nested owners, submit it, read its requirements, subscribe an account."""
from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator

from accounts import services as accounts_services
from accounts.demo import custodians_demo
from onboarding import services
from onboarding.api.auth import api_token_create
from onboarding.models import Relationship
from tests.factories import FirmFactory, PersonFactory, UserFactory, tax_documented
from trading.reference.demo import reference_demo

from .test_fewer_calls import structure

pytestmark = pytest.mark.django_db
GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    if not GENERATOR.exists() and not shutil.which("openapi-python-client"):
        pytest.fail("openapi-python-client is a dev dependency (pyproject [dev]); install it")
    out = tmp_path_factory.mktemp("client")
    schema = SchemaGenerator().get_schema(request=None, public=True)
    (out / "schema.json").write_text(json.dumps(schema, default=str))
    env = {**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    run = subprocess.run([str(GENERATOR), "generate", "--path", "schema.json", "--meta", "none"],
                         cwd=out, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    # every operation is generated, and no component was dropped as unparseable
    assert "Unable to process schema" not in run.stdout + run.stderr, run.stdout
    sys.path.insert(0, str(out))
    yield importlib.import_module("meridian_partner_api_client")
    sys.path.remove(str(out))


@pytest.fixture(autouse=True)
def _in_process():
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def test_a_generated_client_drives_a_partner_flow(generated):
    services.rulepacks_load()
    reference_demo()
    custodians = custodians_demo()
    firm = FirmFactory(home_jurisdiction="CH")
    advisor = UserFactory(firm=firm, role="advisor")
    _, secret = api_token_create(user=advisor, name="generated client")
    # an existing client with an active relationship and an active account, to subscribe to a model
    owner = PersonFactory(firm=firm, residence_country="CH", nationalities=["GB"])
    Relationship.objects.create(firm=firm, party=owner, state="active")
    tax_documented(owner)
    account = accounts_services.account_open(firm=firm, owner=owner, number="G-1", name="Global",
                                             base_currency="GBP", booking_centre="offshore",
                                             booking_jurisdiction="CH", investor_type="professional", actor=advisor)
    accounts_services.custody_account_add(account=account, custodian=custodians["IRVTUS3N"], number="G-1-US",
                                          markets=["XNYS", "XNAS"], actor=advisor)
    account = accounts_services.account_activate(account=account, actor=advisor)

    api = importlib.import_module("meridian_partner_api_client.api.v1")
    models = importlib.import_module("meridian_partner_api_client.models")
    client_mod = importlib.import_module("meridian_partner_api_client")
    client = client_mod.AuthenticatedClient(base_url="http://localhost", token=secret, prefix="Token",
                                            raise_on_unexpected_status=True)
    client.set_httpx_client(httpx.Client(transport=httpx.WSGITransport(app=get_wsgi_application()),
                                         base_url="http://localhost",
                                         headers={"Authorization": f"Token {secret}"}))

    def op(name):
        return importlib.import_module(f"meridian_partner_api_client.api.v1.{name}")

    assert api is not None
    # 1. one call: the client entity, two owners, identifiers, addresses, tax residences, ownership
    body = models.CaseCreateRequest.from_dict(structure())
    case = op("v1_cases_create").sync(client=client, body=body, idempotency_key="case-1")
    assert isinstance(case, models.Case), case
    assert case.state == "draft"
    owners = op("v1_cases_beneficial_owners_list").sync(case.id, client=client)
    assert sorted(o.name for o in owners) == ["Jane Doe", "John Roe"]
    # 2. submit: the answer is the stored state
    submitted = op("v1_cases_submit_create").sync(case.id, client=client)
    assert isinstance(submitted, models.Case), submitted
    again = op("v1_cases_retrieve").sync(case.id, client=client)
    assert submitted.to_dict() == again.to_dict() and again.state == "submitted"
    # 3. what is still needed, each with a reason
    requirements = op("v1_cases_requirements_list").sync(case.id, client=client)
    assert isinstance(requirements, list) and all(r.reason for r in requirements)
    # 4. subscribe the active account to a published model
    model = op("v1_models_create").sync(client=client, body=models.ModelPublishRequest.from_dict({
        "code": "GEN-1", "name": "Generated", "provider": "Partner", "base_currency": "USD",
        "effective_from": "2026-11-01",
        "lines": [{"isin": "US0378331005", "weight": "0.6"}, {"cash_currency": "USD", "weight": "0.4"}]}))
    assert isinstance(model, models.ModelPortfolio), model
    subscription = op("v1_subscriptions_create").sync(client=client, body=models.SubscriptionCreateRequest.from_dict(
        {"account": account.pk, "model": model.id, "start_date": dt.date(2026, 11, 20).isoformat()}))
    assert isinstance(subscription, models.Subscription), subscription
    assert subscription.status == "active"
    # errors come back typed as the one Error model
    missing = op("v1_cases_retrieve").sync(999999, client=client)
    assert isinstance(missing, models.Error) and missing.code == "not_found"
