"""Celery path: split the book into id-range chunks, one task per chunk (ids in, idempotent)."""
from __future__ import annotations

import datetime as dt

from celery import shared_task

from .rebalancing.scope import RebalanceScope


@shared_task(bind=True, max_retries=3, acks_late=True)
def rebalance_chunk(self, key: str, scope: dict, chunk: int, dry_run: bool = False) -> dict:
    """Rebalance one chunk: `scope` is a `RebalanceScope.as_json()` (ids, an id range and a date;
    never SQL). A retried or repeated chunk is skipped."""
    from .rebalancing.scope import RebalanceScope
    from .services import rebalance_run

    return rebalance_run(scope=RebalanceScope.from_json(scope), key=key, chunk=chunk, dry_run=dry_run).as_dict()


def rebalance_in_chunks(*, key: str, scope: RebalanceScope, chunk_size: int = 5000, dry_run: bool = False) -> list:
    """Queue one task per chunk of account ids (each chunk is idempotent under `key`). The run
    records the whole scope; each chunk narrows it to an id range."""
    from django.db import transaction

    from .models import RebalanceRun
    from .rebalancing.book import scope_account_ids

    RebalanceRun.objects.get_or_create(key=key, defaults={
        "trade_date": scope.trade_date, "dry_run": dry_run, "firm_id": scope.firm, "scope": scope.as_json()})
    ids = scope_account_ids(scope)
    chunks = (len(ids) + chunk_size - 1) // chunk_size
    # The run learns how many chunks make it whole before any is queued: the chunk that commits last
    # completes the run and announces it (trading.services._finish_chunked_run).
    with transaction.atomic():
        run = RebalanceRun.objects.select_for_update().get(key=key)
        run.stats = {**run.stats, "chunks": chunks}
        run.save(update_fields=["stats"])
    results = []
    for n, start in enumerate(range(0, len(ids), chunk_size)):
        part = ids[start:start + chunk_size]
        results.append(rebalance_chunk.delay(key, scope.chunk(int(part[0]), int(part[-1])).as_json(), n, dry_run))
    return results


@shared_task(acks_late=True)
def release_open_markets(now: str | None = None, market: str | None = None) -> dict:
    """The beat's release wave: approved orders whose market is open at `now` (ISO instant,
    default the worker's clock) go out in blocks. Safe to run twice: a released order is no
    longer approved."""
    from django.utils import timezone

    from .services import orders_release

    moment = dt.datetime.fromisoformat(now) if now else timezone.now()
    return orders_release(now=moment, market=market).as_dict()


@shared_task(acks_late=True)
def settle_due(as_of: str | None = None) -> dict:
    """The beat's settlement pass for `as_of` (ISO date, default today): allocated orders,
    released FX and approved cash transfers due by then settle where the market and currency
    calendars allow."""
    from django.utils import timezone

    from .services import settlements_run

    day = dt.date.fromisoformat(as_of) if as_of else timezone.localdate()
    report = settlements_run(as_of=day)
    return {"as_of": day.isoformat(), "settled": report.settled, "fx_settled": report.fx_settled,
            "transfers_settled": report.transfers_settled, "failed": report.failed, "waiting": report.waiting}
