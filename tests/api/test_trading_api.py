"""The partner API for trading: orders (filters, approve, reject, cancel, bulk approve), blocks
and fills (a block shared with another firm hides its totals), execution-report import, and
rebalance requests (dry run, firm scope, Idempotency-Key)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.models import CashBalance, ModelPortfolio, ModelSubscription, ModelTarget, Position
from onboarding.models import AuditEvent
from tests.factories import FirmFactory, OfficerFactory, UserFactory
from tests.trading.factories import AccountFactory, CustodianFactory, CustodyAccountFactory, OrderFactory
from trading.models import Block, Broker, Fill, Order, RebalanceRun
from trading.reference.demo import reference_demo
from trading.services import brokers_load

from .conftest import assert_error, ids, token_client

pytestmark = pytest.mark.django_db
TRADE = dt.date(2026, 11, 24)


@pytest.fixture
def desk(db):
    ref = reference_demo()
    brokers_load()
    north = CustodianFactory(name="NORTHBANK", bic="NRTHGB2L")
    out = {"ref": ref, "north": north}
    for key in ("a", "b"):
        firm = FirmFactory(home_jurisdiction="GB")
        account = AccountFactory(firm=firm)
        custody = CustodyAccountFactory(account=account, custodian=north)
        custody.markets.set([ref.markets[m] for m in ("XNYS", "XNAS", "XLON")])
        out[key] = {"firm": firm, "account": account, "custody": custody,
                    "client": token_client(UserFactory(firm=firm, role="operations"))}
    return out


def _order(side, account, listing, **kw):
    """Routed as a rebalance routes: a custody account covering the market and a broker reaching it."""
    broker = next(b for b in Broker.objects.order_by("priority", "code") if listing.market.mic in b.markets)
    return OrderFactory(account=account, listing=listing, custody_account=account.custody_accounts.first(),
                        broker=broker, side=side, **kw)


@pytest.fixture
def orders(desk):
    aapl, vod = desk["ref"].listings["AAPL"], desk["ref"].listings["VOD.L"]
    return {"a_aapl": _order("buy", desk["a"]["account"], aapl),
            "a_vod": _order("sell", desk["a"]["account"], vod, currency="GBP"),
            "b_aapl": _order("buy", desk["b"]["account"], aapl)}


def test_orders_are_listed_filtered_and_scoped_to_the_firm(desk, orders):
    a, b = desk["a"]["client"], desk["b"]["client"]
    assert ids(a.get("/api/v1/orders/")) == {orders["a_aapl"].pk, orders["a_vod"].pk}
    assert ids(b.get("/api/v1/orders/")) == {orders["b_aapl"].pk}
    assert ids(a.get("/api/v1/orders/", {"market": "XLON"})) == {orders["a_vod"].pk}
    assert ids(a.get("/api/v1/orders/", {"status": "approved"})) == set()
    assert ids(a.get("/api/v1/orders/", {"account": desk["a"]["account"].pk, "side": "buy"})) == {orders["a_aapl"].pk}
    detail = a.get(f"/api/v1/orders/{orders['a_aapl'].pk}/").json()
    assert detail["ticker"] == "AAPL" and detail["market"] == "XNAS" and detail["status"] == "proposed"
    assert_error(b.get(f"/api/v1/orders/{orders['a_aapl'].pk}/"), 404, "not_found")
    assert_error(a.get("/api/v1/orders/", {"status": "sideways"}), 400, "validation_failed")
    officer = token_client(OfficerFactory())
    assert {o.pk for o in orders.values()} <= ids(officer.get("/api/v1/orders/"))


def test_approve_reject_and_cancel_go_through_the_services_and_are_audited(desk, orders):
    a, b = desk["a"]["client"], desk["b"]["client"]
    order = orders["a_aapl"]
    assert_error(b.post(f"/api/v1/orders/{order.pk}/approve/"), 404)
    approved = a.post(f"/api/v1/orders/{order.pk}/approve/")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert AuditEvent.objects.filter(subject_id=str(order.pk), event_type="order.approved").exists()
    body = assert_error(a.post(f"/api/v1/orders/{order.pk}/approve/"), 409, "invalid_transition")
    assert body["detail"] is None and "cannot approve from approved" in body["message"]
    cancelled = a.post(f"/api/v1/orders/{order.pk}/cancel/", {"reason": "client call"}, format="json")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    rejected = a.post(f"/api/v1/orders/{orders['a_vod'].pk}/reject/", {"reason": "too small"}, format="json")
    assert rejected.json()["status"] == "rejected"
    assert_error(a.post(f"/api/v1/orders/{orders['a_vod'].pk}/cancel/", {"reason": 5 * "x" * 200}, format="json"),
                 400, "validation_failed")


def test_bulk_approval_is_all_or_nothing_and_never_touches_another_firms_orders(desk, orders):
    a = desk["a"]["client"]
    wanted = [orders["a_aapl"].pk, orders["b_aapl"].pk]
    body = assert_error(a.post("/api/v1/orders/bulk-approve/", {"orders": wanted}, format="json"), 404)
    assert body["detail"] == {"orders": [str(orders["b_aapl"].pk)]}
    assert set(Order.objects.values_list("status", flat=True)) == {"proposed"}
    done = a.post("/api/v1/orders/bulk-approve/", {"orders": [orders["a_aapl"].pk, orders["a_vod"].pk]},
                  format="json")
    assert done.json() == {"approved": 2}
    assert_error(a.post("/api/v1/orders/bulk-approve/", {"orders": []}, format="json"), 400, "validation_failed")


@pytest.fixture
def blocks(desk):
    """BLK-SHARED holds an order of each firm; BLK-A only firm A's."""
    aapl = desk["ref"].listings["AAPL"]
    broker = Broker.objects.get(code="ATLAS")
    now = timezone.now()
    shared = Block.objects.create(reference="BLK-SHARED", listing=aapl, broker=broker, side="buy", trade_date=TRADE,
                                  currency="USD", quantity=Decimal(200), released_at=now)
    own = Block.objects.create(reference="BLK-A", listing=aapl, broker=broker, side="sell", trade_date=TRADE,
                               currency="USD", quantity=Decimal(50), released_at=now)
    for key, block in (("a", shared), ("b", shared), ("a", own)):
        _order(block.side, desk[key]["account"], aapl, block=block, status="released",
               quantity=Decimal(100 if block is shared else 50))
    return {"shared": shared, "own": own}


def test_blocks_show_totals_only_when_every_order_is_the_firms(desk, blocks):
    a, b = desk["a"]["client"], desk["b"]["client"]
    rows = {row["reference"]: row for row in a.get("/api/v1/blocks/").json()["results"]}
    assert set(rows) == {"BLK-SHARED", "BLK-A"}
    assert rows["BLK-SHARED"]["shared"] is True and rows["BLK-SHARED"]["quantity"] is None
    assert rows["BLK-A"]["shared"] is False and Decimal(rows["BLK-A"]["quantity"]) == 50
    assert ids(b.get("/api/v1/blocks/")) == {blocks["shared"].pk}
    assert_error(b.get(f"/api/v1/blocks/{blocks['own'].pk}/"), 404)
    officer = token_client(OfficerFactory())
    seen = {row["reference"]: row for row in officer.get("/api/v1/blocks/").json()["results"]}
    assert Decimal(seen["BLK-SHARED"]["quantity"]) == 200


def _report(*rows):
    lines = ["exec_id,cl_ord_id,last_qty,last_px,transact_time,venue"]
    lines += [",".join(r) for r in rows]
    return SimpleUploadedFile("exec.csv", ("\n".join(lines) + "\n").encode(), content_type="text/csv")


def test_execution_reports_are_imported_for_the_firms_own_blocks_only(desk, blocks):
    a, b = desk["a"]["client"], desk["b"]["client"]
    ok = a.post("/api/v1/fills/import/", {"file": _report(("E1", "BLK-A", "50", "251.5", "2026-11-24T15:00:00+00:00",
                                                           "XNAS"))}, format="multipart")
    assert ok.status_code == 201, ok.content
    assert ok.json() == {"file": "exec.csv", "fills": 1}
    assert Block.objects.get(pk=blocks["own"].pk).status == "filled"
    fill = Fill.objects.get(exec_id="E1")
    assert ids(a.get("/api/v1/fills/")) == {fill.pk}
    assert ids(b.get("/api/v1/fills/")) == set()
    assert_error(b.get(f"/api/v1/fills/{fill.pk}/"), 404)
    shared = a.post("/api/v1/fills/import/", {"file": _report(("E2", "BLK-SHARED", "10", "250",
                                                               "2026-11-24T15:00:00+00:00", "XNAS"))},
                    format="multipart")
    assert_error(shared, 403, "permission_denied")
    bad = a.post("/api/v1/fills/import/", {"file": _report(("E3", "BLK-A", "-1", "250", "2026-11-24T15:00:00+00:00",
                                                            "XNAS"))}, format="multipart")
    body = assert_error(bad, 400, "execution_import_rejected")
    assert list(body["detail"]) == ["lines.2.last_qty"] and "exec.csv" in body["detail"]["lines.2.last_qty"][0]
    assert Fill.objects.count() == 1
    officer = token_client(OfficerFactory())
    done = officer.post("/api/v1/fills/import/", {"file": _report(("E4", "BLK-SHARED", "200", "250",
                                                                  "2026-11-24T15:00:00+00:00", "XNAS"))},
                        format="multipart")
    assert done.status_code == 201
    shared_fill = a.get("/api/v1/fills/", {"block": blocks["shared"].pk}).json()["results"]
    assert len(shared_fill) == 1 and shared_fill[0]["quantity"] is None and shared_fill[0]["price"]


@pytest.fixture
def subscribed(desk, monkeypatch):
    ref = desk["ref"]
    model = ModelPortfolio.objects.create(provider="Meridian AM", code="GLOBAL", version=1, name="Global equity",
                                          base_currency="GBP", effective_from=dt.date(2026, 1, 1))
    for key, w in (("AAPL", "0.45"), ("HSBA", "0.45")):
        ModelTarget.objects.create(model=model, instrument=ref.instruments[key], weight=Decimal(w))
    ModelTarget.objects.create(model=model, cash_currency="GBP", weight=Decimal("0.10"))
    for key in ("a", "b"):
        account, custody = desk[key]["account"], desk[key]["custody"]
        ModelSubscription.objects.create(account=account, model=model, start_date=dt.date(2026, 1, 1))
        Position.objects.create(account=account, custody_account=custody, instrument=ref.instruments["AAPL"],
                                basis="trade", quantity=Decimal(100), local_currency="USD", as_of=TRADE)
        CashBalance.objects.create(account=account, custody_account=custody, currency="GBP", basis="settle",
                                   amount=Decimal(20000), as_of=TRADE)
    return model


def test_a_rebalance_request_writes_orders_for_the_firms_accounts_only(desk, subscribed):
    a = desk["a"]["client"]
    response = a.post("/api/v1/rebalance-runs/", {"trade_date": TRADE.isoformat()}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["stats"]["accounts"] == 1 and body["stats"]["orders"] > 0
    assert body["run"]["firm"] == desk["a"]["firm"].pk and body["run"]["status"] == "completed"
    assert set(Order.objects.values_list("account__firm", flat=True)) == {desk["a"]["firm"].pk}
    assert body["run"]["id"] in ids(a.get("/api/v1/rebalance-runs/"))
    assert ids(desk["b"]["client"].get("/api/v1/rebalance-runs/")) == set()
    assert_error(desk["b"]["client"].get(f"/api/v1/rebalance-runs/{body['run']['id']}/"), 404)


def test_a_dry_run_proposes_nothing_and_a_retry_with_the_same_key_runs_once(desk, subscribed):
    a = desk["a"]["client"]
    payload = {"account": desk["a"]["account"].pk, "trade_date": TRADE.isoformat(), "dry_run": True}
    first = a.post("/api/v1/rebalance-runs/", payload, format="json", HTTP_IDEMPOTENCY_KEY="rb-1")
    again = a.post("/api/v1/rebalance-runs/", payload, format="json", HTTP_IDEMPOTENCY_KEY="rb-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert first.json()["stats"]["dry_run"] is True and first.json()["stats"]["orders"] > 0
    assert Order.objects.count() == 0 and RebalanceRun.objects.count() == 1


def test_a_rebalance_of_another_firms_account_or_bad_input_is_refused(desk, subscribed):
    a = desk["a"]["client"]
    assert_error(a.post("/api/v1/rebalance-runs/", {"account": desk["b"]["account"].pk}, format="json"), 404)
    body = assert_error(a.post("/api/v1/rebalance-runs/", {"account": desk["a"]["account"].pk,
                                                          "model": subscribed.pk}, format="json"),
                        400, "validation_failed")
    assert "account or model" in str(body["detail"])
    assert_error(a.post("/api/v1/rebalance-runs/", {"trade_date": "tomorrow"}, format="json"), 400)
    officer = token_client(OfficerFactory())
    assert_error(officer.post("/api/v1/rebalance-runs/", {}, format="json"), 403, "permission_denied")
    assert RebalanceRun.objects.count() == 0


def test_a_large_book_is_queued_to_the_chunk_tasks_after_commit(desk, subscribed, monkeypatch,
                                                                 django_capture_on_commit_callbacks):
    monkeypatch.setattr("trading.services.SYNC_ACCOUNT_LIMIT", 0)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = desk["a"]["client"].post("/api/v1/rebalance-runs/", {"trade_date": TRADE.isoformat()},
                                            format="json")
    assert response.status_code == 202, response.content
    assert response.json()["stats"] == {"accounts": 1, "queued": True}
    assert len(callbacks) == 1
    run = RebalanceRun.objects.get(pk=response.json()["run"]["id"])
    assert run.firm == desk["a"]["firm"] and "chunk_0" in run.stats
    assert Order.objects.exists()
    assert set(Order.objects.values_list("account__firm", flat=True)) == {desk["a"]["firm"].pk}
