"""Route the engine's orders and write them in bulk (binary COPY + INSERT ... SELECT on PostgreSQL)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
from django.db import connection

from accounts.models import Custodian, CustodyAccount
from trading.models import Broker, FxKind, FxOrder, Order

from . import engine
from .book import Book, _t
from .dbio import copy_binary, execute, fetch, is_postgres

PG_EPOCH = dt.date(2000, 1, 1)


def route(book: Book, orders: engine.Orders) -> tuple[np.ndarray, np.ndarray]:
    """Custody account and broker id per order (-1 where none): the account's custody account
    that settles the listing's market, and the preferred broker reaching that market and
    settling with that custodian."""
    n = len(orders)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    ca_t, m2m = _t(CustodyAccount), CustodyAccount.markets.through._meta.db_table
    acc_sel = ",".join(str(int(a)) for a in np.unique(book.account_ids[orders.account])) if not is_postgres() else None
    if is_postgres():
        ca_acc, ca_mkt, ca_id, ca_cus = fetch(
            f"SELECT ca.account_id::int8, cm.market_id::int8, ca.id::int8, ca.custodian_id::int8 FROM {ca_t} ca "
            f"JOIN {m2m} cm ON cm.custodyaccount_id = ca.id WHERE ca.is_active AND ca.account_id = ANY(%s)",
            [list(map(int, np.unique(book.account_ids[orders.account])))], "iiii")
    else:
        ca_acc, ca_mkt, ca_id, ca_cus = fetch(
            f"SELECT ca.account_id, cm.market_id, ca.id, ca.custodian_id FROM {ca_t} ca "
            f"JOIN {m2m} cm ON cm.custodyaccount_id = ca.id WHERE ca.is_active AND ca.account_id IN ({acc_sel})",
            [], "iiii")
    o_acc = book.account_ids[orders.account]
    o_mkt = book.market_ids[orders.listing]
    M = int(max(o_mkt.max(initial=0), ca_mkt.max(initial=0))) + 1
    keys = ca_acc * M + ca_mkt
    order = np.argsort(keys, kind="stable")
    keys, ca_id, ca_cus = keys[order], ca_id[order], ca_cus[order]
    want = o_acc * M + o_mkt
    pos = np.clip(np.searchsorted(keys, want), 0, max(len(keys) - 1, 0))
    found = (len(keys) > 0) & (keys[pos] == want) if len(keys) else np.zeros(n, bool)
    custody = np.where(found, ca_id[pos] if len(keys) else -1, -1)
    custodian = np.where(found, ca_cus[pos] if len(keys) else -1, -1)
    # broker per (market, custodian) pair
    from trading.reference.models import Market

    mics = dict(Market.objects.values_list("pk", "mic"))
    names = dict(Custodian.objects.values_list("pk", "name"))
    brokers = list(Broker.objects.filter(is_active=True).order_by("priority", "code").values_list(
        "pk", "markets", "custodians"))
    broker = np.full(n, -1, dtype=np.int64)
    pairs = np.unique(np.stack([o_mkt, custodian]), axis=1)
    for mkt, cus in pairs.T.tolist():
        mic, name = mics.get(mkt), names.get(cus)
        for pk, markets, custodians in brokers:
            if mic in markets and (name in custodians):
                broker[(o_mkt == mkt) & (custodian == cus)] = pk
                break
    return custody, broker


def write_orders(*, run_id: int, book: Book, result: engine.Result, custody: np.ndarray,
                 broker: np.ndarray) -> tuple[int, int]:
    o, f = result.orders, result.fx
    td = book.trade_date
    codes = book.currency_codes
    if is_postgres():
        _pg_orders(run_id, book, o, custody, broker)
        _pg_fx(run_id, book, f)
        return len(o), len(f)
    # portable path (tests on SQLite): bulk_create
    prefix = f"R{run_id}-"
    Order.objects.bulk_create([
        Order(run_id=run_id, reference=f"{prefix}{i}", account_id=int(book.account_ids[o.account[i]]),
              custody_account_id=int(custody[i]) if custody[i] >= 0 else None,
              listing_id=int(book.listing_ids[o.listing[i]]), broker_id=int(broker[i]) if broker[i] >= 0 else None,
              side="buy" if o.side[i] > 0 else "sell", quantity=_dec(o.qty[i], 8), currency=codes[o.currency[i]],
              estimated_price=_dec(o.price[i], 8), estimated_value=_dec(o.value_local[i], 6), trade_date=td,
              settle_date=td + dt.timedelta(days=int(o.settle_day[i])),
              estimated_gain=_dec(o.realized_gain[i], 6) if o.side[i] < 0 else None, loss_sale=bool(o.loss_sale[i]))
        for i in range(len(o))
    ], batch_size=2000)
    rows = []
    for fx, kind in ((f, None), (result.forwards, "fwd")):
        for i in range(len(fx)):
            k = FxKind.SPOT if kind is None else (FxKind.ROLL if fx.kind[i] == 2 else FxKind.FORWARD)
            rows.append(FxOrder(
                run_id=run_id, reference=f"{prefix}FX{len(rows)}", account_id=int(book.account_ids[fx.account[i]]),
                kind=k, buy_currency=codes[fx.buy_ccy[i]], buy_amount=_dec(fx.buy_amount[i], 6),
                sell_currency=codes[fx.sell_ccy[i]], sell_amount=_dec(fx.sell_amount[i], 6),
                rate=_dec(fx.rate[i], 10), trade_date=td, value_date=td + dt.timedelta(days=int(fx.value_day[i]))))
    FxOrder.objects.bulk_create(rows, batch_size=2000)
    return len(o), len(f)


def _dec(x: float, places: int) -> Decimal:
    return Decimal(repr(round(float(x), places)))


def _pg_orders(run_id, book, o, custody, broker) -> None:
    n = len(o)
    if not n:
        return
    stage = "trading_order_stage"
    execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (seq int8, account_id int8, custody_id int8, listing_id int8, "
            "broker_id int8, side int8, qty float8, price float8, value float8, ccy int8, settle int4, gain float8, "
            "loss int8) ON COMMIT DROP")
    td_days = (book.trade_date - PG_EPOCH).days
    copy_binary(stage, ["seq", "account_id", "custody_id", "listing_id", "broker_id", "side", "qty", "price",
                        "value", "ccy", "settle", "gain", "loss"],
                [np.arange(n), book.account_ids[o.account], custody, book.listing_ids[o.listing], broker,
                 o.side.astype(np.int64), o.qty, o.price, o.value_local, o.currency.astype(np.int64),
                 (td_days + o.settle_day).astype(np.int32), o.realized_gain, o.loss_sale.astype(np.int64)],
                "iiiiiifffidfi")
    ccy = "(ARRAY[" + ",".join(f"'{c}'" for c in book.currency_codes) + "])"
    execute(
        f"INSERT INTO {_t(Order)} (run_id, reference, account_id, custody_account_id, listing_id, broker_id, side, "
        "quantity, currency, estimated_price, estimated_value, filled_quantity, trade_date, settle_date, "
        "estimated_gain, loss_sale, status, created_at) "
        f"SELECT %s, %s || seq, account_id, NULLIF(custody_id, -1), listing_id, NULLIF(broker_id, -1), "
        f"CASE WHEN side > 0 THEN 'buy' ELSE 'sell' END, round(qty::numeric, 8), {ccy}[ccy + 1], "
        "round(price::numeric, 8), round(value::numeric, 6), 0, %s::date, %s::date + settle, "
        "CASE WHEN side < 0 THEN round(gain::numeric, 6) END, loss = 1, 'proposed', now() "
        f"FROM {stage}",
        [run_id, f"R{run_id}-", book.trade_date, PG_EPOCH])
    execute(f"DROP TABLE {stage}")


def _pg_fx(run_id, book, f) -> None:
    n = len(f)
    if not n:
        return
    stage = "trading_fx_stage"
    execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (seq int8, account_id int8, buy int8, sell int8, "
            "buy_amt float8, sell_amt float8, rate float8, value int4) ON COMMIT DROP")
    td_days = (book.trade_date - PG_EPOCH).days
    copy_binary(stage, ["seq", "account_id", "buy", "sell", "buy_amt", "sell_amt", "rate", "value"],
                [np.arange(n), book.account_ids[f.account], f.buy_ccy.astype(np.int64), f.sell_ccy.astype(np.int64),
                 f.buy_amount, f.sell_amount, f.rate, (td_days + f.value_day).astype(np.int32)], "iiiifffd")
    ccy = "(ARRAY[" + ",".join(f"'{c}'" for c in book.currency_codes) + "])"
    execute(
        f"INSERT INTO {_t(FxOrder)} (run_id, reference, account_id, kind, buy_currency, buy_amount, sell_currency, "
        "sell_amount, rate, trade_date, value_date, status, created_at) "
        f"SELECT %s, %s || seq, account_id, 'spot', {ccy}[buy + 1], round(buy_amt::numeric, 6), {ccy}[sell + 1], "
        "round(sell_amt::numeric, 6), round(rate::numeric, 10), %s::date, %s::date + value, 'proposed', now() "
        f"FROM {stage}",
        [run_id, f"R{run_id}-FX", book.trade_date, PG_EPOCH])
    execute(f"DROP TABLE {stage}")


__all__ = ["route", "write_orders", "connection"]
