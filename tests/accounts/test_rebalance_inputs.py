"""Bulk inputs for the rebalancer: many accounts in a fixed number of queries, as arrays."""
import datetime as dt
from decimal import Decimal

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import selectors, services
from accounts.models import ModelPortfolio
from tests.accounts.conftest import fund, make_account

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 11, 20)


@pytest.fixture
def book(firm, owner, custodians, ref):
    model = services.model_publish(
        code="M", name="M", provider="P", base_currency="GBP", effective_from=DAY,
        lines=[services.TargetLine(weight=Decimal("0.5"), isin=ref.instruments["AAPL"].isin),
               services.TargetLine(weight=Decimal("0.45"), isin=ref.instruments["VOD"].isin),
               services.TargetLine(weight=Decimal("0.05"), cash_currency="GBP")])
    accounts = []
    for n in range(3):
        account, custody = make_account(firm, owner, custodians, number=f"R-{n}")
        fund(account, custody["us"], "USD", "100000")
        fund(account, custody["eu"], "GBP", "100000")
        services.trade_book(account=account, custody_account=custody["us"], listing=ref.listings["AAPL"], side="buy",
                            quantity=Decimal(100 * (n + 1)), price=Decimal(270), trade_date=dt.date(2026, 11, 16))
        services.trade_book(account=account, custody_account=custody["eu"], listing=ref.listings["VOD.L"], side="buy",
                            quantity=Decimal(1000), price=Decimal(90), trade_date=DAY)  # settles Tue 24
        sub = services.model_subscribe(account=account, model=model, start_date=DAY)
        accounts.append((account, custody, sub))
    services.model_override_add(subscription=accounts[2][2], kind="restricted", instrument=ref.instruments["VOD"],
                                reason="client request")
    return accounts, model


def test_inputs_for_many_accounts_come_as_aligned_arrays(book, ref):
    accounts, model = book
    ids = [a.pk for a, _c, _s in accounts]
    data = selectors.rebalance_inputs(account_ids=ids, as_of=DAY)
    assert list(data.account_ids) == sorted(ids)
    i_aapl = list(data.instrument_ids).index(ref.instruments["AAPL"].pk)
    i_vod = list(data.instrument_ids).index(ref.instruments["VOD"].pk)
    assert list(data.positions[:, i_aapl]) == [100, 200, 300]
    assert data.price_local[i_vod] == pytest.approx(0.9236)  # GBp divided to GBP
    assert data.price_currency[i_aapl] == "USD"
    c_usd, c_gbp = data.currencies.index("USD"), data.currencies.index("GBP")
    assert data.fx_to_base[0, c_usd] == pytest.approx(1 / 1.3080)
    assert data.fx_to_base[0, c_gbp] == 1
    assert data.targets[0, i_aapl] == 0.5 and data.cash_targets[0, c_gbp] == 0.05
    assert data.restricted[2, i_vod] and not data.restricted[0, i_vod]
    assert data.lot_size[i_vod] == 1 and data.model_ids[0] == model.pk
    # trade-date cash counts the Friday London purchase; its settlement projection does too
    assert data.cash[0, c_gbp] == pytest.approx(100000 - 900)
    assert data.cash_projected_min[0, c_gbp] == pytest.approx(100000 - 900)
    mv = data.market_values_base()
    assert mv[0, i_aapl] == pytest.approx(100 * 271.49 / 1.3080)


def test_settlement_basis_inputs_exclude_unsettled_trades(book, ref):
    accounts, _ = book
    data = selectors.rebalance_inputs(account_ids=[a.pk for a, _c, _s in accounts], as_of=DAY, basis="settle")
    i_vod = list(data.instrument_ids).index(ref.instruments["VOD"].pk)
    assert not data.positions[:, i_vod].any()


def test_the_number_of_queries_does_not_grow_with_the_number_of_accounts(book, firm, owner, custodians, ref):
    accounts, _ = book
    ids = [a.pk for a, _c, _s in accounts]
    with CaptureQueriesContext(connection) as few:
        selectors.rebalance_inputs(account_ids=ids[:1], as_of=DAY)
    with CaptureQueriesContext(connection) as many:
        selectors.rebalance_inputs(account_ids=ids, as_of=DAY)
    assert len(many) == len(few)
    assert len(many) <= 16


def test_a_follow_latest_subscription_picks_up_a_new_model_version(book, ref):
    accounts, model = book
    services.model_publish(code="M", name="M", provider="P", base_currency="GBP", effective_from=DAY,
                           lines=[services.TargetLine(weight=Decimal(1), isin=ref.instruments["SAP"].isin)])
    data = selectors.rebalance_inputs(account_ids=[accounts[0][0].pk], as_of=DAY)
    latest = ModelPortfolio.objects.get(code="M", version=2)
    assert data.model_ids[0] == latest.pk
    i_sap = list(data.instrument_ids).index(ref.instruments["SAP"].pk)
    assert data.targets[0, i_sap] == 1 and np.isclose(data.targets[0].sum(), 1)


def test_an_uma_account_gets_its_sleeves_models_flattened_and_scaled(firm, owner, custodians, ref):
    account, _custody = make_account(firm, owner, custodians, number="UMA-1")
    equity = services.model_publish(code="EQ", name="EQ", provider="P", base_currency="GBP", effective_from=DAY,
                                    lines=[services.TargetLine(weight=Decimal("0.6"), isin=ref.instruments["AAPL"].isin),
                                           services.TargetLine(weight=Decimal("0.4"), isin=ref.instruments["SAP"].isin)])
    income = services.model_publish(code="INC", name="INC", provider="P", base_currency="GBP", effective_from=DAY,
                                    lines=[services.TargetLine(weight=Decimal("0.9"), isin=ref.instruments["DEMO_BOND"].isin),
                                           services.TargetLine(weight=Decimal("0.1"), cash_currency="GBP")])
    growth = services.sleeve_add(account=account, name="growth", target_weight=Decimal("0.7"))
    bonds = services.sleeve_add(account=account, name="bonds", target_weight=Decimal("0.3"))
    services.model_subscribe(account=account, model=equity, sleeve=growth, start_date=DAY)
    services.model_subscribe(account=account, model=income, sleeve=bonds, start_date=DAY)
    data = selectors.rebalance_inputs(account_ids=[account.pk], as_of=DAY)
    weight = {int(i): w for i, w in zip(data.instrument_ids, data.targets[0], strict=True)}
    assert weight[ref.instruments["AAPL"].pk] == pytest.approx(0.42)
    assert weight[ref.instruments["SAP"].pk] == pytest.approx(0.28)
    assert weight[ref.instruments["DEMO_BOND"].pk] == pytest.approx(0.27)
    assert data.cash_targets[0, data.currencies.index("GBP")] == pytest.approx(0.03)
    # a model of models flattens the same way
    balanced = services.model_publish(code="BAL", name="BAL", provider="P", base_currency="GBP", effective_from=DAY,
                                      lines=[services.TargetLine(weight=Decimal("0.7"), sleeve_model="EQ"),
                                             services.TargetLine(weight=Decimal("0.3"), sleeve_model="INC")])
    services.model_subscribe(account=account, model=balanced, start_date=DAY)
    again = selectors.rebalance_inputs(account_ids=[account.pk], as_of=DAY)
    np.testing.assert_allclose(again.targets, data.targets)
    assert again.model_ids[0] == balanced.pk


def test_open_lots_come_as_arrays(book, ref):
    accounts, _ = book
    lots = selectors.lots_inputs(account_ids=[a.pk for a, _c, _s in accounts])
    aapl = lots.instrument_ids == ref.instruments["AAPL"].pk
    assert sorted(lots.quantity_open[aapl]) == [100, 200, 300]
    assert lots.unit_cost_local[aapl] == pytest.approx(270)
    assert lots.acquisition_dates.dtype == np.dtype("datetime64[D]")
