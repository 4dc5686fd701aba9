"""Reads for trading: orders by state, and the firm-scoped reads behind the API and pages."""
from __future__ import annotations

from django.db.models import BooleanField, Exists, OuterRef, Value

from onboarding.selectors import scope_to_user

from .models import Block, Order, OrderStatus


def orders_in_state(*, status: str = OrderStatus.PROPOSED, firm=None):
    qs = Order.objects.filter(status=status).select_related("account", "listing", "broker")
    if firm is not None:
        qs = qs.filter(account__firm=firm)
    return qs


# --- Scoped reads for the API and pages ---------------------------------------------------


def sees_all_firms(user) -> bool:
    return bool(getattr(user, "is_superuser", False) or getattr(user, "is_platform_officer", False))


def orders_for(user):
    return scope_to_user(Order.objects.select_related("listing", "listing__market"), user, firm_field="account__firm")


def blocks_for(user):
    """Blocks holding one of the user's firm's orders, annotated `shared` when another firm's
    orders are in it too (its totals are then not shown)."""
    qs = Block.objects.select_related("listing", "listing__market", "broker")
    if sees_all_firms(user):
        return qs.annotate(shared=Value(False, output_field=BooleanField()))
    if not user.is_authenticated or user.firm_id is None:
        return qs.none().annotate(shared=Value(False, output_field=BooleanField()))
    own = Order.objects.filter(block=OuterRef("pk"), account__firm_id=user.firm_id)
    other = Order.objects.filter(block=OuterRef("pk")).exclude(account__firm_id=user.firm_id)
    return qs.filter(Exists(own)).annotate(shared=Exists(other))


def fx_orders_for(user):
    from .models import FxOrder

    return scope_to_user(FxOrder.objects.select_related("account", "run"), user, firm_field="account__firm")


def cash_transfers_for(user):
    from .models import CashTransfer

    return scope_to_user(CashTransfer.objects.select_related(
        "account", "run", "from_custody_account__custodian", "to_custody_account__custodian"), user,
        firm_field="account__firm")


def cash_account_numbers(pairs) -> dict[tuple[int, str], str]:
    """The custody cash account number for each (custody account id, currency), where one is kept."""
    from accounts.models import CustodyCashAccount

    pairs = {(int(c), ccy) for c, ccy in pairs if c is not None}
    if not pairs:
        return {}
    rows = CustodyCashAccount.objects.filter(custody_account_id__in={c for c, _ in pairs}, is_active=True)
    return {(r.custody_account_id, r.currency): r.number for r in rows if (r.custody_account_id, r.currency) in pairs}


def fx_funding(fx_orders) -> dict[int, dict]:
    """For each FX order, the security orders of its run and account it funds (buys in the
    currency it buys) or sweeps from (sells in the currency it sells), and the netting: buys
    less sells in that currency against the FX amount. One query for the whole page."""
    from decimal import Decimal

    rows = list(fx_orders)
    runs = {f.run_id for f in rows if f.run_id}
    accounts = {f.account_id for f in rows}
    orders = list(Order.objects.filter(run_id__in=runs, account_id__in=accounts)
                  .exclude(status__in=[OrderStatus.CANCELLED, OrderStatus.REJECTED])
                  .values("pk", "reference", "run_id", "account_id", "side", "currency", "estimated_value",
                          "settle_date", "status").order_by("pk")) if runs else []
    out: dict[int, dict] = {}
    for f in rows:
        mine = [o for o in orders if o.get("run_id") == f.run_id and o["account_id"] == f.account_id]
        funds = [o for o in mine if o["side"] == "buy" and o["currency"] == f.buy_currency]
        sweeps = [o for o in mine if o["side"] == "sell" and o["currency"] == f.sell_currency]
        linked = funds + sweeps
        ccy = f.buy_currency if funds else f.sell_currency
        buys = sum((o["estimated_value"] for o in mine if o["side"] == "buy" and o["currency"] == ccy), Decimal(0))
        sells = sum((o["estimated_value"] for o in mine if o["side"] == "sell" and o["currency"] == ccy), Decimal(0))
        out[f.pk] = {
            "orders": [{"id": o["pk"], "reference": o["reference"], "side": o["side"], "status": o["status"],
                        "settle_date": o["settle_date"].isoformat()} for o in linked],
            "netting": {"currency": ccy, "buys": str(buys), "sells": str(sells), "net": str(buys - sells),
                        "fx_amount": str(f.buy_amount if ccy == f.buy_currency else f.sell_amount),
                        "value_date": f.value_date.isoformat(),
                        "latest_settlement": max((o["settle_date"] for o in linked), default=None)},
        }
    return out
