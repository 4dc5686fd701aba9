"""Routing: a security with several lines is traded on the line the account can settle.

HSBC has two lines in the demo reference data: HSBA on the London Stock Exchange (primary,
quoted 1,106.4 GBp, lot 1) and 0005 on the Hong Kong exchange (112.30 HKD, board lot 400).
FX: GBP/USD 1.3080 and USD/HKD 7.7850, so one GBP is 1.3080 x 7.7850 = 10.18278 HKD.

Every account here is GBP-based with 100,000 GBP settled and follows a model of 50% HSBC and
50% GBP cash (bands 2% / 25%, no minimum trade), on Tuesday 24 November 2026.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from accounts.models import CashBalance, ModelPortfolio, ModelSubscription, ModelTarget, Position
from trading import services
from trading.models import FxOrder, Order
from trading.rebalancing.scope import RebalanceScope

from .factories import AccountFactory, CustodianFactory, CustodyAccountFactory

TRADE = dt.date(2026, 11, 24)


@pytest.fixture
def hsbc_model(ref):
    model = ModelPortfolio.objects.create(provider="Meridian AM", code="HSBC50", version=1, name="Half HSBC",
                                          base_currency="GBP", effective_from=dt.date(2026, 1, 1))
    ModelTarget.objects.create(model=model, instrument=ref.instruments["HSBA"], weight=Decimal("0.50"))
    ModelTarget.objects.create(model=model, cash_currency="GBP", weight=Decimal("0.50"))
    return model


@pytest.fixture
def custodians(ref, brokers):
    north = CustodianFactory(name="NORTHBANK", bic="NRTHGB2L")
    north.markets.set([ref.markets[m] for m in ("XNYS", "XNAS", "XLON")])
    harbour = CustodianFactory(name="HARBOUR", bic="HRBRHKHH")
    harbour.markets.set([ref.markets[m] for m in ("XTKS", "XHKG")])
    return north, harbour


def _account(firm, model, custody, ref):
    """custody: (custodian, markets or None for none named) per custody account."""
    account = AccountFactory(firm=firm)
    made = []
    for custodian, markets in custody:
        ca = CustodyAccountFactory(account=account, custodian=custodian)
        if markets is not None:
            ca.markets.set([ref.markets[m] for m in markets])
        made.append(ca)
    ModelSubscription.objects.create(account=account, model=model, start_date=dt.date(2026, 1, 1))
    CashBalance.objects.create(account=account, custody_account=made[0], currency="GBP", basis="settle",
                               amount=Decimal(100000), as_of=TRADE)
    return account, made


@pytest.mark.django_db
def test_each_account_buys_hsbc_on_the_line_its_custody_accounts_settle(ref, custodians, hsbc_model):
    north, harbour = custodians
    firm = AccountFactory().firm
    # 1: only HARBOUR, its custody account naming no markets (so it settles HARBOUR's: Tokyo, Hong Kong)
    hk_only, (hk_only_ca,) = _account(firm, hsbc_model, [(harbour, None)], ref)
    # 2: London and Hong Kong, already holding 400 HSBC at HARBOUR (the Hong Kong line)
    held, (_held_n, held_h) = _account(firm, hsbc_model, [(north, ["XLON"]), (harbour, ["XHKG"])], ref)
    Position.objects.create(account=held, custody_account=held_h, instrument=ref.instruments["HSBA"], basis="trade",
                            quantity=Decimal(400), local_currency="HKD", as_of=TRADE)
    # 3: London and Hong Kong, holding nothing: the primary line (London)
    both, (both_n, _both_h) = _account(firm, hsbc_model, [(north, ["XLON"]), (harbour, ["XHKG"])], ref)

    result = services.rebalance_run(scope=RebalanceScope(trade_date=TRADE, firm=firm.pk), key="lines")

    assert result.unrouted == 0
    orders = {o.account_id: o for o in Order.objects.select_related("listing__market", "custody_account", "broker")}
    assert len(orders) == 3
    # 1: target 0.5 x 100,000 GBP x 10.18278 = 509,139 HKD / 112.30 = 4,533.7 shares -> 11 lots of 400
    o = orders[hk_only.pk]
    assert (o.listing.ticker, o.listing.market.mic, o.side, o.quantity) == ("0005", "XHKG", "buy", Decimal(4400))
    assert o.custody_account_id == hk_only_ca.pk and o.broker.code == "KOWLOON"
    assert o.estimated_value == Decimal("494120")  # 4,400 x 112.30 HKD
    # 2: total 1,018,278 + 400 x 112.30 = 1,063,198 HKD; half is 531,599 HKD = 4,733.7 shares;
    #    holds 400, wants 4,333.7 more -> 10 lots: 4,000 shares, on the held line at HARBOUR
    o = orders[held.pk]
    assert (o.listing.ticker, o.side, o.quantity) == ("0005", "buy", Decimal(4000))
    assert o.custody_account_id == held_h.pk
    # 3: 50,000 GBP / 11.064 GBP = 4,519.2 -> 4,519 shares of HSBA in London at NORTHBANK
    o = orders[both.pk]
    assert (o.listing.ticker, o.listing.market.mic, o.side, o.quantity) == ("HSBA", "XLON", "buy", Decimal(4519))
    assert o.custody_account_id == both_n.pk and o.broker.code == "ATLAS"
    # the Hong Kong buys are funded in HKD, the London one needs no FX
    fx = {f.account_id: f for f in FxOrder.objects.all()}
    assert set(fx) == {hk_only.pk, held.pk}
    assert (fx[hk_only.pk].buy_currency, fx[hk_only.pk].buy_amount) == ("HKD", Decimal("494120"))
    assert (fx[held.pk].buy_currency, fx[held.pk].buy_amount) == ("HKD", Decimal("449200"))  # 4,000 x 112.30


@pytest.mark.django_db
def test_a_security_held_where_only_its_second_line_settles_sits_on_that_line(ref, custodians, hsbc_model):
    """An account whose only custody account settles Hong Kong holds HSBC there: the security
    sits in the book on its Hong Kong line (0005), not on the primary London line."""
    _north, harbour = custodians
    firm = AccountFactory().firm
    account, (ca,) = _account(firm, hsbc_model, [(harbour, ["XHKG"])], ref)
    Position.objects.create(account=account, custody_account=ca, instrument=ref.instruments["HSBA"], basis="trade",
                            quantity=Decimal(4000), local_currency="GBP", as_of=TRADE)
    result = services.rebalance_run(scope=RebalanceScope(trade_date=TRADE, firm=firm.pk), key="held-hk",
                                    dry_run=True)
    book = result.book
    assert book is not None and result.proposal is not None
    row = list(book.account_ids).index(account.pk)
    slot_lines = [int(book.listing_ids[j]) for j in book.accounts.slot_listing[row] if j >= 0]
    assert slot_lines == [ref.listings["0005.HK"].pk]
