"""What chaining the audit trail inside the writing transaction would cost, against chaining after
commit in batches (what Meridian does). Prints one JSON object.

    python manage.py bench_audit_chain --events 200 --writers 4 --work-ms 4 --json

Each writer runs transactions of one firm that do `work-ms` of other work (half before, half
after the audit row, as a service's other statements would) and write one audit event:
- `after_commit`: the event is written unchained (the production path); afterwards the batch
  chainer (`chain_pending`) is timed on the same rows;
- `in_transaction`: the transaction also locks the firm's chain head, hashes the row onto the
  chain and moves the head, holding the lock until it commits.
Both run once with one writer and once with `--writers` writers (threads, one connection each;
on SQLite, whose writes are serialised anyway, with one writer only). Rows go to two new bench
firms (the audit trail is append-only: they stay)."""
from __future__ import annotations

import json
import secrets
import statistics
import threading
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, connections, transaction

from onboarding.audit import record_event
from onboarding.audit_chain import CONTENT_FIELDS, chain_pending, row_hash
from onboarding.machine import machine
from onboarding.models import AuditChainHead, AuditEvent, Firm


def _chain_in_transaction(event: AuditEvent) -> None:
    """The alternative measured: chain one row inside its own transaction."""
    key = event.firm_id or 0
    head = AuditChainHead.objects.select_for_update().get(chain_key=key)
    row = AuditEvent.objects.filter(pk=event.pk).values(*CONTENT_FIELDS).get()
    seq = head.last_seq + 1
    digest = row_hash(head.last_hash, seq, row)
    AuditEvent.objects.filter(pk=event.pk, chain_seq__isnull=True).update(chain_seq=seq, prev_hash=head.last_hash,
                                                                         hash=digest)
    AuditChainHead.objects.filter(pk=head.pk).update(last_seq=seq, last_hash=digest, last_event_id=event.pk)


def _write(firm: Firm, count: int, work: float, in_transaction: bool, latencies: list[float]) -> None:
    for i in range(count):
        start = time.perf_counter()
        with transaction.atomic():
            time.sleep(work / 2)
            event = record_event(subject=firm, event_type="bench.audit", firm=firm, detail={"i": i})
            if in_transaction:
                _chain_in_transaction(event)
            time.sleep(work / 2)
        latencies.append(time.perf_counter() - start)


def _run(firm: Firm, events: int, writers: int, work: float, in_transaction: bool) -> dict[str, Any]:
    latencies: list[float] = []
    share = [events // writers + (1 if i < events % writers else 0) for i in range(writers)]
    start = time.perf_counter()
    if writers == 1:
        _write(firm, events, work, in_transaction, latencies)
    else:
        def worker(n: int) -> None:
            try:
                _write(firm, n, work, in_transaction, latencies)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=worker, args=(n,)) for n in share]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    seconds = time.perf_counter() - start
    ordered = sorted(latencies)
    return {"writers": writers, "events": len(latencies), "seconds": round(seconds, 3),
            "events_per_s": round(len(latencies) / seconds, 1) if seconds else None,
            "p50_ms": round(statistics.median(ordered) * 1000, 2) if ordered else None,
            "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000, 2) if ordered else None}


class Command(BaseCommand):
    help = "Audit chaining in the writing transaction vs after commit in batches (JSON)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--events", type=int, default=200)
        parser.add_argument("--writers", type=int, default=4)
        parser.add_argument("--work-ms", type=float, default=4.0)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        events, work = options["events"], options["work_ms"] / 1000
        writers = options["writers"] if connection.vendor == "postgresql" else 1
        tag = secrets.token_hex(3)
        firms = {mode: Firm.objects.create(name=f"Bench audit {mode} {tag}", kind="ria", home_jurisdiction="GB")
                 for mode in ("after_commit", "in_transaction")}
        for firm in firms.values():
            AuditChainHead.objects.get_or_create(chain_key=firm.pk)
        result: dict[str, Any] = {"database": connection.vendor, "events": events, "work_ms": options["work_ms"],
                                  "after_commit": {}, "in_transaction": {}}
        for n in sorted({1, writers}):
            for mode, firm in firms.items():
                result[mode][f"writers_{n}"] = _run(firm, events, n, work, mode == "in_transaction")
        start = time.perf_counter()
        chained = chain_pending(keys=[firms["after_commit"].pk]).chained
        seconds = time.perf_counter() - start
        result["after_commit"]["batch_chain"] = {"rows": chained, "seconds": round(seconds, 3),
                                                 "rows_per_s": round(chained / seconds, 1) if seconds else None}
        top = f"writers_{writers}"
        result["in_transaction_slowdown"] = round(
            result["after_commit"][top]["events_per_s"] / result["in_transaction"][top]["events_per_s"], 2)
        # exactness: both chains prove
        from onboarding.audit_chain import verify_chain

        result["chains_prove"] = all(
            verify_chain(f.pk, AuditChainHead.objects.get(chain_key=f.pk))[1] is None for f in firms.values())
        result.update(machine())
        self.stdout.write(json.dumps(result) if options["json"] else json.dumps(result, indent=2))
