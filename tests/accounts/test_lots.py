"""Tax lots: cost in local and base currency, relief by FIFO, HIFO or specific lot."""
import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounts import lots as lot_engine
from accounts import selectors, services
from accounts.exceptions import LotSelectionError
from accounts.models import LotRelief, TaxLot
from tests.accounts.conftest import fund

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_lots(booked, ref):
    """100 AAPL bought at 200, 300 and 250 USD on three days (GBP account, GBPUSD 1.3080)."""
    account, custody = booked
    fund(account, custody["us"], "USD", "200000", day=dt.date(2026, 11, 2))
    for day, price in ((2, "200"), (3, "300"), (4, "250")):
        services.trade_book(account=account, custody_account=custody["us"], listing=ref.listings["AAPL"], side="buy",
                            quantity=Decimal(100), price=Decimal(price), trade_date=dt.date(2026, 11, day))
    return account, custody, list(selectors.open_lots(account=account))


def sell(account, custody, ref, qty, **kw):
    return services.trade_book(account=account, custody_account=custody["us"], listing=ref.listings["AAPL"],
                               side="sell", quantity=Decimal(qty), price=Decimal(280),
                               trade_date=dt.date(2026, 11, 16), **kw)


def test_a_lot_records_its_cost_in_local_and_base_currency(three_lots):
    _account, _custody, lots = three_lots
    first = lots[0]
    assert (first.acquisition_date, first.quantity, first.local_currency, first.cost_local) == (
        dt.date(2026, 11, 2), Decimal(100), "USD", Decimal("20000.00"))
    assert first.base_currency == "GBP"
    assert first.cost_base == (Decimal(20000) / Decimal("1.3080")).quantize(Decimal("0.01"))


def test_fifo_relieves_the_oldest_lots_first(three_lots, ref):
    account, custody, lots = three_lots
    sell(account, custody, ref, 150, lot_method="fifo")
    reliefs = {r.lot_id: r.quantity for r in LotRelief.objects.all()}
    assert reliefs == {lots[0].pk: Decimal(100), lots[1].pk: Decimal(50)}
    gain = sum(r.gain_local for r in selectors.realised_gains(account=account, start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30)))
    assert gain == Decimal(150) * 280 - Decimal(20000) - Decimal(15000)


def test_hifo_relieves_the_most_expensive_lots_first(three_lots, ref):
    account, custody, lots = three_lots
    sell(account, custody, ref, 150, lot_method="hifo")
    reliefs = {r.lot_id: r.quantity for r in LotRelief.objects.all()}
    assert reliefs == {lots[1].pk: Decimal(100), lots[2].pk: Decimal(50)}
    assert TaxLot.objects.get(pk=lots[2].pk).quantity_open == 50


def test_the_account_default_method_applies_when_none_is_given(three_lots, ref):
    account, custody, lots = three_lots
    assert account.lot_relief_method == "fifo"
    sell(account, custody, ref, 10)
    assert LotRelief.objects.get().lot_id == lots[0].pk


def test_specific_lots_relieve_exactly_what_is_named(three_lots, ref):
    account, custody, lots = three_lots
    sell(account, custody, ref, 60, lot_method="specific",
         specific_lots=[(lots[2].pk, Decimal(40)), (lots[0].pk, Decimal(20))])
    reliefs = {r.lot_id: (r.quantity, r.method) for r in LotRelief.objects.all()}
    assert reliefs == {lots[2].pk: (Decimal(40), "specific"), lots[0].pk: (Decimal(20), "specific")}


def test_specific_lots_that_do_not_add_up_refuse_the_trade_and_book_nothing(three_lots, ref):
    account, custody, lots = three_lots
    before = account.movements.count()
    with pytest.raises(LotSelectionError):
        sell(account, custody, ref, 60, lot_method="specific", specific_lots=[(lots[0].pk, Decimal(50))])
    assert account.movements.count() == before
    assert not LotRelief.objects.exists()


def test_reversing_a_sale_reopens_its_lots_and_drops_its_gain(three_lots, ref):
    account, custody, lots = three_lots
    txn = sell(account, custody, ref, 150)
    services.transaction_reverse(txn=txn, reason="booked twice")
    assert [lot.quantity_open for lot in selectors.open_lots(account=account)] == [Decimal(100)] * 3
    assert selectors.realised_gains(account=account, start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30)) == []


lots_strategy = st.lists(
    st.tuples(st.integers(1, 1000), st.integers(1, 500), st.integers(0, 30)), min_size=1, max_size=12
)


@given(lots_strategy, st.sampled_from(["fifo", "hifo"]), st.data())
def test_relief_always_sums_to_the_quantity_and_never_overdraws_a_lot(raw, method, data):
    lots = [lot_engine.OpenLot(i, dt.date(2026, 1, 1) + dt.timedelta(days=d), Decimal(q), Decimal(c))
            for i, (q, c, d) in enumerate(raw)]
    total = sum(lot.quantity_open for lot in lots)
    qty = Decimal(data.draw(st.integers(1, int(total))))
    chosen = lot_engine.select(lots, qty, method)
    assert sum(q for _i, q in chosen) == qty
    by_id = {lot.lot_id: lot for lot in lots}
    assert all(0 < q <= by_id[i].quantity_open for i, q in chosen)
    if method == "hifo":
        costs = [by_id[i].unit_cost for i, _q in chosen]
        assert costs == sorted(costs, reverse=True)
    with pytest.raises(LotSelectionError):
        lot_engine.select(lots, total + 1, method)


def test_the_derived_position_carries_the_cost_of_the_open_lots(three_lots, ref):
    from accounts.models import Position

    account, custody, lots = three_lots
    sell(account, custody, ref, 150, lot_method="fifo")
    services.books_refresh(account_ids=[account.pk], as_of=dt.date(2026, 11, 20))
    pos = Position.objects.get(account=account, basis="trade")
    assert pos.quantity == 150
    assert pos.cost_local == Decimal("15000.00") + Decimal("25000.00")  # half of lot 2, all of lot 3
    assert Position.objects.get(account=account, basis="settle").quantity == 150


def test_the_books_check_finds_nothing_after_normal_posting_and_reports_a_tampered_lot(three_lots, ref):
    import json
    from io import StringIO

    from django.core.management import call_command

    account, custody, lots = three_lots
    sell(account, custody, ref, 120, lot_method="hifo")
    assert selectors.books_discrepancies(account_ids=[account.pk]) == []
    TaxLot.objects.filter(pk=lots[0].pk).update(quantity_open=Decimal(1))
    out = StringIO()
    with pytest.raises(SystemExit):
        call_command("books_check", "--json", stdout=out)
    found = json.loads(out.getvalue())["discrepancies"]
    assert [(d["check"], Decimal(d["ledger"]), Decimal(d["lots"])) for d in found] == [("lots_vs_ledger", 180, 81)]


def test_lowest_gain_relieves_the_lot_dearest_in_base_currency_even_when_local_costs_tie(booked, ref):
    """Two lots at 250 USD: the first bought when a dollar cost 0.80 GBP, the second at 0.75.
    HIFO sees a tie and takes the older; lowest gain takes the one that cost more in sterling."""
    account, custody = booked
    fund(account, custody["us"], "USD", "100000", day=dt.date(2026, 11, 2))
    for day, rate in ((2, "0.80"), (3, "0.75")):
        services.trade_book(account=account, custody_account=custody["us"], listing=ref.listings["AAPL"], side="buy",
                            quantity=Decimal(100), price=Decimal("250"), trade_date=dt.date(2026, 11, day),
                            fx_rate=Decimal(rate))
    first, second = selectors.open_lots(account=account)
    assert (first.cost_base, second.cost_base) == (Decimal("20000.00"), Decimal("18750.00"))
    sell(account, custody, ref, 50, lot_method="lowest_gain")
    assert LotRelief.objects.get().lot_id == first.pk
    sell(account, custody, ref, 10, lot_method="hifo")
    assert LotRelief.objects.latest("pk").lot_id == first.pk  # tie in USD: the older lot


def test_lowest_gain_in_the_engine_prefers_the_highest_base_cost():
    lots = [lot_engine.OpenLot(1, dt.date(2026, 1, 1), Decimal(10), Decimal(100), Decimal(70)),
            lot_engine.OpenLot(2, dt.date(2026, 2, 1), Decimal(10), Decimal(100), Decimal(90))]
    assert lot_engine.select(lots, Decimal(15), "lowest_gain") == [(2, Decimal(10)), (1, Decimal(5))]
