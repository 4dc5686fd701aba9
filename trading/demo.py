"""A trading day in progress for `make run`, seeded through the services (so states, audit trail
and webhooks are the real ones). `seed_demo` calls `after_approval` once the demo clients are
approved and their accounts funded (accounts/demo.py); it finds its account in the database,
so it also runs on a database seeded before the trading day existed, and a second run changes
nothing.

Friday 20 November 2026, Alice Carter's account TWP-0001 at Thames Wealth Partners:

- she already holds HSBC's Hong Kong line (0005.HK, bought on the 13th at HSBC Hong Kong);
- the advisor's rebalance proposes orders across New York, London, Frankfurt, Zurich and Tokyo;
- the firm admin approves the Tokyo and London orders (four-eyes: not the advisor who proposed);
- Tokyo's wave is released at 09:30 JST (00:30 UTC), filled by the broker in two executions and
  allocated; it settles T+2 on the JPX calendar, and Monday 23 November is Labour Thanksgiving
  Day, so not before Wednesday 25 November: pending;
- London's wave is released at 09:00 GMT: its block is with the broker, unfilled;
- New York, Frankfurt and Zurich orders are still proposed.

Reconciliation's demo (trading/reconciliation/demo.py) then reconciles the custodians' statements
of that day, one of them with a difference injected.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction

from accounts import services as accounts_services
from accounts.models import Account, Custodian, CustodyAccount
from onboarding.models import Firm, User
from trading.reference.demo import DEMO_PRICE_DATE, reference_demo

from . import services
from .models import Block, FxOrder, FxOrderStatus, Order, RebalanceRun
from .rebalancing.scope import RebalanceScope

FIRM = "Thames Wealth Partners"
ACCOUNT = "TWP-0001"
DAY = DEMO_PRICE_DATE  # Friday 20 November 2026
RUN_KEY = f"demo-day-{ACCOUNT}-{DAY:%Y%m%d}"
UTC = dt.UTC
TOKYO_WAVE = dt.datetime(2026, 11, 20, 0, 30, tzinfo=UTC)   # 09:30 in Tokyo; London and New York closed
LONDON_WAVE = dt.datetime(2026, 11, 20, 9, 0, tzinfo=UTC)   # 09:00 in London; Tokyo closed at 06:30 UTC
APPROVED_MARKETS = ("XTKS", "XLON")
HK_HELD = Decimal(2000)  # five board lots of 400 of 0005.HK
HK_PRICE = Decimal("110.80")
FILL_FILE = f"demo-fills-XTKS-{DAY:%Y%m%d}.csv"


@dataclass
class TradingDayDemo:
    run: RebalanceRun | None = None
    account: Account | None = None
    blocks: dict[str, Block] = field(default_factory=dict)  # market MIC -> block


def _users(firm: Firm) -> tuple[User, User, User]:
    def one(role: str) -> User:
        user = User.objects.filter(firm=firm, role=role, is_active=True).order_by("pk").first()
        assert user is not None, f"the demo firm {firm} has no {role}"
        return user

    return one("advisor"), one("firm_admin"), one("operations")


def _hong_kong_custody(account: Account, ops: User) -> CustodyAccount:
    """HSBC Hong Kong holds the account's Tokyo and Hong Kong lines; the client already holds HSBC
    there, bought a week earlier with Hong Kong dollars deposited at the custodian."""
    number = f"{ACCOUNT}-HK"
    existing = CustodyAccount.objects.filter(account=account, number=number).first()
    if existing is not None:
        return existing
    custody = accounts_services.custody_account_add(
        account=account, custodian=Custodian.objects.get(bic="HSBCHKHH"), number=number, markets=["XHKG", "XTKS"],
        actor=ops)
    earlier = DAY - dt.timedelta(days=7)
    accounts_services.cash_deposit(account=account, custody_account=custody, currency="HKD", amount=Decimal(300000),
                                   value_date=earlier - dt.timedelta(days=3), actor=ops, external_ref="demo-dep-hkd")
    accounts_services.trade_book(account=account, custody_account=custody, listing=reference_demo().listings["0005.HK"],
                                 side="buy", quantity=HK_HELD, price=HK_PRICE, trade_date=earlier, actor=ops,
                                 commission=Decimal(50), external_ref="demo-0005-1")
    return custody


def _fills_csv(block: Block) -> str:
    """The broker's execution report for the block: two executions at the demo close and a tick
    either side, each a whole number of board lots."""
    lot = block.listing.lot_size
    first = (block.quantity / 2 // lot) * lot
    close = block.listing.prices.filter(price_date=DAY).order_by("-as_of").values_list("price", flat=True).first()
    close = close or Decimal(1)
    tick = block.listing.tick_size
    at = (TOKYO_WAVE + dt.timedelta(minutes=7)).isoformat()
    rows = ["exec_id,cl_ord_id,last_qty,last_px,transact_time"]
    rows.append(f"DEMO-{block.pk}-1,{block.reference},{first:f},{close - tick:f},{at}")
    if block.quantity - first > 0:
        rows.append(f"DEMO-{block.pk}-2,{block.reference},{block.quantity - first:f},{close + tick:f},{at}")
    return "\n".join(rows) + "\n"


@transaction.atomic
def trading_day_demo() -> TradingDayDemo:
    """Seed the day (see the module docstring); returns what it made, or found made before."""
    demo = TradingDayDemo()
    firm = Firm.objects.filter(name=FIRM).first()
    demo.account = Account.objects.filter(firm=firm, number=ACCOUNT).first() if firm else None
    if firm is None or demo.account is None:
        return demo  # the demo client was not approved: nothing to trade
    demo.run = RebalanceRun.objects.filter(key=RUN_KEY).first()
    if demo.run is not None:
        for block in Block.objects.filter(orders__run=demo.run).distinct().select_related("listing__market"):
            demo.blocks[block.listing.market.mic] = block
        return demo
    advisor, approver, ops = _users(firm)
    services.brokers_load()
    _hong_kong_custody(demo.account, ops)
    started = services.rebalance_start(
        scope=RebalanceScope(trade_date=DAY, firm=firm.pk, accounts=(demo.account.pk,)), actor=advisor, key=RUN_KEY)
    demo.run = started.run
    orders = Order.objects.filter(run=demo.run).select_related("listing__market")
    first_waves = [o.pk for o in orders if o.listing.market.mic in APPROVED_MARKETS and o.broker_id]
    services.orders_approve(order_ids=first_waves, actor=approver)
    yen = list(FxOrder.objects.filter(run=demo.run, status=FxOrderStatus.PROPOSED, buy_currency="JPY").order_by("pk"))
    services.fx_orders_approve(fx_order_ids=[fx.pk for fx in yen], actor=approver)
    for fx in yen:  # the yen that pays for Tokyo's orders goes to the FX desk with them
        services.fx_order_release(fx_order=fx, actor=ops)
    for wave in (TOKYO_WAVE, LONDON_WAVE):
        for block in services.orders_release(now=wave, actor=ops, firm=firm, run_id=demo.run.pk).blocks:
            demo.blocks[block.listing.market.mic] = block
    tokyo = demo.blocks.get("XTKS")
    if tokyo is not None:
        services.execution_reports_import(content=_fills_csv(tokyo), file=FILL_FILE, actor=ops)
        services.block_allocate(block=tokyo, actor=ops)
        demo.blocks["XTKS"] = Block.objects.get(pk=tokyo.pk)
    return demo


def after_approval(ctx: object) -> None:
    trading_day_demo()

