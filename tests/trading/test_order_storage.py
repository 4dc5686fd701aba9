"""How orders are stored: set-wise key checks and the binary COPY writer (PostgreSQL only)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest
from django.db import IntegrityError, connection, transaction

from tests.conftest import requires_postgres
from trading.models import Order
from trading.rebalancing.dbio import copy_records, fixed_text

from .factories import OrderFactory

pytestmark = [pytest.mark.postgres, requires_postgres]


@pytest.mark.django_db(transaction=True)
def test_an_order_pointing_at_a_missing_account_is_refused_by_the_statement_check(desk):
    account, ca_n, _ = desk["accounts"][0]
    listing = desk["ref"].listings["AAPL"]
    OrderFactory(account=account, custody_account=ca_n, listing=listing)  # a good row passes
    with pytest.raises(IntegrityError, match="missing accounts_account"), transaction.atomic():
        OrderFactory(account_id=999_999_999, listing=listing)
    with pytest.raises(IntegrityError, match="missing reference_listing"), transaction.atomic():
        OrderFactory(account=account, listing_id=999_999_999)
    with pytest.raises(IntegrityError, match="trading_order.custody_account_id refers to a missing "
                                             "accounts_custodyaccount row"), transaction.atomic():
        OrderFactory(account=account, custody_account_id=999_999_999, listing=listing)
    assert Order.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_one_bad_key_among_a_thousand_copied_rows_refuses_the_whole_copy(desk):
    """The check is one pass over the statement's rows; a single row pointing nowhere (here the
    last of 1,000, a broker id no broker has) refuses the COPY and names the column."""
    account, ca_n, _ = desk["accounts"][0]
    listing = desk["ref"].listings["AAPL"]
    n = 1000
    from trading.models import Broker

    broker = np.full(n, Broker.objects.order_by("pk").values_list("pk", flat=True).first(), dtype=np.int64)
    broker[-1] = 999_999_999

    def copy(brokers):
        copy_records(Order._meta.db_table, [
            ("reference", "text", fixed_text("K-", np.arange(n), 5)), ("account_id", "i8", account.pk),
            ("custody_account_id", "i8", ca_n.pk), ("listing_id", "i8", listing.pk), ("broker_id", "i8", brokers),
            ("side", "text", b"buy"), ("quantity", "num8", 1.0), ("currency", "text", b"USD"),
            ("estimated_price", "num8", 1.0), ("estimated_value", "num6", 1.0), ("filled_quantity", "num8", 0.0),
            ("trade_date", "date", 20_000), ("settle_date", "date", 20_001), ("loss_sale", "bool", 0),
            ("status", "text", b"proposed"), ("created_at", "ts", 1_700_000_000_000_000),
        ], n)

    import psycopg

    # the raw COPY cursor raises psycopg's own error (Django wraps only its cursor's)
    with pytest.raises(psycopg.errors.ForeignKeyViolation,
                       match="trading_order.broker_id refers to a missing trading_broker row"), transaction.atomic():
        copy(broker)
    assert Order.objects.count() == 0
    broker[-1] = broker[0]
    with transaction.atomic():
        copy(broker)
    assert Order.objects.count() == n


@pytest.mark.django_db(transaction=True)
def test_binary_copy_writes_exact_decimals_dates_and_text(desk):
    account, ca_n, _ = desk["accounts"][0]
    listing = desk["ref"].listings["7203.T"]
    qty = np.array([100.0, 12.34567891, 250000.5])
    with transaction.atomic():
        copy_records(Order._meta.db_table, [
            ("reference", "text", fixed_text("T-", np.arange(3), 4)), ("account_id", "i8", account.pk),
            ("custody_account_id", "i8", ca_n.pk), ("listing_id", "i8", listing.pk), ("side", "text", b"sell"),
            ("quantity", "num8", qty), ("currency", "text", b"JPY"), ("estimated_price", "num8", 3255.5),
            ("estimated_value", "num6", qty * 3255.5), ("filled_quantity", "num8", 0.0),
            ("trade_date", "date", (dt.date(2026, 11, 24) - dt.date(1970, 1, 1)).days),
            ("settle_date", "date", (dt.date(2026, 11, 26) - dt.date(1970, 1, 1)).days),
            ("estimated_gain", "num6", np.array([-1.5, 0.0, 2.25])), ("loss_sale", "bool", np.array([1, 0, 0], np.uint8)),
            ("status", "text", b"proposed"), ("created_at", "ts", 1_700_000_000_000_000),
        ], 3)
    rows = list(Order.objects.order_by("reference").values_list(
        "reference", "side", "quantity", "estimated_value", "settle_date", "estimated_gain", "loss_sale", "status"))
    assert rows[1] == ("T-0001", "sell", Decimal("12.34567891"), Decimal("40191.357692"), dt.date(2026, 11, 26),
                       Decimal("0.000000"), False, "proposed")
    assert rows[0][5] == Decimal("-1.500000") and rows[0][6] is True
    assert rows[2][2] == Decimal("250000.50000000")
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM trading_order WHERE currency = 'JPY'")
        assert cur.fetchone()[0] == 3
