"""A real Celery worker on Redis is SIGKILLed in the middle of a task; the task comes back.

Each test stops the task at a known point inside its write transaction (it waits on a row lock
the test holds from a side connection), kills the pool process running it, and checks that:
nothing of the interrupted attempt is visible, the message is redelivered (acks_late +
reject_on_worker_lost in config), the redelivered task completes once the lock is released,
the final state equals a clean single run, and running the same task again changes nothing.
"""
from __future__ import annotations

import datetime as dt

import pytest

from tests.reliability.faults import CommitGate, RowLock, active_tasks, kill_children_running, wait_until
from tests.trading.test_rebalance_service import subscribed  # noqa: F401 - fixture
from trading import services as trading_services

pytestmark = [pytest.mark.celery_worker, pytest.mark.postgres]
TRADE = dt.date(2026, 11, 24)


@pytest.fixture
def worker_env(tmp_path, monkeypatch):
    """The worker shares this test's keys (to read encrypted fields) and writes media to tmp."""
    from django.conf import settings

    # an earlier worker test closed the connection pools that app.control's mailbox still holds
    from kombu import pools

    from config.celery_app import app

    pools.reset()
    app.__dict__.pop("control", None)
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None
    monkeypatch.setenv("SECRET_KEY", settings.SECRET_KEY)
    monkeypatch.setenv("MEDIA_ROOT", str(tmp_path / "worker-media"))
    return tmp_path / "worker-media"


@pytest.fixture
def worker(worker_env, celery_worker_process):
    return celery_worker_process


# --- (a) rebalance chunk ------------------------------------------------------------------------


def _rebalance_setup(desk):
    from trading.rebalancing.scope import RebalanceScope

    scope = RebalanceScope(trade_date=TRADE, firm=desk["firm"].pk)
    clean = trading_services.rebalance_run(scope=scope, key="clean", dry_run=True).as_dict()
    assert clean["orders"] > 0
    ids = sorted(a.pk for a, _, _ in desk["accounts"])
    return scope, clean, ["killed", scope.chunk(ids[0], ids[-1]).as_json(), 0, False]


def _assert_rebalanced_once(worker, clean, args):
    from trading.models import FxOrder, Order, RebalanceRun, RunChunk

    run = RebalanceRun.objects.get(key="killed")
    assert Order.objects.filter(run=run).count() == Order.objects.count() == clean["orders"]
    assert FxOrder.objects.filter(run=run).count() == FxOrder.objects.count() == clean["fx_orders"]
    assert RunChunk.objects.filter(run=run).count() == 1
    keys = list(Order.objects.values_list("account_id", "listing_id", "side"))
    assert len(keys) == len(set(keys)), "an order was written twice"
    again = worker.send_task("trading.tasks.rebalance_chunk", args=args).get(timeout=60)
    assert again == {"run": run.pk, "chunk": 0, "skipped": True}
    assert Order.objects.count() == clean["orders"]


def test_a_rebalance_chunk_killed_inside_its_write_transaction_is_redelivered_and_writes_once(
        worker_env, desk, subscribed, active, worker):  # noqa: F811
    from trading.models import FxOrder, Order, RebalanceRun, RunChunk

    scope, clean, args = _rebalance_setup(desk)
    run = RebalanceRun.objects.create(key="killed", trade_date=TRADE, scope=scope.as_json())
    lock = RowLock(RebalanceRun, run.pk)  # orders and chunk written, then the run row is locked: waits
    try:
        result = worker.send_task("trading.tasks.rebalance_chunk", args=args)
        (waiting,) = lock.wait_for_waiters(1)
        assert "FOR UPDATE" in waiting["query"]
        kill_children_running(worker, "trading.tasks.rebalance_chunk")
        assert not Order.objects.exists() and not FxOrder.objects.exists() and not RunChunk.objects.exists()
        lock.wait_for_waiters(2)  # the killed attempt's backend and the redelivered task
    finally:
        lock.release()
    stats = result.get(timeout=90)  # the killed attempt rolls back; the redelivered one does the work
    assert (stats["orders"], stats["fx_orders"]) == (clean["orders"], clean["fx_orders"])
    _assert_rebalanced_once(worker, clean, args)


def test_a_rebalance_chunk_killed_while_its_commit_is_in_flight_is_redelivered_and_skips(
        worker_env, desk, subscribed, active, worker):  # noqa: F811
    from trading.models import Order, RunChunk

    _, clean, args = _rebalance_setup(desk)
    gate = CommitGate(RunChunk._meta.db_table)  # the chunk's COMMIT waits on the test's advisory lock
    try:
        result = worker.send_task("trading.tasks.rebalance_chunk", args=args)
        (waiting,) = gate.wait_for_waiters(1)
        assert waiting["query"] == "COMMIT"  # PostgreSQL has the COMMIT; it lands once the lock goes
        kill_children_running(worker, "trading.tasks.rebalance_chunk")
        assert not Order.objects.exists()
        gate.wait_for_waiters(2)  # the redelivered task waits on the killed attempt's chunk row
        gate.release()
        # the killed attempt committed after all: the redelivered task must see its chunk done
        assert result.get(timeout=90)["skipped"] is True
    finally:
        gate.drop()
    _assert_rebalanced_once(worker, clean, args)


# --- (b) reconciliation daily run ---------------------------------------------------------------


def test_a_reconciliation_killed_mid_run_is_redelivered_and_the_day_reconciles_once(
        worker_env, tmp_path, worker):
    from decimal import Decimal

    from tests.trading.reconciliation.builders import semt002
    from tests.trading.reconciliation.factories import BookPositionFactory, IdentifierFactory
    from tests.trading.reconciliation.test_services import APPLE, MSFT, VOD, holdings
    from trading.reconciliation import services as recon
    from trading.reconciliation.models import Break, CustodianFile, DailyRun, ReconRun, StatementLine

    for n, isin in enumerate((APPLE, MSFT, VOD), start=1):
        IdentifierFactory(kind="isin", value=isin, instrument_id=n)
    BookPositionFactory(instrument_id=1, quantity=Decimal(1000), price=Decimal("185.64"))
    BookPositionFactory(instrument_id=2, quantity=Decimal(50), price=Decimal("397.58"))
    BookPositionFactory(instrument_id=3, quantity=Decimal(2500), price=Decimal("0.7152"), price_currency="GBP",
                        fx_rate=Decimal("1.27"))
    inbox = worker_env / "custodian_inbox" / "2024-01-31" / "GLOBALCUST"
    inbox.mkdir(parents=True)
    (inbox / "holdings.xml").write_bytes(semt002(holdings=holdings(apple="990")))

    daily = recon.daily_run_start(as_of=dt.date(2024, 1, 31))
    lock = RowLock(DailyRun, daily.pk)  # the ReconRun INSERT (after file and lines) waits here
    try:
        worker.send_task("reconciliation.daily_run", args=["2024-01-31"]).get(timeout=60)
        (waiting,) = lock.wait_for_waiters(1)
        assert waiting["query"] == "COMMIT"  # file, lines, run and breaks written, not committed
        kill_children_running(worker, "reconciliation.reconcile_custodian_file")
        assert not CustodianFile.objects.exists() and not StatementLine.objects.exists()
        assert not ReconRun.objects.exists() and not Break.objects.exists()
        lock.wait_for_waiters(2)
    finally:
        lock.release()
    wait_until(lambda: DailyRun.objects.get(pk=daily.pk).status == "completed", timeout=90,
               what="the daily run to finish after redelivery")

    assert CustodianFile.objects.count() == 1
    (run,) = ReconRun.objects.filter(daily_run=daily)
    assert run.status == "completed" and run.stats["breaks"] == 1
    assert StatementLine.objects.filter(file=run.file).count() == 3
    brk = Break.objects.get()
    assert brk.occurrences == 1

    # the same day again: same bytes, nothing new
    worker.send_task("reconciliation.daily_run", args=["2024-01-31"]).get(timeout=60)
    wait_until(lambda: not active_tasks(worker, "reconciliation.reconcile_custodian_file")
               and not active_tasks(worker, "reconciliation.finish_daily_run"), timeout=60, what="the rerun")
    assert CustodianFile.objects.count() == 1 and ReconRun.objects.count() == 1
    assert Break.objects.get().occurrences == 1


# --- (c) screening sweep after a list update ----------------------------------------------------


def test_a_screening_sweep_killed_mid_chunk_is_redelivered_and_screens_each_party_once(
        worker_env, tmp_path, monkeypatch, worker):
    from compliance import services as compliance
    from compliance.models import ScreeningAlert, ScreeningRun
    from compliance.tasks import rescreen_book
    from onboarding.models import CaseKind, OnboardingCase, Relationship
    from tests.compliance.conftest import SDN, write_ofac
    from tests.factories import FirmFactory, PersonFactory

    with monkeypatch.context() as m:  # the first list: no sweep (there is no book yet)
        m.setattr(rescreen_book, "delay", lambda *a, **k: None)
        compliance.watchlist_import(source="ofac", paths=write_ofac(tmp_path / "v1"))
    firm = FirmFactory(home_jurisdiction="GB")
    parties = [PersonFactory(firm=firm, given_names=g, family_name=f, date_of_birth=None)
               for g, f in (("Pyotr", "Ivanov"), ("Alexei", "Smirnov"), ("Jane", "Austen"))]
    relationships = [Relationship.objects.create(firm=firm, party=party) for party in parties]
    Relationship.objects.update(state="active")  # a new hit opens an event review on an active one
    sdn = SDN + ('9003,"IVANOV, Pyotr","individual","RUSSIA-EO14024",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"DOB 1960."\n'
                 '9004,"SMIRNOV, Alexei","individual","RUSSIA-EO14024",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"DOB 1962."\n')

    # the second party's screening (run and alert written) waits to open its review; the first is done
    lock = RowLock(Relationship, relationships[1].pk)
    try:
        snapshot = compliance.watchlist_import(source="ofac", paths=write_ofac(tmp_path / "v2", sdn=sdn))
        (waiting,) = lock.wait_for_waiters(1)
        assert "FOR UPDATE" in waiting["query"]
        kill_children_running(worker, "compliance.tasks.rescreen_chunk")
        lock.wait_for_waiters(2)
    finally:
        lock.release()
    trigger = f"list_update:ofac:v{snapshot.version}"
    wait_until(lambda: ScreeningRun.objects.filter(party=parties[2], trigger=trigger).exists()
               and not active_tasks(worker, "compliance.tasks.rescreen_chunk"), timeout=90,
               what="the redelivered sweep to reach the last party")

    alerts = sorted(ScreeningAlert.objects.values_list("party_id", "entry_ref"))
    assert alerts == [(parties[0].pk, "9003"), (parties[1].pk, "9004")]
    runs = sorted(ScreeningRun.objects.filter(trigger=trigger).values_list("party_id", flat=True))
    reviews = sorted(OnboardingCase.objects.filter(kind=CaseKind.EVENT_REVIEW).values_list("party_id", flat=True))
    assert reviews == [parties[0].pk, parties[1].pk]
    assert runs == [p.pk for p in parties], "each party is screened exactly once for this list version"

    # the same chunk again: nothing new
    worker.send_task("compliance.tasks.rescreen_chunk", args=[snapshot.pk, [p.pk for p in parties]]).get(timeout=60)
    assert ScreeningAlert.objects.count() == 2
    assert ScreeningRun.objects.filter(trigger=trigger).count() == 3

