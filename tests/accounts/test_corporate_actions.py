"""Corporate actions booked for every holder at once: splits and ADR ratio changes."""
import datetime as dt
from decimal import Decimal

import pytest

from accounts import selectors, services
from accounts.models import Transaction
from tests.accounts.conftest import fund, make_account
from trading.reference.models import Instrument

pytestmark = pytest.mark.django_db


def buy(account, custody, listing, qty, price, day=dt.date(2026, 11, 10)):
    return services.trade_book(account=account, custody_account=custody, listing=listing, side="buy",
                               quantity=Decimal(qty), price=Decimal(price), trade_date=day)


def test_a_four_for_one_split_scales_every_holder_and_every_lot_but_not_cost(firm, owner, custodians, ref):
    a, ca = make_account(firm, owner, custodians, number="CA-1")
    b, cb = make_account(firm, owner, custodians, number="CA-2")
    for account, custody, qty in ((a, ca, 10), (b, cb, 30)):
        fund(account, custody["us"], "USD", "50000")
        buy(account, custody["us"], ref.listings["AAPL"], qty, "200")
    txns = services.corporate_action_split(instrument=ref.instruments["AAPL"], new_shares=4, old_shares=1,
                                           ex_date=dt.date(2026, 11, 16), reference="AAPL-SPLIT-2026")
    assert len(txns) == 2
    after = dt.date(2026, 11, 16)
    assert selectors.positions(account=a, as_of=after)[0].quantity == 40
    assert selectors.positions(account=b, as_of=after)[0].quantity == 120
    lot = selectors.open_lots(account=b).get()
    assert (lot.quantity, lot.quantity_open, lot.cost_local) == (Decimal(120), Decimal(120), Decimal("6000.00"))
    # before the ex-date the trade-date position is unchanged
    assert selectors.positions(account=a, as_of=dt.date(2026, 11, 13))[0].quantity == 10


def test_booking_the_same_corporate_action_twice_changes_nothing(booked, ref):
    account, custody = booked
    fund(account, custody["us"], "USD", "50000")
    buy(account, custody["us"], ref.listings["AAPL"], 10, "200")
    for _ in range(2):
        services.corporate_action_split(instrument=ref.instruments["AAPL"], new_shares=2, old_shares=1,
                                        ex_date=dt.date(2026, 11, 16), reference="AAPL-2FOR1")
    assert Transaction.objects.filter(kind="split").count() == 1
    assert selectors.positions(account=account, as_of=dt.date(2026, 11, 20))[0].quantity == 20


def test_an_adr_ratio_change_rescales_holders_and_the_master(booked, ref):
    """Vodafone ADR goes from 10 to 5 ordinaries per ADR: 1,000 ADRs become 2,000."""
    account, custody = booked
    fund(account, custody["us"], "USD", "50000")
    buy(account, custody["us"], ref.listings["VOD_ADR"], 1000, "11.40")
    services.corporate_action_adr_ratio_change(instrument=ref.instruments["VOD_ADR"], new_ratio=Decimal(5),
                                               effective_date=dt.date(2026, 11, 17), reference="VOD-ADR-RATIO")
    assert selectors.positions(account=account, as_of=dt.date(2026, 11, 17))[0].quantity == 2000
    assert Instrument.objects.get(pk=ref.instruments["VOD_ADR"].pk).underlying_ratio == 5
    txn = Transaction.objects.get(kind="adr_ratio_change")
    assert txn.detail["old_ratio"] == "10.00000000" and txn.detail["new_ratio"] == "5"


def test_a_reverse_split_takes_quantity_out_without_breaking_the_no_negative_rule(booked, ref):
    account, custody = booked
    fund(account, custody["eu"], "GBP", "50000")
    buy(account, custody["eu"], ref.listings["VOD.L"], 10000, "90")
    services.corporate_action_split(instrument=ref.instruments["VOD"], new_shares=1, old_shares=10,
                                    ex_date=dt.date(2026, 11, 16), reference="VOD-CONSOL")
    assert selectors.positions(account=account, as_of=dt.date(2026, 11, 20))[0].quantity == 1000
