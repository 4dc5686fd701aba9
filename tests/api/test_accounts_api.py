"""The partner API for accounts: households, accounts (open, activate through the gate), custody
accounts, positions and cash on both bases, projected cash, valuation, model portfolios (JSON and
delivery CSV) and subscriptions; error bodies, Idempotency-Key and firm scoping."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts import services
from accounts.demo import custodians_demo
from accounts.models import Account, ModelPortfolio, ModelSubscription
from onboarding.models import Relationship
from tests.factories import FirmFactory, OfficerFactory, PersonFactory, UserFactory, tax_documented
from trading.reference.demo import reference_demo

from .conftest import assert_error, ids, token_client

pytestmark = pytest.mark.django_db
BUY_DAY = dt.date(2026, 11, 18)  # Wednesday: AAPL settles T+1 on Thursday 19
PRICE_DAY = dt.date(2026, 11, 20)


@pytest.fixture
def ref(db):
    return reference_demo()


@pytest.fixture
def custodians(ref):
    return custodians_demo()


def _firm_with_client(home="CH", relationship="active"):
    firm = FirmFactory(home_jurisdiction=home)
    advisor = UserFactory(firm=firm, role="advisor")
    owner = PersonFactory(firm=firm, residence_country="CH", nationalities=["GB"])
    Relationship.objects.create(firm=firm, party=owner, state=relationship)
    tax_documented(owner)  # the real gate asks for a current W-8BEN and CRS self-certification
    return firm, advisor, owner


def _open(firm, owner, custodians, advisor, number="A-1", activate=True):
    account = services.account_open(firm=firm, owner=owner, number=number, name="Global", base_currency="GBP",
                                    booking_centre="offshore", booking_jurisdiction="CH",
                                    investor_type="professional", actor=advisor)
    us = services.custody_account_add(account=account, custodian=custodians["IRVTUS3N"], number=f"{number}-US",
                                      markets=["XNYS", "XNAS"], actor=advisor)
    if activate:
        account = services.account_activate(account=account, actor=advisor)
    return account, us


@pytest.fixture
def world(custodians):
    """Firm A with an active, funded account holding Apple; firm B with its own account."""
    firm_a, advisor_a, owner_a = _firm_with_client()
    firm_b, advisor_b, owner_b = _firm_with_client()
    account_a, us_a = _open(firm_a, owner_a, custodians, advisor_a, "A-1")
    account_b, _us_b = _open(firm_b, owner_b, custodians, advisor_b, "B-1")
    services.cash_deposit(account=account_a, custody_account=us_a, currency="USD", amount=Decimal(50000),
                          value_date=dt.date(2026, 11, 2))
    return {"a": token_client(advisor_a), "b": token_client(advisor_b), "firm_a": firm_a, "firm_b": firm_b,
            "owner_a": owner_a, "owner_b": owner_b, "account_a": account_a, "account_b": account_b, "us_a": us_a,
            "advisor_a": advisor_a}


def test_households_are_created_listed_and_scoped_to_the_firm(world):
    created = world["a"].post("/api/v1/households/", {"name": "Smith family"}, format="json")
    assert created.status_code == 201 and created.json()["name"] == "Smith family"
    hid = created.json()["id"]
    assert hid in ids(world["a"].get("/api/v1/households/"))
    assert hid not in ids(world["b"].get("/api/v1/households/"))
    assert_error(world["b"].get(f"/api/v1/households/{hid}/"), 404, "not_found")
    body = assert_error(world["a"].post("/api/v1/households/", {"name": ""}, format="json"), 400, "validation_failed")
    assert "name" in body["detail"]


def test_an_account_opens_pending_gets_custody_and_activates_through_the_gate(world, custodians):
    client = world["a"]
    opened = client.post("/api/v1/accounts/", {
        "owner": world["owner_a"].pk, "number": "A-2", "name": "Second", "base_currency": "USD",
        "booking_centre": "offshore", "booking_jurisdiction": "CH"}, format="json")
    assert opened.status_code == 201, opened.content
    account_id = opened.json()["id"]
    assert opened.json()["status"] == "pending"
    # no custody account yet: the activation service refuses
    assert_error(client.post(f"/api/v1/accounts/{account_id}/activate/"), 400, "validation_failed")
    custody = client.post("/api/v1/custody-accounts/", {"account": account_id, "custodian": "IRVTUS3N",
                                                         "number": "A-2-US", "markets": ["XNYS"]}, format="json")
    assert custody.status_code == 201 and custody.json()["markets"] == ["XNYS"]
    activated = client.post(f"/api/v1/accounts/{account_id}/activate/")
    assert activated.status_code == 200 and activated.json()["status"] == "active"
    assert Account.objects.get(pk=account_id).status == "active"


def test_activation_is_refused_while_the_relationship_is_not_active(world, custodians):
    owner = PersonFactory(firm=world["firm_a"])
    Relationship.objects.create(firm=world["firm_a"], party=owner, state="pending")
    account, _ = _open(world["firm_a"], owner, custodians, world["advisor_a"], "A-9", activate=False)
    assert_error(world["a"].post(f"/api/v1/accounts/{account.pk}/activate/"), 409, "relationship_not_active")
    assert Account.objects.get(pk=account.pk).status == "pending"


def test_opening_an_account_validates_input_and_another_firms_owner_is_not_found(world):
    client = world["a"]
    body = assert_error(client.post("/api/v1/accounts/", {"owner": world["owner_a"].pk, "number": "X",
                                                          "name": "X", "base_currency": "US",
                                                          "booking_centre": "moon", "booking_jurisdiction": "CH"},
                                    format="json"), 400, "validation_failed")
    assert "booking_centre" in body["detail"]
    assert_error(client.post("/api/v1/accounts/", {"owner": world["owner_b"].pk, "number": "X", "name": "X",
                                                   "base_currency": "USD", "booking_centre": "offshore",
                                                   "booking_jurisdiction": "CH"}, format="json"), 404)
    assert not Account.objects.filter(number="X").exists()


def test_a_retried_account_open_with_the_same_idempotency_key_opens_one_account(world):
    payload = {"owner": world["owner_a"].pk, "number": "A-3", "name": "Third", "base_currency": "GBP",
               "booking_centre": "offshore", "booking_jurisdiction": "CH"}
    first = world["a"].post("/api/v1/accounts/", payload, format="json", HTTP_IDEMPOTENCY_KEY="open-a3")
    again = world["a"].post("/api/v1/accounts/", payload, format="json", HTTP_IDEMPOTENCY_KEY="open-a3")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
    assert Account.objects.filter(number="A-3").count() == 1


def test_positions_and_cash_differ_between_trade_and_settlement_basis(world, ref):
    account, us = world["account_a"], world["us_a"]
    services.trade_book(account=account, custody_account=us, listing=ref.listings["AAPL"], side="buy",
                        quantity=Decimal(10), price=Decimal("250"), trade_date=BUY_DAY)
    url, day = f"/api/v1/accounts/{account.pk}", BUY_DAY.isoformat()
    trade = world["a"].get(f"{url}/positions/", {"as_of": day, "basis": "trade"}).json()
    settle = world["a"].get(f"{url}/positions/", {"as_of": day, "basis": "settle"}).json()
    assert [(p["instrument"], Decimal(p["quantity"])) for p in trade["positions"]] == [
        (ref.instruments["AAPL"].pk, Decimal(10))]
    assert settle["positions"] == []
    cash_trade = world["a"].get(f"{url}/cash/", {"as_of": day, "basis": "trade"}).json()["by_currency"]
    cash_settle = world["a"].get(f"{url}/cash/", {"as_of": day, "basis": "settle"}).json()["by_currency"]
    assert [(c["currency"], Decimal(c["amount"])) for c in cash_settle] == [("USD", Decimal(50000))]
    assert [(c["currency"], Decimal(c["amount"])) for c in cash_trade] == [("USD", Decimal(47500))]
    projected = world["a"].get(f"{url}/projected-cash/", {"as_of": day}).json()["projection"]
    assert [(r["value_date"], Decimal(r["balance"])) for r in projected] == [
        (day, Decimal(50000)), ("2026-11-19", Decimal(47500))]
    assert_error(world["a"].get(f"{url}/cash/", {"basis": "someday"}), 400, "validation_failed")
    assert_error(world["a"].get(f"{url}/positions/", {"as_of": "2026-13-01"}), 400, "validation_failed")


def test_valuation_is_in_base_currency_with_its_sources(world, ref):
    account, us = world["account_a"], world["us_a"]
    services.trade_book(account=account, custody_account=us, listing=ref.listings["AAPL"], side="buy",
                        quantity=Decimal(10), price=Decimal(250), trade_date=BUY_DAY)
    body = world["a"].get(f"/api/v1/accounts/{account.pk}/valuation/", {"on": PRICE_DAY.isoformat()}).json()
    assert body["base_currency"] == "GBP"
    kinds = sorted(line["kind"] for line in body["lines"])
    assert kinds == ["cash", "security"]
    assert Decimal(body["total_base"]) == sum(Decimal(line["base_value"]) for line in body["lines"])
    assert all(line["fx_source"] for line in body["lines"])


def test_account_reads_are_scoped_to_the_firm(world):
    account_a, account_b = world["account_a"], world["account_b"]
    assert ids(world["a"].get("/api/v1/accounts/")) == {account_a.pk}
    assert ids(world["b"].get("/api/v1/accounts/")) == {account_b.pk}
    custody_b = ids(world["b"].get("/api/v1/custody-accounts/"))
    assert custody_b and world["us_a"].pk not in custody_b
    for suffix in ("", "positions/", "cash/", "projected-cash/", "valuation/"):
        assert_error(world["b"].get(f"/api/v1/accounts/{account_a.pk}/{suffix}"), 404)
    assert_error(world["b"].post(f"/api/v1/accounts/{account_a.pk}/activate/"), 404)
    assert_error(world["b"].get(f"/api/v1/custody-accounts/{world['us_a'].pk}/"), 404)
    assert_error(world["b"].post("/api/v1/custody-accounts/", {"account": account_a.pk, "custodian": "IRVTUS3N",
                                                               "number": "X"}, format="json"), 404)
    officer = token_client(OfficerFactory())
    assert {account_a.pk, account_b.pk} <= ids(officer.get("/api/v1/accounts/"))


def _model_payload(code="FIRM-A-EQ", aapl="0.9"):
    return {"code": code, "name": "Firm A equity", "provider": "Firm A AM", "base_currency": "USD",
            "effective_from": "2026-11-01",
            "lines": [{"isin": "US0378331005", "weight": aapl},
                      {"cash_currency": "USD", "weight": str(Decimal(1) - Decimal(aapl))}]}


def test_a_firm_publishes_model_versions_that_other_firms_do_not_see(world):
    first = world["a"].post("/api/v1/models/", _model_payload(), format="json")
    assert first.status_code == 201, first.content
    assert first.json()["version"] == 1 and len(first.json()["targets"]) == 2
    second = world["a"].post("/api/v1/models/", _model_payload(aapl="0.8"), format="json")
    assert second.json()["version"] == 2
    assert ModelPortfolio.objects.get(pk=first.json()["id"]).status == "retired"
    assert {first.json()["id"], second.json()["id"]} <= ids(world["a"].get("/api/v1/models/"))
    assert not {first.json()["id"], second.json()["id"]} & ids(world["b"].get("/api/v1/models/"))
    assert_error(world["b"].get(f"/api/v1/models/{first.json()['id']}/"), 404)
    # firm B may not publish a version of firm A's model
    assert_error(world["b"].post("/api/v1/models/", _model_payload(), format="json"), 403, "permission_denied")
    assert ModelPortfolio.objects.filter(code="FIRM-A-EQ").count() == 2


def test_model_weights_must_sum_to_one_and_lines_name_one_thing(world):
    body = assert_error(world["a"].post("/api/v1/models/", {**_model_payload(), "lines": [
        {"isin": "US0378331005", "weight": "0.5"}]}, format="json"), 400, "validation_failed")
    assert "sum" in body["message"]
    body = assert_error(world["a"].post("/api/v1/models/", {**_model_payload(), "lines": [
        {"isin": "US0378331005", "cash_currency": "USD", "weight": "1"}]}, format="json"), 400, "validation_failed")
    assert "lines.0.non_field_errors" in body["detail"]


DELIVERY = (
    "model_code,model_name,provider,base_currency,effective_from,line_type,identifier,weight\n"
    "DLV-EQ,Delivered equity,Acme AM,USD,2026-12-01,instrument,US0378331005,0.95\n"
    "DLV-EQ,Delivered equity,Acme AM,USD,2026-12-01,cash,USD,0.05\n"
)


def test_a_model_delivery_csv_is_loaded_through_the_loader_and_a_bad_file_is_refused_whole(world):
    upload = SimpleUploadedFile("acme.csv", DELIVERY.encode(), content_type="text/csv")
    loaded = world["a"].post("/api/v1/models/delivery/", {"file": upload}, format="multipart")
    assert loaded.status_code == 201, loaded.content
    assert loaded.json() == [{"code": "DLV-EQ", "version": 1, "lines": 2, "created": True}]
    model = ModelPortfolio.objects.get(code="DLV-EQ")
    assert model.publisher == world["firm_a"] and model.source_file == "acme.csv"
    bad = DELIVERY.replace("0.05", "0.5").replace("DLV-EQ", "DLV-BAD")
    body = assert_error(world["a"].post("/api/v1/models/delivery/",
                                        {"file": SimpleUploadedFile("bad.csv", bad.encode())}, format="multipart"),
                        400, "model_file_invalid")
    assert "bad.csv" in body["message"]
    assert not ModelPortfolio.objects.filter(code="DLV-BAD").exists()
    assert_error(world["a"].post("/api/v1/models/delivery/", {}, format="multipart"), 400, "validation_failed")


def test_subscriptions_go_through_the_gate_and_are_scoped(world, custodians):
    model = world["a"].post("/api/v1/models/", _model_payload(), format="json").json()
    account_a = world["account_a"]
    created = world["a"].post("/api/v1/subscriptions/", {"account": account_a.pk, "model": model["id"],
                                                         "start_date": "2026-11-20"}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["status"] == "active" and created.json()["model"] == model["id"]
    assert created.json()["id"] in ids(world["a"].get("/api/v1/subscriptions/", {"account": account_a.pk}))
    assert created.json()["id"] not in ids(world["b"].get("/api/v1/subscriptions/"))
    assert_error(world["b"].get(f"/api/v1/subscriptions/{created.json()['id']}/"), 404)
    # another firm's account, or another firm's private model: not found
    assert_error(world["b"].post("/api/v1/subscriptions/", {"account": account_a.pk, "model": model["id"]},
                                 format="json"), 404)
    assert_error(world["b"].post("/api/v1/subscriptions/", {"account": world["account_b"].pk,
                                                            "model": model["id"]}, format="json"), 404)
    # a pending account: the gate refuses
    pending, _ = _open(world["firm_a"], world["owner_a"], custodians, world["advisor_a"], "A-7", activate=False)
    assert_error(world["a"].post("/api/v1/subscriptions/", {"account": pending.pk, "model": model["id"]},
                                 format="json"), 409, "account_not_active")
    assert_error(world["a"].post("/api/v1/subscriptions/", {"account": "x"}, format="json"), 400,
                 "validation_failed")
    assert ModelSubscription.objects.count() == 1


def test_model_file_errors_never_show_a_server_path(world):
    """Issue 15, finding 7: errors named the server's temporary file; they name the upload only."""
    import json
    import tempfile

    bad = DELIVERY.replace("0.05", "0.5").replace("DLV-EQ", "DLV-BAD")
    for content in (bad.encode(), b"\xff\xfe not utf-8", b"model_code\n" + b"x" * 200_000):
        response = world["a"].post("/api/v1/models/delivery/", {"file": SimpleUploadedFile("bad.csv", content)},
                                   format="multipart")
        assert response.status_code == 400, response.content
        text = json.dumps(response.json())
        assert tempfile.gettempdir() not in text and "/tmp" not in text and "bad.csv" in text, text


def test_a_deposit_reference_longer_than_the_column_is_a_400_naming_it(world):
    """Issue 15, finding 6: external_ref over 100 characters was a 500."""
    response = world["a"].post(f"/api/v1/accounts/{world['account_a'].pk}/deposits/", {
        "custody_account": world["us_a"].pk, "currency": "USD", "amount": "10.00", "value_date": "2026-11-02",
        "external_ref": "R" * 101}, format="json")
    body = assert_error(response, 400, "validation_failed")
    assert list(body["detail"]) == ["external_ref"]
