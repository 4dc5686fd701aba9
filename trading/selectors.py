"""Reads for trading: which accounts a rebalance covers, orders by state."""
from __future__ import annotations

from accounts.models import Account, ModelPortfolio, ModelSubscription

from .models import Order, OrderStatus


def rebalance_scope(*, model_id: int | None = None, account_id: int | None = None,
                    firm_id: int | None = None) -> tuple[str, list]:
    """An SQL predicate on accounts_account (alias `a`) with its parameters."""
    if account_id is not None:
        return "a.id = %s", [account_id]
    if model_id is not None:
        code = ModelPortfolio.objects.filter(pk=model_id).values_list("code", flat=True).first()
        sub_t = ModelSubscription._meta.db_table
        model_t = ModelPortfolio._meta.db_table
        return (f"a.id IN (SELECT s.account_id FROM {sub_t} s JOIN {model_t} m ON m.id = s.model_id "
                f"WHERE s.status = 'active' AND (s.model_id = %s OR (s.follow_latest AND m.code = %s)))",
                [model_id, code or ""])
    if firm_id is not None:
        return "a.firm_id = %s", [firm_id]
    return "1 = 1", []


def account_id_bounds(*, where: str, params: list) -> tuple[int, int, int]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(f"SELECT MIN(a.id), MAX(a.id), COUNT(*) FROM {Account._meta.db_table} a "
                    f"WHERE a.status = 'active' AND ({where})", params)
        lo, hi, n = cur.fetchone()
    return lo or 0, hi or 0, n or 0


def orders_in_state(*, status: str = OrderStatus.PROPOSED, firm=None):
    qs = Order.objects.filter(status=status).select_related("account", "listing", "broker")
    if firm is not None:
        qs = qs.filter(account__firm=firm)
    return qs
