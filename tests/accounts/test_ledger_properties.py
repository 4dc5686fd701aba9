"""Properties of the books over random trading: whatever the sequence of buys and sells, open
lots add up to the position, cash follows the trades, and no holding goes negative."""
import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts import selectors, services
from accounts.exceptions import InsufficientPosition
from accounts.models import Account, TaxLot
from tests.accounts.conftest import make_account

pytestmark = pytest.mark.django_db
START = dt.date(2026, 11, 2)

steps = st.lists(
    st.tuples(st.sampled_from(["buy", "sell"]), st.integers(1, 40), st.integers(150, 350),
              st.sampled_from(["fifo", "hifo"])),
    min_size=1, max_size=12,
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps)
def test_random_trading_keeps_lots_positions_and_cash_consistent(firm, owner, custodians, ref, steps):
    n = Account.objects.count()
    account, custody = make_account(firm, owner, custodians, number=f"P-{n}")
    services.cash_deposit(account=account, custody_account=custody["us"], currency="USD",
                          amount=Decimal("1000000"), value_date=START)
    held, cash = 0, Decimal("1000000")
    for k, (side, qty, price, method) in enumerate(steps):
        day = START + dt.timedelta(days=k // 3)
        if day.weekday() >= 5:
            day += dt.timedelta(days=7 - day.weekday())
        try:
            services.trade_book(account=account, custody_account=custody["us"], listing=ref.listings["AAPL"],
                                side=side, quantity=Decimal(qty), price=Decimal(price), trade_date=day,
                                lot_method=method)
        except InsufficientPosition:
            assert side == "sell" and qty > held
            continue
        held += qty if side == "buy" else -qty
        cash += Decimal(qty * price) * (-1 if side == "buy" else 1)
    end = START + dt.timedelta(days=30)
    position = sum((p.quantity for p in selectors.positions(account=account, as_of=end)), Decimal(0))
    lots = sum((lot.quantity_open for lot in TaxLot.objects.filter(account=account)), Decimal(0))
    assert position == lots == held >= 0
    assert selectors.cash_by_currency(account=account, as_of=end, basis="settle")["USD"] == cash
    assert all(lot.quantity_open >= 0 for lot in TaxLot.objects.filter(account=account))
    assert selectors.books_discrepancies(account_ids=[account.pk]) == []


def test_valuation_takes_a_fixed_number_of_queries_whatever_the_holdings(booked, ref):
    account, custody = booked
    for ccy in ("USD", "GBP", "EUR", "CHF"):
        services.cash_deposit(account=account, custody_account=custody["us" if ccy == "USD" else "eu"], currency=ccy,
                              amount=Decimal("1000000"), value_date=START)
    day = dt.date(2026, 11, 16)

    def trade(key, custody_key, qty, price):
        services.trade_book(account=account, custody_account=custody[custody_key], listing=ref.listings[key],
                            side="buy", quantity=Decimal(qty), price=Decimal(price), trade_date=day)

    trade("AAPL", "us", 10, "270")
    with CaptureQueriesContext(connection) as one:
        selectors.valuation(account=account, on=dt.date(2026, 11, 20))
    for key, custody_key, qty, price in (("VOD.L", "eu", 1000, "92"), ("SAP.DE", "eu", 10, "204"),
                                         ("NESN.SW", "eu", 10, "79"), ("SPY", "us", 5, "668"), ("TM", "us", 5, "207")):
        trade(key, custody_key, qty, price)
    with CaptureQueriesContext(connection) as six:
        val = selectors.valuation(account=account, on=dt.date(2026, 11, 20))
    assert len([line for line in val.lines if line.kind == "security"]) == 6
    assert len(six) == len(one)
