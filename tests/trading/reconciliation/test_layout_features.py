"""Layouts as data: scaling a price or a quantity, a row carrying both quantity bases, record
types with or without a header record, and cash rows that are compared, not dropped."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from trading.reconciliation import services
from trading.reconciliation.models import Break, ReconLine
from trading.reconciliation.parsers.layouts import parse_layout

from .factories import BookCashFactory, BookPositionFactory, IdentifierFactory

BASE = {"code": "t", "version": 1, "source": "test", "effective_from": "2024-01-01", "format": "delimited",
        "delimiter": ",", "header": True, "decimal": ".", "thousands": ""}


def test_scaled_price_and_quantity_and_both_bases():
    spec = dict(BASE, columns=["acct", "isin", "td_qty", "sd_qty", "px_pence"], record_types={"P": {
        "role": "position", "fields": {
            "account": {"column": "acct"}, "isin": {"column": "isin"},
            "trade_quantity": {"column": "td_qty", "scale": "1000"},   # quantities in thousands
            "settled_quantity": {"column": "sd_qty", "scale": "1000"},
            "price": {"column": "px_pence", "scale": "0.01"}, "price_currency": {"value": "GBP"}}}})
    result = parse_layout(b"acct,isin,td_qty,sd_qty,px_pence\nA1,GB00BH4HKS39,1.5,1.2,92.36\n", spec)
    [h] = result.holdings
    # 1.5 thousand on trade date, 1.2 thousand settled; 92.36 pence = GBP 0.9236
    assert (h.quantity, h.available, h.price, h.price_currency) == (Decimal("1500.0"), Decimal("1200.0"),
                                                                    Decimal("0.9236"), "GBP")
    assert result.basis == "TRAD"


def test_record_types_without_a_header_record_by_pattern():
    spec = dict(BASE, header=False, record_type={"column": 0, "patterns": [{"regex": "^TOTAL", "code": "T"}],
                                                 "default": "P"},
                record_types={"P": {"role": "position", "fields": {"account": {"column": 0}, "isin": {"column": 1},
                                                                   "quantity": {"column": 2}}},
                              "T": {"role": "ignore"}})
    result = parse_layout(b"A1,GB00BH4HKS39,10\nA1,US0378331005,5\nTOTAL,,15\n", spec)
    assert [(h.isin, h.quantity) for h in result.holdings] == [("GB00BH4HKS39", 10), ("US0378331005", 5)]


@pytest.mark.django_db
def test_cash_rows_of_a_positions_file_are_compared(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    IdentifierFactory(kind="cusip", value="037833100", instrument_id=1)
    BookPositionFactory(custodian_code="PERSHING", custody_account="ACC1", instrument_id=1, quantity=100,
                        price=Decimal("185.64"))
    BookCashFactory(custodian_code="PERSHING", custody_account="ACC1", currency="USD", amount=Decimal("900"),
                    settled_amount=Decimal("1000.00"), fx_rate=Decimal(1), base_currency="USD")
    path = tmp_path / "pershing.csv"
    path.write_text("HDR,01/31/2024,SD\n"
                    "POS,ACC1,037833100,,AAPL,APPLE INC,100,185.64,USD,\"18,564.00\"\n"
                    "CSH,ACC1,USD,985.50\n"
                    "TRL,2,100\n")
    run = services.reconcile_file(custodian_code="PERSHING", path=path, fmt="csv:pershing_csv",
                                  as_of=dt.date(2024, 1, 31)).run
    # the cash row is compared with our settled cash: 985.50 - 1,000.00 = -14.50 (an unbooked fee, say)
    brk = Break.objects.get(asset="cash")
    assert (brk.kind, brk.identifier, brk.amount_local, brk.amount_base) == ("cash", "USD", Decimal("-14.5"),
                                                                             Decimal("14.50"))
    assert run.stats["cash_lines"] == 1 and ReconLine.objects.filter(run=run, asset="position",
                                                                     status="matched").count() == 1
