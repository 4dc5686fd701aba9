"""The rebalance service and command: bulk load from the books, engine, routed orders written."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import CashBalance, ModelPortfolio, ModelSubscription, ModelTarget, Position
from onboarding.models import AuditEvent
from trading import services
from trading.models import FxOrder, Order, RebalanceRun
from trading.rebalancing.scope import RebalanceScope
from trading.tasks import rebalance_chunk

TRADE = dt.date(2026, 11, 24)


@pytest.fixture
def subscribed(desk):
    ref = desk["ref"]
    model = ModelPortfolio.objects.create(provider="Meridian AM", code="GLOBAL", version=1, name="Global equity",
                                          base_currency="GBP", effective_from=dt.date(2026, 1, 1))
    for key, w in (("AAPL", "0.30"), ("TOYOTA", "0.30"), ("HSBA", "0.30")):
        ModelTarget.objects.create(model=model, instrument=ref.instruments[key], weight=Decimal(w))
    ModelTarget.objects.create(model=model, cash_currency="GBP", weight=Decimal("0.10"))
    for account, ca_n, ca_h in desk["accounts"]:
        ModelSubscription.objects.create(account=account, model=model, start_date=dt.date(2026, 1, 1))
        Position.objects.create(account=account, custody_account=ca_n, instrument=ref.instruments["AAPL"],
                                basis="trade", quantity=Decimal(100), local_currency="USD", as_of=TRADE)
        Position.objects.create(account=account, custody_account=ca_h, instrument=ref.instruments["TOYOTA"],
                                basis="trade", quantity=Decimal(1000), local_currency="JPY", as_of=TRADE)
        CashBalance.objects.create(account=account, custody_account=ca_n, currency="GBP", basis="settle",
                                   amount=Decimal(20000), as_of=TRADE)
    return model


@pytest.mark.django_db
def test_rebalance_writes_routed_proposed_orders_and_fx_for_the_firm(desk, subscribed):
    result = services.rebalance_run(scope=RebalanceScope(trade_date=TRADE, firm=desk["firm"].pk), key="t1")
    stats = result.as_dict()
    assert stats["accounts"] == 2 and stats["holdings"] == 4
    assert stats["orders"] == Order.objects.count() > 0
    assert stats["unrouted"] == 0
    by_ticker = {}
    for o in Order.objects.select_related("listing", "broker", "custody_account__custodian"):
        assert o.status == "proposed"
        by_ticker.setdefault(o.listing.ticker, set()).add((o.side, o.broker.code, o.custody_account.custodian.name))
    # AAPL ~ 21.5k GBP of ~58k: 37% > 30% + band -> sell at NORTHBANK via ATLAS; HSBC bought in London
    assert by_ticker["AAPL"] == {("sell", "ATLAS", "NORTHBANK")}
    assert by_ticker["HSBA"] == {("buy", "ATLAS", "NORTHBANK")}
    sides = list(Order.objects.order_by("id").values_list("side", flat=True))
    assert FxOrder.objects.filter(sell_currency="USD", buy_currency="GBP").count() == 2
    run = RebalanceRun.objects.get(key="t1")
    assert run.status == "completed"
    assert AuditEvent.objects.filter(subject_type="trading.rebalancerun", subject_id=str(run.pk),
                                     event_type="rebalance.proposed").exists()
    assert sides == sorted(sides, key=lambda s: s != "sell")  # sells before buys


@pytest.mark.django_db
def test_a_dry_run_writes_no_orders(desk, subscribed):
    scope = RebalanceScope(trade_date=TRADE, accounts=(desk["accounts"][0][0].pk,))
    stats = services.rebalance_run(scope=scope, key="dry", dry_run=True).as_dict()
    assert stats["accounts"] == 1 and stats["orders"] > 0
    assert not Order.objects.exists() and not FxOrder.objects.exists()


@pytest.mark.django_db
def test_a_chunk_task_run_twice_writes_its_orders_once(desk, subscribed):
    ids = sorted(a.pk for a, _, _ in desk["accounts"])
    scope = RebalanceScope(trade_date=TRADE).chunk(ids[0], ids[-1]).as_json()
    first = rebalance_chunk.apply(args=("chunked", scope, 0)).get()
    again = rebalance_chunk.apply(args=("chunked", scope, 0)).get()
    assert first["orders"] == Order.objects.count() > 0
    assert again == {"run": first["run"], "chunk": 0, "skipped": True}


@pytest.mark.django_db
def test_the_command_prints_json(desk, subscribed):
    out = StringIO()
    call_command("rebalance", "--model", str(subscribed.pk), "--dry-run", "--json", "--trade-date", "2026-11-24",
                 stdout=out)
    data = json.loads(out.getvalue())
    assert data["accounts"] == 2 and data["dry_run"] is True and data["orders"] > 0


@pytest.mark.django_db
def test_the_book_is_split_into_chunks_that_together_cover_every_account(desk, subscribed):
    from trading.tasks import rebalance_in_chunks

    results = rebalance_in_chunks(key="split", scope=RebalanceScope(trade_date=TRADE), chunk_size=1)
    stats = [r.get() for r in results]
    assert [s["accounts"] for s in stats] == [1, 1]
    assert set(Order.objects.values_list("account_id", flat=True)) == {a.pk for a, _, _ in desk["accounts"]}
    run = RebalanceRun.objects.get(key="split")
    assert run.chunks.count() == 2
    assert run.scope == {"trade_date": "2026-11-24", "firm": None, "accounts": None, "model": None, "sleeve": None,
                         "id_range": None}  # the typed scope, never SQL


@pytest.mark.django_db
def test_account_overrides_restrict_substitute_and_set_cash_targets(desk, subscribed):
    from accounts.models import ModelOverride

    ref = desk["ref"]
    account = desk["accounts"][0][0]
    sub = ModelSubscription.objects.get(account=account)
    ModelOverride.objects.create(subscription=sub, kind="restricted", instrument=ref.instruments["AAPL"],
                                 sell_if_held=False, reason="client owns Apple stock elsewhere")
    ModelOverride.objects.create(subscription=sub, kind="substitute", instrument=ref.instruments["HSBA"],
                                 substitute=ref.instruments["VOD"], reason="client preference")
    result = services.rebalance_run(scope=RebalanceScope(trade_date=TRADE, accounts=(account.pk,)), key="ovr")
    trades = {(o.listing.instrument_id, o.side) for o in Order.objects.select_related("listing")}
    assert (ref.instruments["VOD"].pk, "buy") in trades
    assert not any(i in (ref.instruments["AAPL"].pk, ref.instruments["HSBA"].pk) for i, _ in trades)
    book = result.book
    assert book.accounts.frozen.sum() == 1 and book.accounts.restricted.sum() == 1


@pytest.mark.django_db
def test_a_scope_without_accounts_proposes_nothing(desk, subscribed):
    out = StringIO()
    call_command("rebalance", "--account", "999999999", "--json", "--trade-date", "2026-11-24", stdout=out)
    data = json.loads(out.getvalue())
    assert (data["accounts"], data["orders"]) == (0, 0)
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_a_firm_with_no_active_accounts_rebalances_to_nothing_without_an_error(desk, subscribed):
    from tests.factories import FirmFactory

    scope = RebalanceScope(trade_date=TRADE, firm=FirmFactory().pk)
    stats = services.rebalance_run(scope=scope, key="empty-firm").as_dict()
    assert stats["accounts"] == 0 and stats["orders"] == 0
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_an_accounts_hedge_ratio_brings_fx_forwards_for_its_foreign_exposure(desk, subscribed):
    from accounts.models import Account

    hedged, unhedged = (a for a, _n, _h in desk["accounts"])
    Account.objects.filter(pk=hedged.pk).update(hedge_ratio=Decimal("0.5"))
    stats = services.rebalance_run(scope=RebalanceScope(trade_date=TRADE, firm=desk["firm"].pk), key="hedge").as_dict()
    forwards = FxOrder.objects.filter(kind="forward")
    assert stats["forwards"] == forwards.count() > 0
    assert set(forwards.values_list("account_id", flat=True)) == {hedged.pk}
    assert {f.buy_currency for f in forwards} == {"GBP"}  # foreign sold forward against the base
    assert {f.sell_currency for f in forwards} <= {"USD", "JPY"}


@pytest.mark.django_db
def test_a_hedge_ratio_outside_zero_to_one_is_refused_by_the_database(desk):
    from django.db import IntegrityError, transaction

    from accounts.models import Account

    account = desk["accounts"][0][0]
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=account.pk).update(hedge_ratio=Decimal("1.5"))


@pytest.mark.django_db
def test_the_counts_say_what_was_not_routed_and_why(desk, subscribed):
    # The first account loses its London and Hong Kong cover (both of HSBC's lines: it stays on
    # its primary line, London, which nothing settles), and no broker reaches Nasdaq any more
    # (every broker reaching XNAS is deactivated), where Apple is sold.
    from trading.models import Broker

    account, ca_n, ca_h = desk["accounts"][0]
    ca_n.markets.remove(desk["ref"].markets["XLON"])
    ca_h.markets.remove(desk["ref"].markets["XHKG"])
    nasdaq = [b.pk for b in Broker.objects.all() if "XNAS" in b.markets]
    Broker.objects.filter(pk__in=nasdaq).update(is_active=False)
    stats = services.rebalance_run(scope=RebalanceScope(trade_date=TRADE, firm=desk["firm"].pk),
                                   key="t-unrouted").as_dict()
    missing_custody = Order.objects.filter(custody_account__isnull=True)
    missing_broker = Order.objects.filter(custody_account__isnull=False, broker__isnull=True)
    assert stats["not_routed"]["no_custody_account"] == {"XLON": missing_custody.count()} != {"XLON": 0}
    assert set(missing_custody.values_list("account_id", flat=True)) == {account.pk}
    assert missing_broker.exists()  # Apple is sold in both accounts
    expected: dict[str, int] = {}
    for mic, name in missing_broker.values_list("listing__market__mic", "custody_account__custodian__name"):
        expected[f"{mic} at {name}"] = expected.get(f"{mic} at {name}", 0) + 1
    assert stats["not_routed"]["no_broker"] == expected and expected["XNAS at NORTHBANK"] == 2
    assert stats["unrouted"] == missing_custody.count() + missing_broker.count()


@pytest.mark.django_db
def test_an_ineligible_ordinary_hands_its_weight_to_its_adr_and_a_held_one_is_sold(desk, subscribed):
    """Toyota's ordinary becomes professional-only; the desk's accounts are retail, so its 30% goes
    to the Toyota ADR (TM, one ADR for ten ordinaries) and the 1,000 ordinaries held are sold.
    Subscribing does not turn the ineligibility into a client restriction."""
    from accounts.models import ModelOverride

    ref = desk["ref"]
    toyota = ref.instruments["TOYOTA"]
    toyota.eligibility_tags = ["professional_only"]
    toyota.save(update_fields=["eligibility_tags"])
    assert {a.investor_type for a, _, _ in desk["accounts"]} == {"retail"}
    services.rebalance_run(scope=RebalanceScope(trade_date=TRADE, firm=desk["firm"].pk), key="adr")
    assert not ModelOverride.objects.exists()
    sells = Order.objects.filter(listing=ref.listings["7203.T"])
    assert sorted(sells.values_list("side", "quantity")) == [("sell", Decimal(1000)), ("sell", Decimal(1000))]
    adr = Order.objects.filter(listing=ref.listings["TM"])
    assert adr.count() == 2 and set(adr.values_list("side", flat=True)) == {"buy"}


@pytest.mark.django_db
def test_a_chunked_run_completes_with_its_totals_and_sends_rebalance_completed_once(desk, subscribed):
    """Issue 18: a book split into Celery chunks ends `completed` when its last chunk is written, with the
    totals over every chunk, and the firm gets one `rebalance.completed` (as a run done at once sends)."""
    from onboarding.models import WebhookDelivery, WebhookEndpoint
    from trading.tasks import rebalance_in_chunks

    endpoint = WebhookEndpoint.objects.create(firm=desk["firm"], url="https://partner.example/hook", secret="s",
                                              events=["rebalance.completed"])
    whole = services.rebalance_run(scope=RebalanceScope(trade_date=TRADE, firm=desk["firm"].pk), key="whole",
                                   dry_run=True)  # the same book at once: the totals the chunks must add up to
    results = rebalance_in_chunks(key="split", scope=RebalanceScope(trade_date=TRADE, firm=desk["firm"].pk),
                                  chunk_size=1)
    per_chunk = [r.get() for r in results]
    assert len(per_chunk) == 2 and [c["accounts"] for c in per_chunk] == [1, 1]
    run = RebalanceRun.objects.get(key="split")
    assert run.status == "completed" and run.finished_at is not None and run.stats["chunks"] == 2
    assert (run.stats["accounts"], run.stats["orders"], run.stats["fx_orders"]) == (
        2, sum(c["orders"] for c in per_chunk), sum(c["fx_orders"] for c in per_chunk))
    assert run.stats["orders"] == Order.objects.filter(run=run).count() == whole.orders
    sent = [d.payload for d in WebhookDelivery.objects.filter(endpoint=endpoint)]
    assert len(sent) == 1 and sent[0]["type"] == "rebalance.completed"
    assert sent[0]["data"] == {"run": run.pk, "status": "completed", "trade_date": TRADE.isoformat(), "accounts": 2,
                               "orders": run.stats["orders"], "fx_orders": run.stats["fx_orders"]}
    # a chunk delivered again is skipped and sends nothing more
    rebalance_chunk.delay("split", RebalanceScope(trade_date=TRADE, firm=desk["firm"].pk).as_json(), 0).get()
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 1
