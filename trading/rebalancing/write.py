"""Route the engine's orders and write them in bulk (binary COPY + INSERT ... SELECT on PostgreSQL)."""
from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import numpy as np
from django.db import connection

from accounts.models import Custodian
from trading.models import Broker, FxKind, FxOrder, Order

from . import engine
from .book import Book, _t, accounts_sql, custody_coverage
from .dbio import copy_records, fixed_text, is_postgres
from .engine import unique_sorted

PG_EPOCH = dt.date(2000, 1, 1)


def route(book: Book, orders: engine.Orders) -> tuple[np.ndarray, np.ndarray]:
    """Custody account and broker id per order (-1 where none): the account's custody account
    that settles the listing's market (the lowest id if several; one naming no markets settles
    its custodian's), and the preferred broker reaching that market and
    settling with that custodian."""
    n = len(orders)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    ca_acc, ca_mkt, ca_id, ca_cus = _coverage(unique_sorted(book.account_ids[orders.account]))
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


def _coverage(account_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(account, market, custody account, custodian) rows: what each custody account settles
    (its own markets, or its custodian's when it names none), lowest custody account id first."""
    sel, params = accounts_sql(account_ids)
    acc, ca, cus, mkt = custody_coverage(sel, params)
    order = np.lexsort((ca, mkt, acc))
    return acc[order], mkt[order], ca[order], cus[order]


def write_orders(*, run_id: int, book: Book, result: engine.Result, custody: np.ndarray,
                 broker: np.ndarray, chunk: int | None = None) -> tuple[int, int]:
    """References are R<run>-<n> (R<run>C<chunk>-<n> for a chunk of a run), unique by construction."""
    o, f = result.orders, result.fx
    prefix = f"R{run_id}-" if chunk is None else f"R{run_id}C{chunk}-"
    td = book.trade_date
    codes = book.currency_codes
    fx_custody = _custody_of(book, f.account, result.fx_custody)
    fwd_custody = _custody_of(book, result.forwards.account, result.forward_custody)
    _write_transfers(run_id, book, result.transfers, prefix)
    if is_postgres():
        # the key-check triggers hold each COPY's rows in a transition table: in memory, not spilled
        with connection.cursor() as cur:
            cur.execute("SET LOCAL work_mem = '256MB'")
        _pg_orders(run_id, book, o, custody, broker, prefix)
        _pg_fx(run_id, book, f, result.forwards, prefix, fx_custody, fwd_custody)
        return len(o), len(f)
    # portable path (tests on SQLite): bulk_create
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
    for fx, kind, where in ((f, None, fx_custody), (result.forwards, "fwd", fwd_custody)):
        for i in range(len(fx)):
            k = FxKind.SPOT if kind is None else (FxKind.ROLL if fx.kind[i] == 2 else FxKind.FORWARD)
            rows.append(FxOrder(
                run_id=run_id, reference=f"{prefix}FX{len(rows)}", account_id=int(book.account_ids[fx.account[i]]),
                custody_account_id=int(where[i]) if where[i] >= 0 else None,
                kind=k, buy_currency=codes[fx.buy_ccy[i]], buy_amount=_dec(fx.buy_amount[i], 6),
                sell_currency=codes[fx.sell_ccy[i]], sell_amount=_dec(fx.sell_amount[i], 6),
                rate=_dec(fx.rate[i], 10), trade_date=td, value_date=td + dt.timedelta(days=int(fx.value_day[i]))))
    FxOrder.objects.bulk_create(rows, batch_size=2000)
    return len(o), len(f)


def _custody_of(book: Book, account: np.ndarray, slot: np.ndarray) -> np.ndarray:
    """Custody account db id of each (account row, custody slot); -1 where the slot is none."""
    if len(account) == 0 or book.custody_ids.shape[0] == 0:
        return np.full(len(account), -1, dtype=np.int64)
    slot = np.clip(np.asarray(slot, dtype=np.int64), 0, book.custody_ids.shape[1] - 1)
    return book.custody_ids[account, slot]


def _write_transfers(run_id: int, book: Book, t: engine.Transfers, prefix: str) -> int:
    """The proposed cash transfers between custody accounts (a handful a run: bulk_create).
    Each values on its currency's business day the engine chose; minor units as the currency has."""
    from onboarding.money import minor_units
    from trading.models import CashTransfer

    if not len(t):
        return 0
    src, dst = _custody_of(book, t.account, t.from_custody), _custody_of(book, t.account, t.to_custody)
    td = book.trade_date
    rows = []
    for i in range(len(t)):
        if src[i] < 0 or dst[i] < 0:
            continue
        code = book.currency_codes[t.currency[i]]
        amount = Decimal(repr(round(float(t.amount[i]), 6))).quantize(Decimal(1).scaleb(-minor_units(code)),
                                                                       rounding="ROUND_UP")
        rows.append(CashTransfer(
            run_id=run_id, reference=f"{prefix}T{i}", account_id=int(book.account_ids[t.account[i]]),
            from_custody_account_id=int(src[i]), to_custody_account_id=int(dst[i]), currency=code, amount=amount,
            trade_date=td, value_date=td + dt.timedelta(days=int(t.value_day[i]))))
    CashTransfer.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def _dec(x: float, places: int) -> Decimal:
    return Decimal(repr(round(float(x), places)))


def _pg_orders(run_id, book, o, custody, broker, prefix) -> None:
    """Binary COPY straight into the order table, one COPY per shape of row (side, and whether
    custody account and broker are known), so every row of a COPY has the same layout."""
    n = len(o)
    if not n:
        return
    seq = np.arange(n)
    td = (book.trade_date - dt.date(1970, 1, 1)).days
    now_us = int(time.time() * 1_000_000)
    codes = np.array([c.encode() for c in book.currency_codes], dtype="S3")
    ccy = codes[o.currency]
    ref = fixed_text(prefix, seq, 9)
    groups = (o.side > 0).astype(int) * 4 + (custody >= 0).astype(int) * 2 + (broker >= 0).astype(int)
    for g in np.unique(groups):
        m = groups == g
        buy, has_custody, has_broker = bool(g & 4), bool(g & 2), bool(g & 1)
        k = int(m.sum())
        columns = [
            ("run_id", "i8", run_id), ("reference", "text", ref[m]),
            ("account_id", "i8", book.account_ids[o.account[m]]),
            ("custody_account_id", "i8", custody[m]) if has_custody else ("custody_account_id", "null", None),
            ("listing_id", "i8", book.listing_ids[o.listing[m]]),
            ("broker_id", "i8", broker[m]) if has_broker else ("broker_id", "null", None),
            ("side", "text", b"buy" if buy else b"sell"), ("quantity", "num8", o.qty[m]),
            ("currency", "text", ccy[m]), ("estimated_price", "num8", o.price[m]),
            ("estimated_value", "num6", o.value_local[m]), ("filled_quantity", "num8", 0.0),
            ("trade_date", "date", td), ("settle_date", "date", td + o.settle_day[m].astype(np.int64)),
            ("estimated_gain", "null", None) if buy else ("estimated_gain", "num6", o.realized_gain[m]),
            ("loss_sale", "bool", o.loss_sale[m].astype(np.uint8)), ("status", "text", b"proposed"),
            ("created_at", "ts", now_us),
        ]
        copy_records(_t(Order), columns, k)


def _pg_fx(run_id, book, spot, forwards, prefix, spot_custody, fwd_custody) -> None:
    """Spot FX and hedge forwards, one binary COPY per kind (the kind is fixed-width text) and
    per whether the custody account is known."""
    td = (book.trade_date - dt.date(1970, 1, 1)).days
    codes = np.array([c.encode() for c in book.currency_codes], dtype="S3")
    offset = 0
    parts = []
    for f, m, kind, where in ((spot, np.ones(len(spot), bool), b"spot", spot_custody),
                              (forwards, forwards.kind == 1, b"forward", fwd_custody),
                              (forwards, forwards.kind == 2, b"roll", fwd_custody)):
        parts += [(f, m & (where >= 0), kind, where), (f, m & (where < 0), kind, None)]
    for f, m, kind, where in parts:
        n = int(m.sum())
        if not n:
            continue
        copy_records(_t(FxOrder), [
            ("run_id", "i8", run_id), ("reference", "text", fixed_text(f"{prefix}FX", offset + np.arange(n), 9)),
            ("account_id", "i8", book.account_ids[f.account[m]]), ("kind", "text", kind),
            ("custody_account_id", "i8", where[m]) if where is not None else ("custody_account_id", "null", None),
            ("buy_currency", "text", codes[f.buy_ccy[m]]), ("buy_amount", "num6", f.buy_amount[m]),
            ("sell_currency", "text", codes[f.sell_ccy[m]]), ("sell_amount", "num6", f.sell_amount[m]),
            ("rate", "num10", f.rate[m]), ("trade_date", "date", td),
            ("value_date", "date", td + f.value_day[m].astype(np.int64)),
            ("status", "text", b"proposed"), ("created_at", "ts", int(time.time() * 1_000_000)),
        ], n)
        offset += n


__all__ = ["connection", "route", "write_orders"]
