"""Cash per custody account through the database: the book loader reads it per custody account,
a run writes FX orders naming their custody account and a transfer between custodians when a
buy at one needs cash held at the other; the transfer is approved under the firm's rules and
settles into both custody accounts' cash."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from accounts.models import (
    ApprovalPolicy,
    CashBalance,
    ModelPortfolio,
    ModelSubscription,
    ModelTarget,
    Movement,
)
from onboarding.exceptions import FourEyesViolation, PermissionDenied
from tests.factories import UserFactory
from trading import services
from trading.models import CashTransfer, FxOrder
from trading.rebalancing.book import load_book
from trading.rebalancing.scope import RebalanceScope

from .conftest import make_active

TRADE = dt.date(2026, 11, 24)  # a Tuesday


@pytest.fixture
def toyota_model(desk):
    """Each account holds 20,000 GBP at NORTHBANK only and its model is 30% Toyota (Tokyo, at HARBOUR)."""
    ref = desk["ref"]
    model = ModelPortfolio.objects.create(provider="Meridian AM", code="JP", version=1, name="Japan",
                                          base_currency="GBP", effective_from=dt.date(2026, 1, 1))
    ModelTarget.objects.create(model=model, instrument=ref.instruments["TOYOTA"], weight=Decimal("0.30"))
    ModelTarget.objects.create(model=model, cash_currency="GBP", weight=Decimal("0.70"))
    for account, ca_n, _ca_h in desk["accounts"]:
        make_active(account)
        ModelSubscription.objects.create(account=account, model=model, start_date=dt.date(2026, 1, 1))
        CashBalance.objects.create(account=account, custody_account=ca_n, currency="GBP", basis="settle",
                                   amount=Decimal(20000), as_of=TRADE)
    return model


@pytest.mark.django_db
def test_the_book_holds_cash_per_custody_account_and_each_line_at_its_custodian(desk, toyota_model):
    book = load_book(RebalanceScope(trade_date=TRADE, firm=desk["firm"].pk))
    acc = book.accounts
    for row, (account, ca_n, ca_h) in enumerate(desk["accounts"]):
        assert book.account_ids[row] == account.pk
        assert sorted(book.custody_ids[row].tolist()) == sorted([ca_n.pk, ca_h.pk])
        k_n = book.custody_ids[row].tolist().index(ca_n.pk)
        gbp = book.currency_codes.index("GBP")
        assert acc.custody_cash[row, k_n, gbp].tolist() == [20000.0] * acc.cash.shape[2]
        assert acc.custody_cash[row, 1 - k_n, gbp].tolist() == [0.0] * acc.cash.shape[2]
        # Toyota trades in Tokyo, which HARBOUR settles
        toyota = [s for s, lst in enumerate(acc.slot_listing[row]) if lst >= 0]
        assert [int(book.custody_ids[row, acc.slot_custody[row, s]]) for s in toyota] == [ca_h.pk]


@pytest.mark.django_db
def test_a_buy_at_harbour_paid_from_sterling_at_northbank_moves_the_sterling_first(desk, toyota_model):
    proposer = UserFactory(firm=desk["firm"], role="advisor")
    result = services.rebalance_run(scope=RebalanceScope(trade_date=TRADE, firm=desk["firm"].pk), key="jp",
                                    actor=proposer)
    assert result.as_dict()["transfers"] == 2 and result.as_dict()["transfer_too_late"] == 0
    for account, ca_n, ca_h in desk["accounts"]:
        (fx,) = FxOrder.objects.filter(account=account, buy_currency="JPY")
        assert fx.custody_account_id == ca_h.pk and fx.sell_currency == "GBP"
        (t,) = CashTransfer.objects.filter(account=account)
        # HARBOUR holds no sterling: exactly what the yen costs moves there, in time for the FX
        assert (t.from_custody_account_id, t.to_custody_account_id, t.currency) == (ca_n.pk, ca_h.pk, "GBP")
        assert t.amount == fx.sell_amount and t.value_date <= fx.value_date and t.status == "proposed"

    t = CashTransfer.objects.filter(account=desk["accounts"][0][0]).get()
    with pytest.raises(FourEyesViolation):
        services.cash_transfers_approve(transfer_ids=[t.pk], actor=proposer)
    ApprovalPolicy.objects.create(firm=desk["firm"], transfer_roles=["operations"])
    with pytest.raises(PermissionDenied):  # the firm lets operations alone approve transfers
        services.cash_transfers_approve(transfer_ids=[t.pk], actor=UserFactory(firm=desk["firm"], role="advisor"))
    services.cash_transfers_approve(transfer_ids=[t.pk], actor=UserFactory(firm=desk["firm"], role="operations"))
    report = services.settlements_run(as_of=t.value_date, firm=desk["firm"])
    assert t.reference in report.transfers_settled
    t = CashTransfer.objects.get(pk=t.pk)
    assert t.status == "settled"
    legs = sorted(Movement.objects.filter(transaction__external_ref=t.reference).values_list(
        "custody_account_id", "amount", "settle_date"))
    _, ca_n, ca_h = desk["accounts"][0]
    assert sorted(legs) == sorted([(ca_n.pk, -t.amount, t.value_date), (ca_h.pk, t.amount, t.value_date)])
