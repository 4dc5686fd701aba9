"""Celery tasks: ids in, a service call, safe to run twice."""
from __future__ import annotations

import datetime as dt

from celery import shared_task

from .models import Account, AccountStatus


@shared_task(name="accounts.books_refresh")
def books_refresh_task(account_ids: list[int] | None = None, as_of: str | None = None) -> dict[str, int]:
    """Rewrite derived positions and cash (both bases) as of a date; nightly after the
    settlement date rolls, so settlement-date balances pick up what settled today."""
    from .services import books_refresh

    if account_ids is None:
        account_ids = list(Account.objects.exclude(status=AccountStatus.CLOSED).values_list("pk", flat=True))
    day = dt.date.fromisoformat(as_of) if as_of else None
    return books_refresh(account_ids=account_ids, as_of=day)
