"""Celery path: split the book into id-range chunks, one task per chunk (ids in, idempotent)."""
from __future__ import annotations

import datetime as dt

from celery import shared_task


@shared_task(bind=True, max_retries=3, acks_late=True)
def rebalance_chunk(self, key: str, lo: int, hi: int, chunk: int, trade_date: str, where: str = "1 = 1",
                    params: list | None = None, dry_run: bool = False) -> dict:
    """Rebalance active accounts with lo <= id <= hi. A retried or repeated chunk is skipped."""
    from .services import rebalance_run

    stats = rebalance_run(where=f"({where}) AND a.id BETWEEN %s AND %s", params=[*(params or []), lo, hi],
                          trade_date=dt.date.fromisoformat(trade_date), key=key, chunk=chunk, dry_run=dry_run)
    stats.pop("_result", None)
    stats.pop("_book", None)
    return stats


def rebalance_in_chunks(*, key: str, trade_date: dt.date, chunk_size: int = 5000, where: str = "1 = 1",
                        params: list | None = None, dry_run: bool = False) -> list:
    """Queue one task per chunk of account ids (each chunk is idempotent under `key`)."""
    from django.db import connection

    from accounts.models import Account

    with connection.cursor() as cur:
        cur.execute(f"SELECT a.id FROM {Account._meta.db_table} a WHERE a.status = 'active' AND ({where}) "
                    "ORDER BY a.id", params or [])
        ids = [r[0] for r in cur.fetchall()]
    results = []
    for n, start in enumerate(range(0, len(ids), chunk_size)):
        part = ids[start:start + chunk_size]
        results.append(rebalance_chunk.delay(key, part[0], part[-1], n, trade_date.isoformat(), where,
                                             params or [], dry_run))
    return results


@shared_task(acks_late=True)
def release_open_markets(now: str | None = None, market: str | None = None) -> dict:
    """The beat's release wave: approved orders whose market is open at `now` (ISO instant,
    default the worker's clock) go out in blocks. Safe to run twice: a released order is no
    longer approved."""
    from django.utils import timezone

    from .services import orders_release

    moment = dt.datetime.fromisoformat(now) if now else timezone.now()
    report = orders_release(now=moment, market=market)
    return {"now": report.now.isoformat(), "released": report.released,
            "blocks": [b.reference for b in report.blocks], "skipped_markets": report.skipped_markets,
            "held": report.held}
