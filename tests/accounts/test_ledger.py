"""The ledger: trades across custodians, trade-date vs settlement-date positions and cash, and
the invariants the database holds by itself."""
import datetime as dt
from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, transaction

from accounts import selectors, services
from accounts.exceptions import IneligibleInstrument, InsufficientPosition, LedgerError
from accounts.models import Basis, CashBalance, Movement, Position, Transaction
from onboarding.audit import events_for
from onboarding.exceptions import RelationshipNotActive, ValidationFailed
from onboarding.models import Relationship
from tests.accounts.conftest import TRADE_DAY, fund

pytestmark = pytest.mark.django_db
WED = dt.date(2026, 11, 18)


def buy(account, custody, listing, qty, price, day=WED, **kw):
    return services.trade_book(account=account, custody_account=custody, listing=listing, side="buy",
                               quantity=Decimal(qty), price=Decimal(price), trade_date=day, **kw)


def sell(account, custody, listing, qty, price, day=WED, **kw):
    return services.trade_book(account=account, custody_account=custody, listing=listing, side="sell",
                               quantity=Decimal(qty), price=Decimal(price), trade_date=day, **kw)


def test_a_gbp_pence_trade_books_pounds_and_settles_t_plus_2(booked, ref):
    account, custody = booked
    fund(account, custody["eu"], "GBP", "100000")
    txn = buy(account, custody["eu"], ref.listings["VOD.L"], 10000, "92.50", commission="10", taxes="46.25")
    legs = {m.cash_purpose or "security": m for m in txn.movements.all()}
    assert legs["principal"].amount == Decimal("-9250.00") and legs["principal"].currency == "GBP"
    assert legs["security"].amount == Decimal("9306.25")  # cost incl. commission and stamp duty
    assert legs["security"].settle_date == dt.date(2026, 11, 20)  # Wed + 2
    assert legs["security"].amount_base == Decimal("9306.25")  # GBP account


def test_trade_date_and_settlement_date_positions_and_cash_differ_until_settlement(booked, ref):
    account, custody = booked
    fund(account, custody["us"], "USD", "50000")
    buy(account, custody["us"], ref.listings["AAPL"], 100, "270")  # T+1: settles Thu 19th
    on_trade_day = {b: selectors.positions(account=account, as_of=WED, basis=b) for b in (Basis.TRADE, Basis.SETTLE)}
    assert on_trade_day[Basis.TRADE][0].quantity == 100
    assert on_trade_day[Basis.SETTLE] == []
    assert selectors.cash_by_currency(account=account, as_of=WED, basis=Basis.TRADE)["USD"] == Decimal(23000)
    assert selectors.cash_by_currency(account=account, as_of=WED, basis=Basis.SETTLE)["USD"] == Decimal(50000)
    next_day = dt.date(2026, 11, 19)
    assert selectors.positions(account=account, as_of=next_day, basis=Basis.SETTLE)[0].quantity == 100
    assert selectors.cash_by_currency(account=account, as_of=next_day, basis=Basis.SETTLE)["USD"] == Decimal(23000)


def test_the_derived_position_and_cash_tables_hold_both_bases(booked, ref, time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 18, 18, 0, tzinfo=dt.UTC))
    account, custody = booked
    fund(account, custody["us"], "USD", "50000")
    buy(account, custody["us"], ref.listings["AAPL"], 100, "270")
    pos = {p.basis: p.quantity for p in Position.objects.filter(account=account)}
    assert pos == {"trade": Decimal(100)}
    cash = {c.basis: c.amount for c in CashBalance.objects.filter(account=account, currency="USD")}
    assert cash == {"trade": Decimal(23000), "settle": Decimal(50000)}
    services.books_refresh(account_ids=[account.pk], as_of=dt.date(2026, 11, 19))
    assert {p.basis for p in Position.objects.filter(account=account)} == {"trade", "settle"}


def test_positions_are_kept_per_custody_account(booked, ref):
    account, custody = booked
    fund(account, custody["us"], "USD", "50000")
    fund(account, custody["eu"], "GBP", "50000")
    # Nestle: the ordinary in Zurich at one custodian, the F-share in New York at another
    fund(account, custody["eu"], "CHF", "50000")
    buy(account, custody["eu"], ref.listings["NESN.SW"], 100, "79")
    buy(account, custody["us"], ref.listings["NSRGF"], 50, "99")
    rows = selectors.positions(account=account, as_of=TRADE_DAY)
    by_custody = {(r.custody_account_id, r.currency): r.quantity for r in rows}
    assert by_custody == {(custody["eu"].pk, "CHF"): 100, (custody["us"].pk, "USD"): 50}
    assert {r.instrument_id for r in rows} == {ref.instruments["NESN"].pk}


def test_a_trade_on_a_market_the_custody_account_does_not_hold_is_refused(booked, ref):
    account, custody = booked
    with pytest.raises(ValidationFailed) as err:
        buy(account, custody["us"], ref.listings["VOD.L"], 100, "90")
    assert err.value.detail["market"] == "XLON"


def test_a_hong_kong_odd_lot_is_refused(booked, ref):
    account, custody = booked
    fund(account, custody["asia"], "HKD", "1000000")
    with pytest.raises(ValidationFailed) as err:
        buy(account, custody["asia"], ref.listings["0005.HK"], 300, "112.3")
    assert "lots of 400" in err.value.message
    buy(account, custody["asia"], ref.listings["0005.HK"], 800, "112.3")


def test_selling_more_than_is_held_is_refused_before_and_by_the_database(booked, ref):
    account, custody = booked
    fund(account, custody["us"], "USD", "50000")
    txn = buy(account, custody["us"], ref.listings["AAPL"], 10, "270")
    with pytest.raises(InsufficientPosition):
        sell(account, custody["us"], ref.listings["AAPL"], 11, "270")
    with pytest.raises(IntegrityError), transaction.atomic():
        Movement.objects.create(transaction=txn, account=account, custody_account=custody["us"], leg="security",
                                instrument=ref.instruments["AAPL"], quantity=Decimal(-11), currency="USD",
                                trade_date=WED, settle_date=WED)


def test_a_short_sale_may_take_the_position_below_zero_only_on_a_short_enabled_account(firm, owner, custodians, ref):
    from tests.accounts.conftest import make_account

    account, custody = make_account(firm, owner, custodians, number="S-1", allows_short=True)
    services.trade_book(account=account, custody_account=custody["us"], listing=ref.listings["SPY"],
                        side="sell_short", quantity=Decimal(10), price=Decimal(668), trade_date=WED)
    assert selectors.positions(account=account, as_of=WED)[0].quantity == -10
    plain, plain_custody = make_account(firm, owner, custodians, number="S-2")
    with pytest.raises(ValidationFailed):
        services.trade_book(account=plain, custody_account=plain_custody["us"], listing=ref.listings["SPY"],
                            side="sell_short", quantity=Decimal(10), price=Decimal(668), trade_date=WED)


def test_the_database_refuses_updates_and_deletes_of_ledger_rows(booked):
    account, custody = booked
    txn = fund(account, custody["eu"], "GBP", "1000")
    with pytest.raises(DatabaseError), transaction.atomic():
        Movement.objects.filter(transaction=txn).update(amount=Decimal(2000))
    with pytest.raises(DatabaseError), transaction.atomic():
        Transaction.objects.filter(pk=txn.pk).update(description="edited")
    with pytest.raises(DatabaseError), transaction.atomic():
        Movement.objects.filter(transaction=txn).delete()
    assert Movement.objects.get(transaction=txn).amount == Decimal(1000)


def test_the_database_refuses_a_cash_leg_with_a_quantity_and_a_bad_currency(booked, ref):
    account, custody = booked
    txn = fund(account, custody["us"], "USD", "10")
    with pytest.raises(IntegrityError), transaction.atomic():
        Movement.objects.create(transaction=txn, account=account, custody_account=custody["us"], leg="cash",
                                cash_purpose="fee", quantity=Decimal(1), currency="USD", amount=Decimal(-1),
                                trade_date=WED, settle_date=WED)
    with pytest.raises(IntegrityError), transaction.atomic():
        Movement.objects.create(transaction=txn, account=account, custody_account=custody["us"], leg="cash",
                                cash_purpose="fee", currency="usd", amount=Decimal(-1), trade_date=WED, settle_date=WED)
    with pytest.raises(IntegrityError), transaction.atomic():
        Transaction.objects.create(account=account, kind="fee", trade_date=WED, settle_date=WED - dt.timedelta(days=1))


def test_posting_twice_with_the_same_external_reference_books_once(booked):
    account, custody = booked
    first = services.cash_deposit(account=account, custody_account=custody["eu"], currency="GBP",
                                  amount=Decimal(10), value_date=WED, external_ref="WIRE-1")
    second = services.cash_deposit(account=account, custody_account=custody["eu"], currency="GBP",
                                   amount=Decimal(10), value_date=WED, external_ref="WIRE-1")
    assert first.pk == second.pk
    assert Transaction.objects.filter(account=account).count() == 1


def test_trading_is_blocked_when_the_relationship_is_suspended(booked, ref):
    account, custody = booked
    rel = Relationship.objects.get(party=account.owner)
    Relationship.objects.filter(pk=rel.pk).update(state="suspended")
    with pytest.raises(RelationshipNotActive):
        buy(account, custody["us"], ref.listings["AAPL"], 1, "270")
    with pytest.raises(RelationshipNotActive):
        fund(account, custody["us"], "USD", "10")
    assert not Transaction.objects.filter(account=account).exists()


def test_income_is_booked_even_when_the_relationship_is_suspended(booked, ref):
    account, custody = booked
    Relationship.objects.filter(party=account.owner).update(state="suspended")
    txn = services.dividend_book(account=account, custody_account=custody["us"], instrument=ref.instruments["AAPL"],
                                 currency="USD", gross_amount=Decimal("26.00"), withholding_rate=Decimal("0.15"),
                                 ex_date=WED, pay_date=dt.date(2026, 11, 26))
    amounts = sorted((m.cash_purpose, m.amount) for m in txn.movements.all())
    assert amounts == [("dividend", Decimal("26.00")), ("withholding", Decimal("-3.90"))]
    assert txn.detail["net"] == "22.10"


def test_a_retail_uk_account_cannot_buy_a_us_etf_without_a_kid(firm, owner, custodians, ref):
    from tests.accounts.conftest import make_account

    account, custody = make_account(firm, owner, custodians, number="R-1", investor_type="retail",
                                    booking_centre="onshore", booking_jurisdiction="GB")
    fund(account, custody["us"], "USD", "10000")
    with pytest.raises(IneligibleInstrument) as err:
        buy(account, custody["us"], ref.listings["SPY"], 1, "668")
    assert err.value.detail["rules"] == ["no_priips_kid_eea_uk_retail"]


def test_fx_spot_settles_on_the_spot_value_date_in_both_currencies(booked):
    account, custody = booked
    fund(account, custody["us"], "GBP", "10000")
    txn = services.fx_spot_book(account=account, custody_account=custody["us"], sell_currency="GBP",
                                sell_amount=Decimal(10000), buy_currency="USD", rate=Decimal("1.3080"),
                                trade_date=dt.date(2026, 11, 9))
    assert txn.settle_date == dt.date(2026, 11, 12)  # 11 Nov Veterans Day: no USD value
    legs = {m.currency: m.amount for m in txn.movements.all()}
    assert legs == {"GBP": Decimal("-10000.00"), "USD": Decimal("13080.00")}


def test_a_reversal_mirrors_the_transaction_and_cannot_be_repeated(booked, ref):
    account, custody = booked
    fund(account, custody["us"], "USD", "50000")
    txn = buy(account, custody["us"], ref.listings["AAPL"], 10, "270")
    services.transaction_reverse(txn=txn, reason="wrong account")
    assert selectors.positions(account=account, as_of=TRADE_DAY) == []
    assert selectors.cash_by_currency(account=account, as_of=TRADE_DAY, basis=Basis.TRADE)["USD"] == Decimal(50000)
    assert not selectors.open_lots(account=account).exists()
    with pytest.raises(LedgerError):
        services.transaction_reverse(txn=txn, reason="again")
    assert events_for(txn).filter(event_type="ledger.posted").exists()


def test_securities_move_between_custodians_with_their_lots(booked, ref):
    account, custody = booked
    fund(account, custody["us"], "USD", "50000")
    buy(account, custody["us"], ref.listings["AAPL"], 10, "200", day=dt.date(2026, 11, 2))
    buy(account, custody["us"], ref.listings["AAPL"], 10, "250", day=dt.date(2026, 11, 3))
    # a second US custody account at Pershing
    pershing = services.custody_account_add(account=account, custodian=ref_custodian("PRSHUS33"), number="P-1",
                                            markets=["XNAS"])
    services.securities_transfer(account=account, from_custody=custody["us"], to_custody=pershing,
                                 instrument=ref.instruments["AAPL"], quantity=Decimal(15),
                                 trade_date=dt.date(2026, 11, 10), settle_date=dt.date(2026, 11, 11))
    moved = list(selectors.open_lots(account=account).filter(custody_account=pershing))
    assert [(lot.acquisition_date, lot.quantity, lot.cost_local) for lot in moved] == [
        (dt.date(2026, 11, 2), Decimal(10), Decimal("2000.00")), (dt.date(2026, 11, 3), Decimal(5), Decimal("1250.00"))]
    assert sum(r.gain_local for r in selectors.realised_gains(account=account, start=WED.replace(day=1), end=TRADE_DAY)) == 0


def ref_custodian(bic):
    from accounts.models import Custodian

    return Custodian.objects.get(bic=bic)


def test_a_filled_order_is_booked_once_with_lots_even_if_the_relationship_was_suspended_since(booked, ref):
    from types import SimpleNamespace

    account, custody = booked
    fund(account, custody["eu"], "GBP", "100000")
    order = SimpleNamespace(account_id=account.pk, account=account, custody_account=None, listing=ref.listings["VOD.L"],
                            side="buy", filled_quantity=Decimal(1000), average_price=Decimal("92.40"),
                            trade_date=WED, settle_date=TRADE_DAY, reference="O-1")
    Relationship.objects.filter(party=account.owner).update(state="suspended")
    txn = services.trade_post(order=order)
    assert services.trade_post(order=order).pk == txn.pk
    security = txn.movements.get(leg="security")
    assert security.custody_account == custody["eu"]  # the custody account holding XLON
    assert security.quantity == 1000 and txn.movements.get(leg="cash").amount == Decimal("-924.00")
    assert selectors.open_lots(account=account).get().cost_local == Decimal("924.00")


def test_a_filled_fx_order_is_booked_in_the_custody_account_settling_the_bought_currency(booked):
    from types import SimpleNamespace

    account, custody = booked
    fx = SimpleNamespace(account_id=account.pk, buy_currency="USD", buy_amount=Decimal(1308), sell_currency="GBP",
                         sell_amount=Decimal(1000), trade_date=WED, value_date=TRADE_DAY, reference="FX-1")
    txn = services.fx_post(fx_order=fx)
    assert {(m.custody_account_id, m.currency, m.amount) for m in txn.movements.all()} == {
        (custody["us"].pk, "GBP", Decimal("-1000.00")), (custody["us"].pk, "USD", Decimal("1308.00"))}


def test_the_books_at_one_custodian_show_positions_pending_trades_cash_and_corporate_actions(booked, ref):
    account, custody = booked
    fund(account, custody["eu"], "GBP", "100000")
    buy(account, custody["eu"], ref.listings["VOD.L"], 10000, "92", day=dt.date(2026, 11, 16))
    buy(account, custody["eu"], ref.listings["VOD.L"], 5000, "92", day=TRADE_DAY)  # settles Tue 24
    services.corporate_action_split(instrument=ref.instruments["VOD"], new_shares=2, old_shares=1,
                                    ex_date=dt.date(2026, 11, 18), reference="VOD-SPLIT")
    books = selectors.custodian_books(custodian_bic="CITIGB2L", as_of=TRADE_DAY)
    (number, _inst, isin, trade_q, settled_q, price, ccy, fx, base), = books.positions
    assert (number, isin, trade_q, settled_q) == ("A-1-EU", "GB00BH4HKS39", Decimal(25000), Decimal(20000))
    assert (price, ccy, fx, base) == (Decimal("0.9236"), "GBP", Decimal(1), "GBP")
    assert [(p[2], p[4]) for p in books.pending] == [(Decimal(5000), dt.date(2026, 11, 24))]
    assert books.pending_cash == [("A-1-EU", "GBP", Decimal("-4600.00"), dt.date(2026, 11, 24))]
    assert books.cash == [("A-1-EU", "GBP", Decimal("86200.00"), Decimal("90800.00"))]
    assert books.corporate_actions == [(ref.instruments["VOD"].pk, dt.date(2026, 11, 18), Decimal(2), "split")]
    assert selectors.custodian_books(custodian_bic="IRVTUS3N", as_of=TRADE_DAY).positions == []


def test_sleeves_keep_their_own_cash_and_holdings(booked, ref):
    account, custody = booked
    growth = services.sleeve_add(account=account, name="growth", target_weight=Decimal("0.6"))
    income = services.sleeve_add(account=account, name="income", target_weight=Decimal("0.4"))
    services.cash_deposit(account=account, custody_account=custody["us"], currency="USD", amount=Decimal(10000),
                          value_date=WED, sleeve=growth)
    services.cash_transfer(account=account, from_custody=custody["us"], to_custody=custody["us"], currency="USD",
                           amount=Decimal(4000), value_date=WED, from_sleeve=growth, to_sleeve=income)
    buy(account, custody["us"], ref.listings["AAPL"], 10, "270", sleeve=income)
    assert selectors.cash_by_currency(account=account, as_of=WED, basis="trade", sleeve=growth) == {"USD": Decimal(6000)}
    assert selectors.cash_by_currency(account=account, as_of=WED, basis="trade", sleeve=income) == {"USD": Decimal(1300)}
    held = selectors.positions(account=account, as_of=WED)
    assert [(p.sleeve_id, p.quantity) for p in held] == [(income.pk, Decimal(10))]
    with pytest.raises(InsufficientPosition):  # the growth sleeve holds none
        sell(account, custody["us"], ref.listings["AAPL"], 1, "270", sleeve=growth)


def test_stock_connect_a_shares_are_bought_only_through_a_hong_kong_booking_centre(firm, owner, custodians, ref):
    from tests.accounts.conftest import make_account

    hk, hk_custody = make_account(firm, owner, custodians, number="HK-1", booking_jurisdiction="HK")
    services.custody_account_add(account=hk, custodian=custodians["HSBCHKHH"], number="HK-1-SH", markets=["XSHG"])
    sh = hk.custody_accounts.get(number="HK-1-SH")
    fund(hk, sh, "CNY", "1000000")
    buy(hk, sh, ref.listings["600519.SS"], 100, "1460", day=dt.date(2026, 11, 16))
    ch, _ = make_account(firm, owner, custodians, number="CH-1", booking_jurisdiction="CH")
    services.custody_account_add(account=ch, custodian=custodians["HSBCHKHH"], number="CH-1-SH", markets=["XSHG"])
    ch_sh = ch.custody_accounts.get(number="CH-1-SH")
    fund(ch, ch_sh, "CNY", "1000000")
    with pytest.raises(IneligibleInstrument) as err:
        buy(ch, ch_sh, ref.listings["600519.SS"], 100, "1460", day=dt.date(2026, 11, 16))
    assert err.value.detail["rules"] == ["stock_connect_northbound"]


def test_the_nightly_task_rolls_settlement_date_balances_forward(booked, ref, time_machine):
    from accounts.tasks import books_refresh_task

    time_machine.move_to(dt.datetime(2026, 11, 18, 18, 0, tzinfo=dt.UTC))
    account, custody = booked
    fund(account, custody["us"], "USD", "50000")
    buy(account, custody["us"], ref.listings["AAPL"], 100, "270")
    assert not Position.objects.filter(account=account, basis="settle").exists()
    result = books_refresh_task.delay(account_ids=[account.pk], as_of="2026-11-19").get()
    assert result["positions"] == 2
    assert Position.objects.get(account=account, basis="settle").quantity == 100


def test_the_database_refuses_a_movement_booked_to_another_accounts_custody_account(firm, owner, custodians, booked):
    from tests.accounts.conftest import make_account

    account, custody = booked
    other, other_custody = make_account(firm, owner, custodians, number="O-1")
    txn = fund(account, custody["eu"], "GBP", "10")
    with pytest.raises(IntegrityError), transaction.atomic():
        Movement.objects.create(transaction=txn, account=account, custody_account=other_custody["eu"], leg="cash",
                                cash_purpose="deposit", currency="GBP", amount=Decimal(1), trade_date=WED, settle_date=WED)
    with pytest.raises(IntegrityError), transaction.atomic():
        Movement.objects.create(transaction=txn, account=other, custody_account=other_custody["eu"], leg="cash",
                                cash_purpose="deposit", currency="GBP", amount=Decimal(1), trade_date=WED, settle_date=WED)


def test_postgres_refuses_to_commit_a_transaction_without_movements(booked):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("deferred constraint triggers are PostgreSQL's")
    account, custody = booked
    with pytest.raises(IntegrityError), transaction.atomic():
        Transaction.objects.create(account=account, kind="fee", trade_date=WED, settle_date=WED)
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with transaction.atomic():  # with its leg it commits
        fund(account, custody["eu"], "GBP", "5")
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_many_filled_orders_are_booked_together_with_one_refresh(booked, ref):
    from types import SimpleNamespace

    account, custody = booked
    fund(account, custody["us"], "USD", "100000")
    orders = [SimpleNamespace(account_id=account.pk, account=account, custody_account=custody["us"],
                              listing=ref.listings["AAPL"], side=side, filled_quantity=Decimal(qty),
                              average_price=Decimal("270"), trade_date=WED, settle_date=TRADE_DAY, reference=f"M-{k}")
              for k, (side, qty) in enumerate([("buy", 10), ("buy", 5), ("sell", 12)])]
    txns = services.trade_post_many(orders=orders)
    assert [t.kind for t in txns] == ["buy", "buy", "sell"]
    assert Position.objects.get(account=account, basis="trade").quantity == 3
    assert selectors.books_discrepancies(account_ids=[account.pk]) == []
    assert services.trade_post_many(orders=orders)[0].pk == txns[0].pk  # idempotent on the references
