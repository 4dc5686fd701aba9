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


def test_a_cash_dividend_pays_every_holder_with_its_own_withholding_rate_once(firm, owner, custodians, ref):
    a, ca = make_account(firm, owner, custodians, number="D-1")
    b, cb = make_account(firm, owner, custodians, number="D-2", base="USD")
    for account, custody, qty in ((a, ca, 100), (b, cb, 1000)):
        fund(account, custody["us"], "USD", "500000")
        buy(account, custody["us"], ref.listings["AAPL"], qty, "200")
    buy(a, ca["us"], ref.listings["AAPL"], 50, "200", day=dt.date(2026, 11, 16))  # on the ex-date: no entitlement
    for _ in range(2):
        services.corporate_action_cash_dividend(
            instrument=ref.instruments["AAPL"], amount_per_share=Decimal("0.26"), currency="USD",
            ex_date=dt.date(2026, 11, 16), pay_date=dt.date(2026, 11, 20), reference="AAPL-DIV-Q4",
            default_withholding_rate=Decimal("0.30"), withholding_rates={a.pk: Decimal("0.15")})
    txns = {t.account_id: t for t in Transaction.objects.filter(kind="dividend")}
    assert len(txns) == 2
    assert sorted((m.cash_purpose, m.amount) for m in txns[a.pk].movements.all()) == [
        ("dividend", Decimal("26.00")), ("withholding", Decimal("-3.90"))]
    assert sorted((m.cash_purpose, m.amount) for m in txns[b.pk].movements.all()) == [
        ("dividend", Decimal("260.00")), ("withholding", Decimal("-78.00"))]
    # a GBP account books the base amount at the ex-date rate; cash arrives on the pay date
    gross_a = txns[a.pk].movements.get(cash_purpose="dividend")
    assert gross_a.amount_base == (Decimal("26") / Decimal("1.3080")).quantize(Decimal("0.01"))
    pending = selectors.cash_by_currency(account=a, as_of=dt.date(2026, 11, 19), basis="settle")["USD"]
    settled = selectors.cash_by_currency(account=a, as_of=dt.date(2026, 11, 20), basis="settle")["USD"]
    assert settled - pending == Decimal("22.10")
