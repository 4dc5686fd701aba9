"""The audit trail's hash chain: each audit row carries a SHA-256 chained to the row before it in
its firm's chain, so that a row changed, removed or reordered behind the database's triggers
shows.

Layout
------
- `AuditEvent.chain_seq` is the row's place in its chain (1, 2, 3, ...), `prev_hash` the hash of
  the row before it ("" for the first), `hash` = SHA-256 of `prev_hash` and the row's canonical
  content (`canonical`: the place, id, firm, actor, subject, event, states, reason, detail, time).
- One chain per firm; events without a firm (platform events) form one more chain, key 0.
- `AuditChainHead` is each chain's watermark: the last place, row id and hash.

Why after commit, in batches
----------------------------
Chaining inside the writing transaction needs the chain's head locked from the first audit row a
transaction writes until it commits: every write of a firm would queue behind the one before
(`bench_audit_chain` measures it; figures in README "Security"). It would also miss rows written
set-wise by SQL (reconciliation writes thousands in one statement). So rows are written
unchained and `chain_pending` (the `audit_chain` command, a Celery beat task every minute) chains
every committed unchained row, per firm in id order, under a lock on that firm's head only; the
database lets an unchained row's chain columns be set once and nothing else change.

A row that commits late (a long transaction whose ids are below rows chained already) is
appended at the end of its chain when it is seen: the chain's order is `chain_seq`, not the id.

`verify` walks every chain in order and stops at the first row that does not prove: a place
missing (a row deleted), a `prev_hash` that is not the previous row's hash (a row deleted or
moved), content whose hash differs (a row changed), or a chain shorter than its watermark (its
last rows deleted). `audit_verify` (command; nightly beat task) raises an `AuditIntegrityAlert`
for the officers and logs an error when a chain fails.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import Q

from .models import AuditChainHead, AuditEvent, AuditIntegrityAlert, Firm

logger = logging.getLogger("meridian.audit")

CONTENT_FIELDS = ("id", "firm_id", "actor_id", "subject_type", "subject_id", "event_type", "from_state", "to_state",
                  "reason", "detail", "created_at")
BATCH = 5000


def _when(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat()


def canonical(seq: int, row: dict[str, Any]) -> bytes:
    """The bytes a row's hash covers: its place in the chain and every content column, as JSON with
    sorted keys (the same bytes whichever database returned the row)."""
    content = [seq] + [_when(row[name]) if name == "created_at" else row[name] for name in CONTENT_FIELDS]
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def row_hash(prev_hash: str, seq: int, row: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(seq, row)).hexdigest()


def _chain_filter(key: int) -> Q:
    return Q(firm__isnull=True) if key == 0 else Q(firm_id=key)


def _pending_keys() -> list[int]:
    keys = AuditEvent.objects.filter(chain_seq__isnull=True).values_list("firm_id", flat=True).distinct()
    return sorted({k or 0 for k in keys})


@dataclass
class ChainReport:
    chained: int = 0
    chains: dict[int, int] = field(default_factory=dict)  # chain key -> rows chained now


def chain_pending(*, keys: Iterable[int] | None = None, batch: int = BATCH) -> ChainReport:
    """Chain every committed unchained audit row, per chain in id order, in batches of `batch`
    (one transaction each, holding only that chain's head). Safe to run twice or concurrently."""
    report = ChainReport()
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    update = f"UPDATE {table} SET chain_seq = %s, prev_hash = %s, hash = %s WHERE id = %s AND chain_seq IS NULL"
    for key in (sorted(set(keys)) if keys is not None else _pending_keys()):
        AuditChainHead.objects.get_or_create(chain_key=key)
        while True:
            with transaction.atomic():
                head = AuditChainHead.objects.select_for_update().get(chain_key=key)
                rows = list(AuditEvent.objects.filter(_chain_filter(key), chain_seq__isnull=True)
                            .order_by("id").values(*CONTENT_FIELDS)[:batch])
                if not rows:
                    break
                seq, prev, params = head.last_seq, head.last_hash, []
                for row in rows:
                    seq += 1
                    digest = row_hash(prev, seq, row)
                    params.append((seq, prev, digest, row["id"]))
                    prev = digest
                with connection.cursor() as cursor:
                    cursor.executemany(update, params)
                AuditChainHead.objects.filter(pk=head.pk).update(last_seq=seq, last_hash=prev,
                                                                  last_event_id=rows[-1]["id"])
            report.chained += len(rows)
            report.chains[key] = report.chains.get(key, 0) + len(rows)
            if len(rows) < batch:
                break
    return report


@dataclass(frozen=True)
class ChainBreak:
    """The first row of a chain that does not prove."""

    chain_key: int
    event_id: int
    problem: str
    expected: str
    found: str

    @property
    def firm_id(self) -> int | None:
        return self.chain_key or None

    def __str__(self) -> str:
        firm = f"firm {self.chain_key}" if self.chain_key else "the platform"
        return (f"audit chain of {firm} broken at row {self.event_id}: {self.problem} "
                f"(expected {self.expected or '-'}, found {self.found or '-'})")


@dataclass
class VerifyReport:
    chains: int = 0
    rows: int = 0
    breaks: list[ChainBreak] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks


def _rows(key: int) -> Iterator[dict[str, Any]]:
    return (AuditEvent.objects.filter(_chain_filter(key), chain_seq__isnull=False).order_by("chain_seq")
            .values(*CONTENT_FIELDS, "chain_seq", "prev_hash", "hash").iterator(chunk_size=BATCH))


def verify_chain(key: int, head: AuditChainHead | None) -> tuple[int, ChainBreak | None]:
    """Walk one chain from its first row; (rows proved, the first break or None)."""
    prev, expected_seq, last_id, count = "", 1, 0, 0
    for row in _rows(key):
        if row["chain_seq"] != expected_seq:
            return count, ChainBreak(key, row["id"], "a row before it is missing (place in the chain)",
                                     str(expected_seq), str(row["chain_seq"]))
        if row["prev_hash"] != prev:
            return count, ChainBreak(key, row["id"], "does not follow the row before it", prev, row["prev_hash"])
        digest = row_hash(prev, expected_seq, row)
        if digest != row["hash"]:
            return count, ChainBreak(key, row["id"], "content changed since it was chained", digest, row["hash"])
        prev, last_id, count, expected_seq = digest, row["id"], count + 1, expected_seq + 1
    if head is not None and (head.last_seq != count or head.last_hash != prev):
        return count, ChainBreak(key, head.last_event_id, f"the chain ends at place {count} after row {last_id}, "
                                 f"its watermark at place {head.last_seq}: rows removed from the end",
                                 head.last_hash, prev)
    return count, None


def verify() -> VerifyReport:
    """Prove every chain (each firm's and the platform's); the first break of each that fails."""
    report = VerifyReport()
    heads = {h.chain_key: h for h in AuditChainHead.objects.all()}
    chained = AuditEvent.objects.filter(chain_seq__isnull=False).values_list("firm_id", flat=True).distinct()
    for key in sorted(set(heads) | {k or 0 for k in chained}):
        count, broken = verify_chain(key, heads.get(key))
        report.chains += 1
        report.rows += count
        if broken is not None:
            report.breaks.append(broken)
    return report


def verify_and_alert() -> VerifyReport:
    """Chain what is pending, prove every chain, and for each break raise an alert for the officers
    (once per break) and log an error. The nightly beat task."""
    from .audit import record_event

    chain_pending()
    report = verify()
    for broken in report.breaks:
        logger.error("%s", broken)
        firm = Firm.objects.filter(pk=broken.firm_id).first() if broken.firm_id else None
        with transaction.atomic():
            alert, created = AuditIntegrityAlert.objects.get_or_create(
                firm=firm, event_id=broken.event_id, problem=broken.problem[:200], acknowledged_at=None,
                defaults={"expected": broken.expected[:64], "found": broken.found[:64]})
            if created:
                record_event(subject=alert, event_type="audit.chain_broken", firm=firm, reason=str(broken),
                             detail={"event_id": broken.event_id, "expected": broken.expected, "found": broken.found})
    return report


def alert_acknowledge(*, alert: AuditIntegrityAlert, actor: Any) -> AuditIntegrityAlert:
    """An officer has seen the alert (and taken it up outside the system); audited."""
    from django.utils import timezone

    from .audit import record_event

    with transaction.atomic():
        locked = AuditIntegrityAlert.objects.select_for_update().get(pk=alert.pk)
        if locked.acknowledged_at is None:
            locked.acknowledged_at, locked.acknowledged_by = timezone.now(), actor
            locked.save(update_fields=["acknowledged_at", "acknowledged_by"])
            record_event(subject=locked, event_type="audit.chain_alert_acknowledged", actor=actor, firm=locked.firm,
                         from_state="raised", to_state="acknowledged")
    return locked
