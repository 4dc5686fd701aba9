"""Per-account rebalancing settings, with the model's and then the firm's as defaults, loaded in
bulk into the engine's arrays."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from accounts.models import CashBalance, ModelPortfolio, ModelSubscription, ModelTarget, RebalancePolicy
from trading import services
from trading.rebalancing.scope import RebalanceScope

TRADE = dt.date(2026, 11, 24)


@pytest.mark.django_db
def test_each_setting_is_the_accounts_own_else_its_models_else_its_firms(desk):
    """Firm: bands 5 points / 30%, minimum trade 1,308 USD (= 1,000 GBP at GBP/USD 1.3080),
    minimum improvement 25%, whole account. Model (GBP): relative band 10%, only lines out of
    band. Account 1: absolute band 1 point, minimum trade 250 GBP. Account 2: nothing of its own."""
    ref = desk["ref"]
    firm = desk["firm"]
    RebalancePolicy.objects.create(firm=firm, band_abs=Decimal("0.05"), band_rel=Decimal("0.30"),
                                   min_trade=Decimal("1308"), min_trade_currency="USD",
                                   min_improvement=Decimal("0.25"), trade_scope="whole_account")
    model = ModelPortfolio.objects.create(provider="Meridian AM", code="SET", version=1, name="Settings",
                                          base_currency="GBP", effective_from=dt.date(2026, 1, 1),
                                          band_rel=Decimal("0.10"), trade_scope="out_of_band_lines")
    ModelTarget.objects.create(model=model, instrument=ref.instruments["AAPL"], weight=Decimal("0.5"))
    ModelTarget.objects.create(model=model, cash_currency="GBP", weight=Decimal("0.5"))
    (one, one_n, _), (two, two_n, _) = desk["accounts"]
    one.band_abs, one.min_trade = Decimal("0.01"), Decimal("250")
    one.save(update_fields=["band_abs", "min_trade"])
    for account, ca in ((one, one_n), (two, two_n)):
        ModelSubscription.objects.create(account=account, model=model, start_date=dt.date(2026, 1, 1))
        CashBalance.objects.create(account=account, custody_account=ca, currency="GBP", basis="settle",
                                   amount=Decimal(10000), as_of=TRADE)

    result = services.rebalance_run(scope=RebalanceScope(trade_date=TRADE, firm=firm.pk), key="settings",
                                    dry_run=True)
    book = result.book
    assert book is not None
    rows = {int(a): k for k, a in enumerate(book.account_ids)}
    acc = book.accounts
    got = {pk: (round(float(acc.band_abs[k]), 4), round(float(acc.band_rel[k]), 4), round(float(acc.min_trade[k]), 2),
                round(float(acc.min_improvement[k]), 4), bool(acc.lines_only[k])) for pk, k in rows.items()}
    assert got[one.pk] == (0.01, 0.10, 250.00, 0.25, True)
    assert got[two.pk] == (0.05, 0.10, 1_000.00, 0.25, True)


@pytest.mark.django_db
def test_a_firm_without_a_policy_works_to_a_new_policys_defaults(desk):
    ref = desk["ref"]
    model = ModelPortfolio.objects.create(provider="Meridian AM", code="DEF", version=1, name="Defaults",
                                          base_currency="GBP", effective_from=dt.date(2026, 1, 1))
    ModelTarget.objects.create(model=model, instrument=ref.instruments["AAPL"], weight=Decimal("1"))
    account, ca, _ = desk["accounts"][0]
    ModelSubscription.objects.create(account=account, model=model, start_date=dt.date(2026, 1, 1))
    CashBalance.objects.create(account=account, custody_account=ca, currency="GBP", basis="settle",
                               amount=Decimal(10000), as_of=TRADE)
    book = services.rebalance_run(scope=RebalanceScope(trade_date=TRADE, accounts=(account.pk,)), key="defaults",
                                  dry_run=True).book
    assert book is not None
    acc = book.accounts
    assert (float(acc.band_abs[0]), float(acc.band_rel[0]), float(acc.min_trade[0]), float(acc.min_improvement[0]),
            bool(acc.lines_only[0])) == (0.02, 0.25, 0.0, 0.0, False)


def test_the_account_and_model_api_show_the_settings():
    from accounts.api import AccountSerializer, ModelPortfolioSerializer

    for serializer in (AccountSerializer, ModelPortfolioSerializer):
        assert {"band_abs", "band_rel", "min_trade", "min_improvement", "trade_scope"} <= set(serializer.Meta.fields)


@pytest.mark.django_db
def test_a_band_outside_zero_to_one_is_refused_by_the_database(desk):
    from django.db import IntegrityError, transaction

    from accounts.models import Account

    account = desk["accounts"][0][0]
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=account.pk).update(band_abs=Decimal("1.5"))
    with pytest.raises(IntegrityError), transaction.atomic():
        RebalancePolicy.objects.create(firm=desk["firm"], min_trade=Decimal("-1"))
