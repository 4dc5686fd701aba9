"""Access, gating and locks shared by every account service: `_gate` is the one gate for
client-initiated account actions (it asks onboarding whether the owner's relationship is active),
`_lock_account` takes the row lock, plus small value helpers."""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import TypeVar

from django.core.exceptions import ValidationError
from django.db.models import Model
from django.utils import timezone

from onboarding.exceptions import NotFound, ValidationFailed
from onboarding.models import User

from ..exceptions import (
    AccountNotActive,
)
from ..models import (
    Account,
    AccountStatus,
)

ZERO = Decimal(0)
M = TypeVar("M", bound=Model)  # any model instance


# --- Access, gating, locks ------------------------------------------------------------------


def _require_access(actor: User | None, firm_id: int) -> None:
    """System actions (actor None), platform officers and the firm's own users may act."""
    if actor is None or actor.is_superuser or getattr(actor, "is_platform_officer", False):
        return
    if actor.firm_id != firm_id:
        raise NotFound("not found")
    if actor.role == "compliance_officer":
        return


def _assert_relationship(account: Account) -> None:
    from onboarding.services import assert_relationship_active

    assert_relationship_active(party=account.owner, firm=account.firm_id)


def _gate(account: Account, *, actor: User | None, require_active: bool = True) -> None:
    """The one gate for client-initiated account actions."""
    _require_access(actor, account.firm_id)
    _assert_relationship(account)
    if require_active and account.status != AccountStatus.ACTIVE:
        raise AccountNotActive(
            f"account {account.number} is {account.status}", detail={"account": account.pk, "status": account.status}
        )


def _lock_account(account: Account | int) -> Account:
    pk = account.pk if isinstance(account, Account) else account
    locked: Account = Account.objects.select_for_update().select_related("owner", "firm").get(pk=pk)
    return locked


def _validated(obj: M, exclude: Sequence[str] = ()) -> M:
    try:
        obj.full_clean(exclude=list(exclude))
    except ValidationError as exc:
        raise ValidationFailed(f"{obj._meta.verbose_name} is not valid", detail=exc.message_dict) from exc
    return obj


def _plain(value: Decimal) -> str:
    """1E+2 -> "100", 92.500 -> "92.5"."""
    return format(value.normalize(), "f")


def _today() -> dt.date:
    return timezone.localdate()
