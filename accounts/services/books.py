"""The books: derived positions and cash balances rewritten from the ledger in bulk
(`books_refresh`)."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q, Sum

from onboarding.money import quantize_money

from ..models import (
    Basis,
    CashBalance,
    LegType,
    Movement,
    Position,
    TaxLot,
)
from .access import ZERO, _today

# --- Derived balances ----------------------------------------------------------------------------


def books_refresh(*, account_ids: Sequence[int], as_of: dt.date | None = None) -> dict[str, int]:
    """Rewrite `Position` and `CashBalance` for these accounts on both bases as of `as_of`
    (default today) from the ledger: one aggregate query per table, bulk insert."""
    as_of = as_of or _today()
    ids = list(set(account_ids))
    from django.db import connection

    if connection.vendor == "postgresql":
        return _books_refresh_sql(ids, as_of)
    with transaction.atomic():
        Position.objects.filter(account_id__in=ids).delete()
        CashBalance.objects.filter(account_id__in=ids).delete()
        cost: dict[tuple[int, int | None, int], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
        for custody_id, sleeve_id, instrument_id, q, q_open, c_local, c_base in TaxLot.objects.filter(
            account_id__in=ids, quantity_open__gt=0
        ).values_list("custody_account_id", "sleeve_id", "instrument_id", "quantity", "quantity_open", "cost_local", "cost_base"):
            bucket = cost[(custody_id, sleeve_id, instrument_id)]
            bucket[0] += c_local * q_open / q
            bucket[1] += c_base * q_open / q
        positions = []
        rows = (
            Movement.objects.filter(account_id__in=ids, leg=LegType.SECURITY)
            .values_list("account_id", "custody_account_id", "sleeve_id", "instrument_id", "currency")
            .annotate(trade=Sum("quantity", filter=Q(trade_date__lte=as_of)),
                      settle=Sum("quantity", filter=Q(settle_date__lte=as_of)))
        )
        for account_id, custody_id, sleeve_id, instrument_id, ccy, trade_q, settle_q in rows:
            c_local, c_base = cost.get((custody_id, sleeve_id, instrument_id), (ZERO, ZERO))
            for basis, qty in ((Basis.TRADE, trade_q), (Basis.SETTLE, settle_q)):
                if qty:
                    positions.append(Position(
                        account_id=account_id, custody_account_id=custody_id, sleeve_id=sleeve_id,
                        instrument_id=instrument_id, basis=basis, quantity=qty, local_currency=ccy,
                        cost_local=quantize_money(c_local, ccy), cost_base=c_base.quantize(Decimal("0.000001")),
                        as_of=as_of,
                    ))
        cash = []
        rows = (
            Movement.objects.filter(account_id__in=ids, leg=LegType.CASH)
            .values_list("account_id", "custody_account_id", "sleeve_id", "currency")
            .annotate(trade=Sum("amount", filter=Q(trade_date__lte=as_of)),
                      settle=Sum("amount", filter=Q(settle_date__lte=as_of)))
        )
        for account_id, custody_id, sleeve_id, ccy, trade_a, settle_a in rows:
            for basis, amount in ((Basis.TRADE, trade_a), (Basis.SETTLE, settle_a)):
                cash.append(CashBalance(
                    account_id=account_id, custody_account_id=custody_id, sleeve_id=sleeve_id, currency=ccy,
                    basis=basis, amount=amount or ZERO, as_of=as_of,
                ))
        _merge_duplicates(positions)
        Position.objects.bulk_create(positions, batch_size=5000)
        CashBalance.objects.bulk_create(cash, batch_size=5000)
    return {"positions": len(positions), "cash_balances": len(cash)}


_REFRESH_SQL = """
WITH q AS (
    SELECT account_id, custody_account_id, sleeve_id, instrument_id, MAX(currency) AS ccy,
           SUM(quantity) FILTER (WHERE trade_date <= %(d)s) AS trade_q,
           SUM(quantity) FILTER (WHERE settle_date <= %(d)s) AS settle_q
      FROM accounts_movement
     WHERE account_id = ANY(%(ids)s) AND leg = 'security'
     GROUP BY 1, 2, 3, 4
), c AS (
    SELECT custody_account_id, sleeve_id, instrument_id,
           SUM(cost_local * quantity_open / quantity) AS cl, SUM(cost_base * quantity_open / quantity) AS cb
      FROM accounts_taxlot
     WHERE account_id = ANY(%(ids)s) AND quantity_open > 0
     GROUP BY 1, 2, 3
), mu(ccy, units) AS (SELECT * FROM unnest(%(mu_ccy)s::text[], %(mu_units)s::int[]))
INSERT INTO accounts_position (account_id, custody_account_id, sleeve_id, instrument_id, basis, quantity,
                               cost_local, local_currency, cost_base, as_of)
SELECT q.account_id, q.custody_account_id, q.sleeve_id, q.instrument_id, b.basis,
       CASE b.basis WHEN 'trade' THEN q.trade_q ELSE q.settle_q END,
       ROUND(COALESCE(c.cl, 0), COALESCE(mu.units, 2)), q.ccy, ROUND(COALESCE(c.cb, 0), 6), %(d)s
  FROM q
  CROSS JOIN (VALUES ('trade'), ('settle')) AS b(basis)
  LEFT JOIN c ON c.custody_account_id = q.custody_account_id AND c.instrument_id = q.instrument_id
             AND c.sleeve_id IS NOT DISTINCT FROM q.sleeve_id
  LEFT JOIN mu ON mu.ccy = q.ccy
 WHERE COALESCE(CASE b.basis WHEN 'trade' THEN q.trade_q ELSE q.settle_q END, 0) <> 0
"""

_REFRESH_CASH_SQL = """
INSERT INTO accounts_cashbalance (account_id, custody_account_id, sleeve_id, currency, basis, amount, as_of)
SELECT m.account_id, m.custody_account_id, m.sleeve_id, m.currency, b.basis,
       COALESCE(SUM(m.amount) FILTER (WHERE (b.basis = 'trade' AND m.trade_date <= %(d)s)
                                        OR (b.basis = 'settle' AND m.settle_date <= %(d)s)), 0),
       %(d)s
  FROM accounts_movement m
  CROSS JOIN (VALUES ('trade'), ('settle')) AS b(basis)
 WHERE m.account_id = ANY(%(ids)s) AND m.leg = 'cash'
 GROUP BY m.account_id, m.custody_account_id, m.sleeve_id, m.currency, b.basis
"""


def _books_refresh_sql(ids: list[int], as_of: dt.date) -> dict[str, int]:
    """PostgreSQL: the same rebuild as set-oriented SQL (delete, INSERT ... SELECT)."""
    from django.db import connection

    from onboarding.money import minor_units

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM accounts_position WHERE account_id = ANY(%s)", [ids])
        cursor.execute("DELETE FROM accounts_cashbalance WHERE account_id = ANY(%s)", [ids])
        cursor.execute("SELECT DISTINCT currency FROM accounts_movement WHERE account_id = ANY(%s) AND leg = 'security'", [ids])
        ccys = [r[0] for r in cursor.fetchall()]
        params: dict[str, Any] = {"ids": ids, "d": as_of, "mu_ccy": ccys, "mu_units": [minor_units(c) for c in ccys]}
        cursor.execute(_REFRESH_SQL, params)
        positions = cursor.rowcount
        cursor.execute(_REFRESH_CASH_SQL, params)
        cash = cursor.rowcount
    return {"positions": positions, "cash_balances": cash}


def _merge_duplicates(positions: list[Position]) -> None:
    """A holding bought in two currencies in one custody account (rare) comes back as two
    aggregate rows; merge them so the unique key holds."""
    seen: dict[tuple[Any, ...], Position] = {}
    out = []
    for p in positions:
        key = (p.custody_account_id, p.sleeve_id, p.instrument_id, p.basis)
        if key in seen:
            seen[key].quantity += p.quantity
            continue
        seen[key] = p
        out.append(p)
    positions[:] = out
