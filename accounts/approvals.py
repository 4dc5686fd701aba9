"""The firm's approval rules applied: who may approve an order, an FX order, a deposit or a
withdrawal, up to what amount in the account's base currency, whether the proposer may approve
(four-eyes), and the sanity limit on any single amount. Callers (trading's approvals, the cash
services) gather every problem first and refuse the whole request with them all."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from onboarding.exceptions import FourEyesViolation, PermissionDenied, ValidationFailed

from .models import ApprovalPolicy


def policy_for(firm) -> ApprovalPolicy:
    """The firm's policy, or an unsaved one holding the defaults."""
    firm_id = firm if isinstance(firm, int) else firm.pk
    return ApprovalPolicy.objects.filter(firm_id=firm_id).first() or ApprovalPolicy(firm_id=firm_id)


@dataclass(frozen=True)
class Item:
    """One thing to approve: a label people recognise, its amount in the account's base currency
    and who proposed it (a user id, or None)."""

    label: str
    amount_base: Decimal
    base_currency: str
    proposer_id: int | None = None


def to_base(*, amount: Decimal, currency: str, base_currency: str, on: dt.date) -> Decimal:
    """`amount` of `currency` in `base_currency` at the latest rate on or before `on`; GBp and
    other minor units are the caller's to convert. With no rate the amount is taken as it is."""
    if currency == base_currency:
        return amount
    from trading.reference.exceptions import FxRateMissing
    from trading.reference.selectors import fx_rates_to

    try:
        rate = fx_rates_to(target=base_currency, currencies=[currency], on=on)[currency].rate
    except FxRateMissing:
        return amount
    return amount * rate


def sanity_check(*, policy: ApprovalPolicy, items: list[Item], field: str = "amount") -> None:
    """Refuse (400) any single amount above the firm's sanity limit: nobody may book it."""
    over = [i for i in items if abs(i.amount_base) > policy.sanity_limit]
    if over:
        raise ValidationFailed(
            f"{over[0].label}: {abs(over[0].amount_base):,.2f} {over[0].base_currency} is above the sanity limit of "
            f"{policy.sanity_limit:,.0f} {over[0].base_currency} for a single amount",
            detail={field: [f"{i.label}: above the sanity limit of {policy.sanity_limit:,.0f} {i.base_currency}"
                            for i in over]},
        )


def assert_may_approve(*, policy: ApprovalPolicy, kind: str, actor, items: list[Item]) -> None:
    """Refuse unless `actor` may approve every item: role (403 permission_denied), four-eyes
    (403 four_eyes_required), the per-item limit (403 permission_denied) and the sanity limit
    (400). `actor=None` is the platform itself (a scheduled task): only the sanity limit applies."""
    sanity_check(policy=policy, items=items)
    if actor is None:
        return
    roles = policy.roles_for(kind)
    if not getattr(actor, "is_superuser", False) and actor.role not in roles:
        raise PermissionDenied(
            f"{_article(actor.get_role_display().lower())} may not approve {_noun(kind)} at this firm "
            f"(allowed: {', '.join(roles) or 'nobody'})",
            detail={"role": actor.role, "allowed_roles": roles, "kind": kind})
    if not policy.proposer_may_approve:
        own = [i.label for i in items if i.proposer_id is not None and i.proposer_id == actor.pk]
        if own:
            raise FourEyesViolation(
                f"{own[0]}: proposed by you; another person must approve it (four-eyes)",
                detail={"items": own, "proposer": actor.pk})
    limit = policy.limit_for(kind)
    if limit is not None:
        over = [i for i in items if abs(i.amount_base) > limit]
        if over:
            raise PermissionDenied(
                f"{over[0].label}: {abs(over[0].amount_base):,.2f} {over[0].base_currency} is above your approval "
                f"limit of {limit:,.2f} for {_noun(kind)}",
                detail={"items": [i.label for i in over], "limit": str(limit), "kind": kind})


def _noun(kind: str) -> str:
    return {"order": "orders", "fx": "FX orders", "deposit": "deposits", "withdrawal": "withdrawals",
            "transfer": "cash transfers"}[kind]


def _article(noun: str) -> str:
    """The role with its indefinite article: 'an advisor', 'a firm administrator'."""
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"
