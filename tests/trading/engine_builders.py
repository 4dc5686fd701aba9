"""Small builders for engine inputs used by the engine tests (no database)."""
from __future__ import annotations

import numpy as np

from trading.rebalancing.engine import Accounts, Currencies, Listings


def currencies(codes, fx, spot_day=2, days=8, minor=None, closed=()):
    open_ = np.ones((len(codes), days), dtype=bool)
    for c, d in closed:
        open_[codes.index(c), d] = False
    return Currencies(
        codes=list(codes), fx=np.asarray(fx, float),
        minor_units=np.asarray(minor if minor is not None else [2] * len(codes)),
        spot_day=np.full(len(codes), spot_day) if np.isscalar(spot_day) else np.asarray(spot_day),
        open=open_,
    )


def listings(rows):
    """rows: dicts with price, ccy, and optional unit, lot, frac, underlying, ratio, settle, substitute."""
    n = len(rows)
    return Listings(
        price=np.array([r["price"] for r in rows], float),
        price_unit=np.array([r.get("unit", 1.0) for r in rows], float),
        currency=np.array([r["ccy"] for r in rows]),
        lot_size=np.array([r.get("lot", 1.0) for r in rows], float),
        allows_fractional=np.array([r.get("frac", False) for r in rows]),
        underlying=np.array([r.get("underlying", i) for i, r in enumerate(rows)]),
        ratio=np.array([r.get("ratio", 1.0) for r in rows], float),
        settle_day=np.array([r.get("settle", 2) for r in rows]),
        substitute=np.array([r.get("substitute", -1) for r in rows]) if n else None,
    )


def cash_ladder(settled, pending=(), days=8):
    """settled: (A, C) amounts available today; pending: (a, c, day, amount) settling later."""
    settled = np.asarray(settled, float)
    cash = np.repeat(settled[:, :, None], days, axis=2)
    for a, c, d, amt in pending:
        cash[a, c, d:] += amt
    return cash


def accounts(base, slots, qty, target, cash, **kw):
    return Accounts(base=np.asarray(base), slot_listing=np.asarray(slots), qty=np.asarray(qty, float),
                    target=np.asarray(target, float), cash=np.asarray(cash, float), **kw)
