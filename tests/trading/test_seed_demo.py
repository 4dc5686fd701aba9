"""`make run` seeds a trading day in progress (trading/demo.py, trading/reconciliation/demo.py),
through the services and with every registered provider and activation check: proposed orders
from a real rebalance run, a block with the broker, fills allocated and settling after a Japanese
holiday, and one open break from the custodian simulator's statement. The pages show it.

Figures worked by hand:
- Tokyo settles T+2 on the JPX calendar. Trade date Friday 20 November 2026; Monday 23 November is
  Labour Thanksgiving Day (a Japanese public holiday): T+1 is Tuesday 24, T+2 Wednesday 25.
- The break: HSBC Hong Kong reports one board lot (400 shares) of 0005.HK fewer than the books
  hold. At the demo close of 112.30 HKD that is 44,920.00 HKD; at 7.7850 HKD per USD and
  1.3080 USD per GBP, 44,920 / 7.7850 = 5,770.0706 USD, / 1.3080 = 4,411.37 GBP.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils.formats import date_format

from accounts.models import Account
from onboarding.models import AuditEvent, User
from trading.models import Allocation, Block, BlockStatus, Fill, FxOrder, Order, OrderStatus, RebalanceRun
from trading.reconciliation.models import Break, DailyRun, ReconRun

pytestmark = pytest.mark.django_db

TRADE_DATE = dt.date(2026, 11, 20)
TOKYO_SETTLES = dt.date(2026, 11, 25)
HSBC_ISIN = "GB0005405286"


@pytest.fixture
def seeded(settings, tmp_path):
    """The Makefile's `data` steps (rule packs, tax rules, risk model, markets, reconciliation
    rules, brokers), then `seed_demo`. The sanctions lists are left out: screening runs against
    empty lists, as `make run` does without ../shared."""
    settings.MEDIA_ROOT = tmp_path / "media"
    for command in (["rulepacks", "load"], ["load_tax_rules"], ["risk_models_load"], ["reference_load"],
                    ["recon_rules_load"], ["brokers_load"]):
        call_command(*command)
    call_command("seed_demo")
    return Account.objects.get(number="TWP-0001")


def signed_in(username: str) -> Client:
    client = Client()
    assert client.login(username=username, password="meridian-demo")
    return client


def _counts() -> dict[str, int]:
    return {"runs": RebalanceRun.objects.count(), "orders": Order.objects.count(), "fx": FxOrder.objects.count(),
            "blocks": Block.objects.count(), "fills": Fill.objects.count(), "allocations": Allocation.objects.count(),
            "recon_runs": ReconRun.objects.count(), "daily_runs": DailyRun.objects.count(),
            "breaks": Break.objects.count(), "audit": AuditEvent.objects.count()}


def test_the_demo_seeds_a_trading_day_in_progress_through_the_services_and_twice_is_once(seeded):
    account = seeded
    advisor = User.objects.get(username="thames-advisor")
    (run,) = RebalanceRun.objects.filter(firm=account.firm, trade_date=TRADE_DATE)
    assert run.status == "completed" and run.created_by == advisor
    assert AuditEvent.objects.filter(subject_id=str(run.pk), event_type="rebalance.proposed").exists()
    orders = list(Order.objects.filter(run=run).select_related("listing__market"))
    by_status = {status: [o for o in orders if o.status == status] for status in OrderStatus.values}
    assert all(o.custody_account_id and o.broker_id for o in orders)  # the demo custodians reach a broker

    # proposed orders still waiting (New York, Frankfurt, Zurich)
    assert by_status["proposed"]
    assert {o.listing.market.mic for o in by_status["proposed"]}.isdisjoint({"XTKS", "XLON"})

    # four-eyes: the firm admin approved what the advisor proposed
    approvals = AuditEvent.objects.filter(event_type="order.approved", subject_id__in=[str(o.pk) for o in orders])
    assert approvals.exists() and {e.actor.username for e in approvals} == {"thames-firm-admin"}

    # London's block is with the broker, unfilled
    london = Block.objects.filter(listing__market__mic="XLON", orders__run=run).distinct()
    assert london and {b.status for b in london} == {BlockStatus.OPEN}
    assert all(o.status == "released" for o in orders if o.listing.market.mic == "XLON")
    assert AuditEvent.objects.filter(event_type="block.released", subject_id__in=[str(b.pk) for b in london]).exists()

    # Tokyo's block is filled in two executions and allocated; it settles after the holiday
    (tokyo,) = Block.objects.filter(listing__market__mic="XTKS", orders__run=run).distinct()
    fills = list(tokyo.fills.all())
    assert tokyo.status == BlockStatus.ALLOCATED and len(fills) == 2
    assert sum(f.quantity for f in fills) == tokyo.quantity == tokyo.filled_quantity
    assert tokyo.average_price == sum(f.quantity * f.price for f in fills) / tokyo.quantity
    (toyota,) = [o for o in orders if o.listing.market.mic == "XTKS"]
    assert toyota.status == "allocated" and toyota.filled_quantity == tokyo.quantity
    assert toyota.average_price == tokyo.average_price
    assert Allocation.objects.filter(block=tokyo, order=toyota, quantity=tokyo.quantity).exists()
    assert toyota.settle_date == TOKYO_SETTLES  # pending: nothing settles in the seed
    yen = FxOrder.objects.get(run=run, buy_currency="JPY")
    assert yen.status == "released" and yen.value_date == TOKYO_SETTLES

    # reconciliation: the simulator's statements, two clean and one with a lot missing
    daily = DailyRun.objects.get(as_of=TRADE_DATE, firm__isnull=True)
    assert daily.status == "completed" and daily.stats["files_refused"] == 0
    assert {r.custodian_code: r.stats["breaks"] for r in daily.runs.all()} == \
        {"IRVTUS3N": 0, "CITIGB2L": 0, "HSBCHKHH": 1}
    (brk,) = Break.objects.filter(state="open")
    assert (brk.custodian_code, brk.custody_account, brk.identifier, brk.kind) == \
        ("HSBCHKHH", "TWP-0001-HK", HSBC_ISIN, "quantity")
    assert brk.book_quantity - brk.custodian_quantity == 400 and brk.firm == account.firm
    assert (brk.amount_base, brk.base_currency) == (Decimal("4411.37"), "GBP")
    assert AuditEvent.objects.filter(event_type="break.opened", subject_id=str(brk.pk)).exists()

    before = _counts()
    call_command("seed_demo")
    assert _counts() == before


def test_the_pages_show_the_day(seeded):
    account = seeded
    run = RebalanceRun.objects.get(firm=account.firm, trade_date=TRADE_DATE)
    orders = list(Order.objects.filter(run=run))

    page = signed_in("thames-advisor").get(reverse("portal:account_detail", args=[account.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    for order in orders:
        assert order.reference in html
    assert {"Proposed", "Released", "Allocated"} <= {o.get_status_display() for o in orders}
    for label in ("Proposed", "Released", "Allocated", date_format(TOKYO_SETTLES), "Kowloon Asia Securities"):
        assert label in html, label
    assert "HSBC Holdings ordinary" in html and "TWP-0001-HK" in html  # the open break, in words
    assert "No open breaks" not in html

    officer = signed_in("officer")
    changelist = officer.get("/admin/trading/order/", {"run__id__exact": run.pk})
    assert changelist.status_code == 200
    assert all(o.reference in changelist.content.decode() for o in orders)
    blocks = officer.get("/admin/trading/block/")
    assert blocks.status_code == 200
    assert "Released to broker" in blocks.content.decode() and "Allocated" in blocks.content.decode()
    fx = officer.get("/admin/trading/fxorder/")
    assert fx.status_code == 200 and "JPY" in fx.content.decode()
    breaks = officer.get("/admin/reconciliation/break/")
    assert breaks.status_code == 200 and HSBC_ISIN in breaks.content.decode()
    report = officer.get(reverse("reconciliation:run-report", args=["2026-11-20"]))
    assert report.status_code == 200 and HSBC_ISIN in report.content.decode()
