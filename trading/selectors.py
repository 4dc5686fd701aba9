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
