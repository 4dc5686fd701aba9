"""The matching engine over arrays: passes, conversions, classification, explanation."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from trading.reconciliation.matching import (
    QSCALE,
    BookPositions,
    CashBalances,
    CorporateActions,
    CustodianPositions,
    IdentifierMap,
    PendingTrades,
    reconcile_cash,
    reconcile_positions,
)
from trading.reconciliation.parsers.base import Holding
from trading.reconciliation.policy import price_units, tolerances_for

AS_OF = dt.date(2024, 1, 31)
TOL = tolerances_for("", on=AS_OF)
UNITS = price_units()

# instrument id -> identifiers
IDMAP = IdentifierMap(
    kind=np.array(["isin", "cusip", "sedol", "ticker_mic", "custodian_code", "isin", "isin"], dtype=object),
    value=np.array(["US0378331005", "594918104", "BH4HKS3", "7203@XTKS", "CUST-42", "GB0009895292",
                    "US7960508882"], dtype=object),
    instrument_id=np.array([1, 2, 3, 4, 5, 6, 7], dtype=np.int64),
    quantity_factor=np.array([1, 1, 1, 1, 1, 1, 0.04], dtype=float),  # 7: ordinaries of our ADR (25 per ADR)
)


def books(rows):
    """rows: (account, instrument, qty, price, ccy, fx)"""
    return BookPositions(
        account=np.array([r[0] for r in rows], dtype=object),
        instrument_id=np.array([r[1] for r in rows], dtype=np.int64),
        quantity=np.array([int(Decimal(str(r[2])) * QSCALE) for r in rows], dtype=np.int64),
        price=np.array([r[3] for r in rows], dtype=float),
        price_currency=np.array([r[4] for r in rows], dtype=object),
        fx_rate=np.array([r[5] for r in rows], dtype=float),
    )


def custodian(holdings):
    return CustodianPositions.from_holdings(holdings)


def run(cust, book, **kw):
    return reconcile_positions(custodian(cust), books(book), IDMAP, tolerances=kw.pop("tolerances", TOL),
                               price_units=UNITS, as_of=AS_OF, **kw)


def kinds(result):
    d = result.differences
    return sorted(zip(d.account.tolist(), d.instrument_id.tolist(), d.kind.tolist(), d.explained.tolist()))


def H(account, qty, **kw):
    return Holding(account=account, quantity=Decimal(str(qty)), **kw)


def test_each_identifier_pass_resolves_and_clean_positions_match():
    cust = [H("A1", 10, isin="US0378331005", price=Decimal("185.64"), price_currency="USD", fx_rate=Decimal(1)),
            H("A1", 5, cusip="594918104", isin="US0000000000", price=Decimal("397.58"), price_currency="USD"),
            H("A1", 7, sedol="BH4HKS3", price=Decimal("71.52"), price_currency="GBP"),
            H("A1", 100, ticker="7203", mic="XTKS", price=Decimal(3000), price_currency="JPY"),
            H("A1", 3, custodian_code="CUST-42")]
    book = [("A1", 1, 10, 185.64, "USD", 1.0), ("A1", 2, 5, 397.58, "USD", 1.0), ("A1", 3, 7, 71.52, "GBP", 1.27),
            ("A1", 4, 100, 3000, "JPY", 0.0068), ("A1", 5, 3, 10, "USD", 1.0)]
    result = run(cust, book)
    assert kinds(result) == []
    assert result.resolved_by_pass == {"isin": 1, "cusip": 1, "sedol": 1, "ticker_mic": 1, "custodian_code": 1}
    assert result.match_rate == 1.0


def test_adr_ratio_and_pence_are_converted():
    cust = [H("A1", 2500, isin="US7960508882", price=Decimal(50), price_currency="USD"),   # 2500 ords = 100 ADRs
            H("A1", 1000, isin="GB0009895292", price=Decimal(7152), price_currency="GBX")]  # pence
    book = [("A1", 7, 100, 1250, "USD", 1.0), ("A1", 6, 1000, 71.52, "GBP", 1.27)]
    assert kinds(run(cust, book)) == []


def test_quantity_difference_and_missing_on_each_side_and_unknown_instrument():
    cust = [H("A1", 11, isin="US0378331005", price=Decimal("185.64"), price_currency="USD"),
            H("A1", 5, cusip="594918104", price=Decimal("397.58"), price_currency="USD"),
            H("A2", 1, isin="XS0000000009", price=Decimal(100), price_currency="USD")]
    book = [("A1", 1, 10, 185.64, "USD", 1.0), ("A1", 3, 7, 71.52, "GBP", 1.27), ("A1", 4, 0, 3000, "JPY", 0.0068)]
    result = run(cust, book)
    assert kinds(result) == [("A1", 1, "quantity", False), ("A1", 2, "missing_in_books", False),
                             ("A1", 3, "missing_at_custodian", False), ("A2", -1, "unknown_instrument", False)]
    d = result.differences
    q = d.kind.tolist().index("quantity")
    assert abs(d.amount_base[q] - 185.64) < 1e-9
    assert d.identifier[d.kind.tolist().index("unknown_instrument")] == "XS0000000009"


def test_pending_trade_explains_exactly_its_size_and_nothing_else():
    pending = PendingTrades(account=np.array(["A1", "A1"], dtype=object), instrument_id=np.array([1, 2]),
                            quantity=np.array([3 * QSCALE, 2 * QSCALE], dtype=np.int64),
                            trade_date=np.array(["2024-01-30", "2024-01-30"], dtype="datetime64[D]"),
                            settle_date=np.array(["2024-02-01", "2024-02-01"], dtype="datetime64[D]"))
    cust = [H("A1", 7, isin="US0378331005", price=Decimal("185.64"), price_currency="USD"),   # books 10, buy 3 pending
            H("A1", 4, cusip="594918104", price=Decimal("397.58"), price_currency="USD")]    # books 5, buy 2: 1 short
    book = [("A1", 1, 10, 185.64, "USD", 1.0), ("A1", 2, 5, 397.58, "USD", 1.0)]
    result = run(cust, book, pending=pending)
    assert kinds(result) == [("A1", 1, "pending_settlement", True), ("A1", 2, "quantity", False)]
    assert result.explained == 1 and result.breaks == 1
    # on a trade-date statement the same pending trade explains nothing
    assert kinds(run(cust, book, pending=pending, basis="TRAD")) == [("A1", 1, "quantity", False),
                                                                     ("A1", 2, "quantity", False)]


def test_pending_sale_explains_a_position_missing_in_books():
    pending = PendingTrades(account=np.array(["A1"], dtype=object), instrument_id=np.array([1]),
                            quantity=np.array([-10 * QSCALE], dtype=np.int64),
                            trade_date=np.array(["2024-01-31"], dtype="datetime64[D]"),
                            settle_date=np.array(["2024-02-01"], dtype="datetime64[D]"))
    cust = [H("A1", 10, isin="US0378331005", price=Decimal("185.64"), price_currency="USD")]
    assert kinds(run(cust, [], pending=pending)) == [("A1", 1, "pending_settlement", True)]


def test_split_booked_at_the_custodian_only_is_a_corporate_action():
    ca = CorporateActions(instrument_id=np.array([1]), effective_date=np.array(["2024-01-30"], dtype="datetime64[D]"),
                          ratio=np.array([4.0]))
    cust = [H("A1", 40, isin="US0378331005", price=Decimal("46.41"), price_currency="USD")]
    book = [("A1", 1, 10, 185.64, "USD", 1.0)]
    assert kinds(run(cust, book, corporate_actions=ca)) == [("A1", 1, "corporate_action", False)]
    far = CorporateActions(instrument_id=np.array([1]), effective_date=np.array(["2023-06-30"], dtype="datetime64[D]"),
                           ratio=np.array([4.0]))
    assert kinds(run(cust, book, corporate_actions=far)) == [("A1", 1, "quantity", False)]


def test_price_and_market_value_differences_are_told_apart():
    cust = [H("A1", 10, isin="US0378331005", price=Decimal("200.00"), price_currency="USD", fx_rate=Decimal(1)),
            H("A1", 10, cusip="594918104", price=Decimal("398.00"), price_currency="USD", fx_rate=Decimal(1)),
            H("A1", 1000, sedol="BH4HKS3", price=Decimal("71.52"), price_currency="GBP", fx_rate=Decimal("1.2800")),
            H("A1", 100, ticker="7203", mic="XTKS", price=Decimal(3000), price_currency="USD")]
    book = [("A1", 1, 10, 185.64, "USD", 1.0), ("A1", 2, 10, 397.58, "USD", 1.0),
            ("A1", 3, 1000, 71.52, "GBP", 1.2700), ("A1", 4, 100, 3000, "JPY", 0.0068)]
    result = run(cust, book)
    d = result.differences
    got = dict(zip(d.instrument_id.tolist(), zip(d.kind.tolist(), d.cause.tolist())))
    assert got == {1: ("price", "price differs beyond the price-source band"), 2: ("market_value", "price source"),
                   3: ("market_value", "fx rate source"), 4: ("price", "price currency differs")}
    assert abs(d.amount_base[d.instrument_id.tolist().index(3)] - 1000 * 71.52 * 0.01) < 1e-6


def test_tolerance_rule_per_custodian_is_data():
    assert tolerances_for("EUROCLEAR", on=AS_OF).quantity_absolute == Decimal("0.01")
    assert tolerances_for("OTHER", on=AS_OF).quantity_absolute == Decimal(0)
    cust = [H("A1", "10.005", isin="US0378331005", price=Decimal("185.64"), price_currency="USD")]
    book = [("A1", 1, 10, 185.64, "USD", 1.0)]
    assert kinds(run(cust, book)) == [("A1", 1, "quantity", False)]
    assert kinds(run(cust, book, tolerances=tolerances_for("EUROCLEAR", on=AS_OF))) == []


def test_cash_balances_with_pending_explanation():
    def cb(rows):
        return CashBalances(account=np.array([r[0] for r in rows], dtype=object),
                            currency=np.array([r[1] for r in rows], dtype=object),
                            amount=np.array([int(Decimal(r[2]) * QSCALE) for r in rows], dtype=np.int64))
    result = reconcile_cash(cb([("A1", "USD", "1000.00"), ("A1", "EUR", "50.00"), ("A2", "USD", "5.00")]),
                            cb([("A1", "USD", "1000.00"), ("A1", "EUR", "80.00"), ("A3", "GBP", "1.00")]),
                            tolerances=TOL, pending=cb([("A1", "EUR", "30.00")]))
    d = result.differences
    assert sorted(zip(d.account.tolist(), d.identifier.tolist(), d.kind.tolist(), d.explained.tolist())) == [
        ("A1", "EUR", "pending_settlement", True), ("A2", "USD", "missing_in_books", False),
        ("A3", "GBP", "missing_at_custodian", False)]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["A1", "A2", "A3"]), st.integers(1, 3), st.integers(-5, 5)),
                max_size=12),
       st.lists(st.tuples(st.sampled_from(["A1", "A2", "A3"]), st.integers(1, 3), st.integers(-5, 5)),
                max_size=12))
def test_matching_is_symmetric(left, right):
    """Swapping the sides swaps missing-at-custodian and missing-in-books and keeps every key."""
    isins = {1: "US0378331005", 2: "GB0009895292", 3: "US5949181045"}
    idmap = IdentifierMap(kind=np.array(["isin"] * 3, dtype=object), value=np.array(list(isins.values()), dtype=object),
                          instrument_id=np.array([1, 2, 3]), quantity_factor=np.ones(3))

    def dedupe(rows):
        return list({(a, i): q for a, i, q in rows}.items())

    def as_cust(rows):
        return CustodianPositions.from_holdings([H(a, q, isin=isins[i], price=Decimal(1), price_currency="USD")
                                                 for (a, i), q in rows])

    def as_books(rows):
        return books([(a, i, q, 1.0, "USD", 1.0) for (a, i), q in rows])

    L, R = dedupe(left), dedupe(right)
    one = reconcile_positions(as_cust(L), as_books(R), idmap, tolerances=TOL, price_units=UNITS, as_of=AS_OF)
    two = reconcile_positions(as_cust(R), as_books(L), idmap, tolerances=TOL, price_units=UNITS, as_of=AS_OF)
    swap = {"missing_in_books": "missing_at_custodian", "missing_at_custodian": "missing_in_books"}
    a = sorted(zip(one.differences.account.tolist(), one.differences.instrument_id.tolist(),
                   [swap.get(k, k) for k in one.differences.kind.tolist()]))
    b = sorted(zip(two.differences.account.tolist(), two.differences.instrument_id.tolist(),
                   two.differences.kind.tolist()))
    assert a == b
    assert 0.0 <= one.match_rate <= 1.0


# ------------------------------------------------------------------ transactions

def test_transactions_match_one_to_one_then_one_to_many_in_passes():
    from trading.reconciliation.matching import Txn, match_transactions

    d = dt.date(2024, 1, 31)
    statement = [
        Txn("S1", "ACC", "EUR", Decimal("-800.00"), d, "INV-7"),         # reference + amount
        Txn("S2", "ACC", "EUR", Decimal("3000.00"), d),                   # amount + date
        Txn("S3", "ACC", "EUR", Decimal("120.00"), d),                    # a day late at the bank
        Txn("S4", "ACC", "EUR", Decimal("-1500.00"), d, "BATCH-1"),       # three of ours in one line
        Txn("S5", "ACC", "EUR", Decimal("42.00"), d),                     # nothing of ours
    ]
    ours = [
        Txn("O1", "ACC", "EUR", Decimal("-800.00"), d - dt.timedelta(days=1), "INV-7"),
        Txn("O2", "ACC", "EUR", Decimal("3000.00"), d),
        Txn("O3", "ACC", "EUR", Decimal("120.00"), d - dt.timedelta(days=1)),
        Txn("O4", "ACC", "EUR", Decimal("-500.00"), d, "BATCH-1"),
        Txn("O5", "ACC", "EUR", Decimal("-700.00"), d, "BATCH-1"),
        Txn("O6", "ACC", "EUR", Decimal("-300.00"), d, "BATCH-1"),
        Txn("O7", "ACC", "USD", Decimal("42.00"), d),                     # other currency: no match
    ]
    result = match_transactions(statement, ours, date_window_days=2)
    assert result.pairs == [("S1", ("O1",), "reference"), ("S2", ("O2",), "amount_date"),
                            ("S3", ("O3",), "amount_window"), ("S4", ("O4", "O5", "O6"), "one_to_many")]
    assert result.unmatched_statement == ["S5"] and result.unmatched_ours == ["O7"]


def test_transaction_window_and_tolerance_are_respected():
    from trading.reconciliation.matching import Txn, match_transactions

    d = dt.date(2024, 1, 31)
    statement = [Txn("S1", "A", "EUR", Decimal("100.00"), d)]
    ours = [Txn("O1", "A", "EUR", Decimal("100.01"), d - dt.timedelta(days=5))]
    assert match_transactions(statement, ours).pairs == []
    assert match_transactions(statement, ours, date_window_days=5, amount_tolerance=Decimal("0.01")).pairs == [
        ("S1", ("O1",), "amount_window")]


def test_the_same_unknown_identifier_twice_is_one_difference_with_the_quantities_summed():
    cust = [H("A1", 3, isin="XS0000000000", price=Decimal("10"), price_currency="USD", fx_rate=Decimal("1")),
            H("A1", 4, isin="XS0000000000", price=Decimal("10"), price_currency="USD", fx_rate=Decimal("1")),
            H("A2", 1, isin="XS0000000000", price=Decimal("10"), price_currency="USD", fx_rate=Decimal("1"))]
    d = run(cust, []).differences
    got = sorted(zip(d.account.tolist(), d.identifier.tolist(), (d.custodian_quantity // QSCALE).tolist()))
    assert got == [("A1", "XS0000000000", 7), ("A2", "XS0000000000", 1)]
    assert sorted(d.amount_base.tolist()) == [10.0, 70.0]


def test_cash_entry_causes_name_the_entries_behind_a_cash_difference():
    """Worked by hand: the statement holds a dividend (+120.00, pairs with ours by reference and
    amount), a sale's proceeds at 50 x 206.25 = 10,312.50 where we booked 50 x 207.15 = 10,357.50,
    and a fee of -25.00 we never booked; we also booked a deposit of 1,000.00 the custodian has not.
    Net: -45.00 - 25.00 - 1,000.00 = -1,070.00, each part named."""
    from trading.reconciliation.matching import Txn, cash_entry_causes

    day = dt.date(2026, 11, 23)
    statement = [Txn("s1", "A", "USD", Decimal("120.00"), day, "DIV-1"),
                 Txn("s2", "A", "USD", Decimal("10312.50"), day, "SALE-TM-1"),
                 Txn("s3", "A", "USD", Decimal("-25.00"), day, "FEE-9")]
    ours = [Txn("o1", "A", "USD", Decimal("120.00"), day, "DIV-1"),
            Txn("o2", "A", "USD", Decimal("10357.50"), day, "SALE-TM-1"),
            Txn("o3", "A", "USD", Decimal("1000.00"), day, "DEP-4")]
    assert cash_entry_causes(statement, ours) == (
        "SALE-TM-1 settled at 10,312.50, booked at 10,357.50 (-45.00); "
        "custodian entry FEE-9 -25.00 not in our books; our entry DEP-4 1,000.00 not on the statement")
    # every entry pairs: the difference is not in the day's entries
    assert cash_entry_causes(statement[:1], ours[:1]) == ""
    # one left on each side with different references: the only candidate pair is still named
    assert cash_entry_causes([statement[1]], [Txn("o9", "A", "USD", Decimal("10357.50"), day, "X")]) == (
        "X settled at 10,312.50, booked at 10,357.50 (-45.00)")
