"""Concurrent sales of one holding cannot oversell it (PostgreSQL: account row lock in the
service, advisory lock in the ledger trigger)."""
import datetime as dt
import threading
import time
from decimal import Decimal

import pytest
from django.db import close_old_connections, connection, transaction

from accounts import selectors, services
from accounts.models import Movement, Transaction
from tests.accounts.conftest import make_account

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]
DAY = dt.date(2026, 11, 18)


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("lock behaviour is tested on PostgreSQL")


def _race(n, action):
    barrier = threading.Barrier(n)
    outcomes = []

    def worker(i):
        close_old_connections()
        try:
            barrier.wait()
            action(i)
            outcomes.append("ok")
        except Exception as exc:  # noqa: BLE001 - recorded and asserted below
            outcomes.append(type(exc).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


@pytest.fixture
def holding(firm, owner, custodians, ref):
    account, custody = make_account(firm, owner, custodians, number="C-1")
    services.cash_deposit(account=account, custody_account=custody["us"], currency="USD", amount=Decimal(100000),
                          value_date=dt.date(2026, 11, 2))
    services.trade_book(account=account, custody_account=custody["us"], listing=ref.listings["AAPL"], side="buy",
                        quantity=Decimal(100), price=Decimal(270), trade_date=dt.date(2026, 11, 2))
    return account, custody


def test_ten_simultaneous_sales_of_twenty_from_a_hundred_sell_exactly_five(holding, ref):
    account, custody = holding
    outcomes = _race(10, lambda i: services.trade_book(
        account=account, custody_account=custody["us"], listing=ref.listings["AAPL"], side="sell",
        quantity=Decimal(20), price=Decimal(271), trade_date=DAY, external_ref=f"S-{i}"))
    assert outcomes.count("ok") == 5, outcomes
    assert outcomes.count("InsufficientPosition") == 5, outcomes
    assert selectors.positions(account=account, as_of=DAY) == []
    assert sum(lot.quantity_open for lot in selectors.open_lots(account=account)) == 0


def test_the_trigger_alone_refuses_the_second_of_two_overlapping_raw_sales(holding, ref):
    """Bypassing the service (no account lock): the trigger's advisory lock makes the second
    insert wait for the first to commit, then see too little."""
    account, custody = holding

    def raw_sell(_i):
        with transaction.atomic():
            txn = Transaction.objects.create(account=account, kind="sell", trade_date=DAY, settle_date=DAY)
            Movement.objects.create(transaction=txn, account=account, custody_account=custody["us"], leg="security",
                                    instrument=ref.instruments["AAPL"], quantity=Decimal(-60), currency="USD",
                                    trade_date=DAY, settle_date=DAY)
            time.sleep(0.3)  # hold the transaction open so the two overlap

    outcomes = _race(2, raw_sell)
    assert sorted(outcomes) == ["IntegrityError", "ok"], outcomes
    assert selectors.positions(account=account, as_of=DAY)[0].quantity == 40
