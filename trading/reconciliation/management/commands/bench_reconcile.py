"""python manage.py bench_reconcile --positions N [--json]

Writes a synthetic custodian positions file of N rows (layout meridian_positions_csv) with
known injected differences, loads matching synthetic books, reconciles the file end to end
(parse, load, match, classify, write breaks) against the configured database, and prints one
JSON object. On PostgreSQL it also measures `io_floor_seconds`: COPY of the same file into a
table plus a bare hash join of it with our positions, in the same run."""
from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from pathlib import Path

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from onboarding.machine import machine
from trading.reconciliation import bench
from trading.reconciliation.models import (
    BookCorporateAction,
    BookPendingTrade,
    BookPosition,
    Break,
    CustodianFile,
    InstrumentIdentifier,
    ReconRun,
)
from trading.reconciliation.parsers.layouts import load_layout, sql_pushdown
from trading.reconciliation.services import reconcile_file

LAYOUT = "meridian_positions_csv"


def _load_books(buffers) -> None:
    _clear_runs()
    BookPosition.objects.filter(custodian_code=bench.CUSTODIAN).delete()
    BookPendingTrade.objects.filter(custodian_code=bench.CUSTODIAN).delete()
    InstrumentIdentifier.objects.all().delete()
    BookCorporateAction.objects.all().delete()
    targets = [
        (InstrumentIdentifier, ["kind", "value", "custodian_code", "instrument_id", "quantity_factor"], "identifiers"),
        (BookPosition, ["custodian_code", "custody_account", "instrument_id", "quantity", "price", "price_currency",
                        "fx_rate", "base_currency", "price_source", "as_of"], "books"),
        (BookPendingTrade, ["custodian_code", "custody_account", "instrument_id", "quantity", "cash_currency",
                            "cash_amount", "trade_date", "settle_date", "reference"], "pending"),
        (BookCorporateAction, ["instrument_id", "effective_date", "ratio", "description"], "corporate_actions"),
    ]
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cur:
            for model, cols, key in targets:
                with cur.copy(f"COPY {model._meta.db_table} ({', '.join(cols)}) FROM STDIN") as copy:
                    copy.write(buffers[key].getvalue())
        with connection.cursor() as cur:  # outside the transaction: as autovacuum would leave them
            for model, _, _ in targets:
                cur.execute(f"VACUUM ANALYZE {model._meta.db_table}")
        return
    with transaction.atomic():
        for model, cols, key in targets:
            objs = []
            for line in buffers[key].getvalue().splitlines():
                values = line.split("\t")
                objs.append(model(**{c: (v if v != "" or c in {"custodian_code", "cash_currency", "reference"}
                                         else None) for c, v in zip(cols, values)}))
            model.objects.bulk_create(objs, batch_size=5000)


def _clear_runs() -> None:
    from trading.reconciliation.models import ReconLine

    ReconLine.objects.filter(run__custodian_code=bench.CUSTODIAN).delete()
    Break.objects.filter(custodian_code=bench.CUSTODIAN).delete()
    ReconRun.objects.filter(custodian_code=bench.CUSTODIAN).delete()
    CustodianFile.objects.filter(custodian_code=bench.CUSTODIAN).delete()


def _io_floor(path: Path) -> float:
    """The least any engine must do: COPY the file, join it with our positions through the ISIN
    map, and write one result line per position (into a table shaped and indexed like
    ReconLine, logged like it), nothing else. Rolled back afterwards."""
    spec = load_layout(LAYOUT)
    push = sql_pushdown(spec)
    from trading.reconciliation.models import ReconLine
    from trading.reconciliation.sql import _q, copy_file

    lines = ReconLine._meta.db_table
    t = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"CREATE TEMP TABLE floor_stage ({', '.join(_q(c) + ' text' for c in spec['columns'])}) "
                    f"ON COMMIT DROP")
        copy_file(cur, "floor_stage", spec["columns"], path, push)
        cur.execute(f"CREATE TABLE floor_lines (LIKE {lines} INCLUDING ALL)")
        cur.execute(f"""INSERT INTO floor_lines (run_id, asset, custody_account, instrument_id, identifier, status,
              kind, rule, custodian_quantity, book_quantity, custodian_price, book_price, price_currency,
              custodian_fx, book_fx, book_price_source, custodian_source, line)
            SELECT 0, 'position', s.account, i.instrument_id, '', 'matched', '', '', s.quantity::numeric,
              b.quantity, s.price::float8, b.price_float, b.price_currency, s.fx_rate::float8, b.fx_float,
              b.price_source, '', 0
            FROM floor_stage s
            JOIN {InstrumentIdentifier._meta.db_table} i ON i.kind = 'isin' AND i.value = s.isin
            JOIN {BookPosition._meta.db_table} b ON b.custodian_code = %s AND b.custody_account = s.account
              AND b.instrument_id = i.instrument_id""", [bench.CUSTODIAN])
        elapsed = time.perf_counter() - t
        transaction.set_rollback(True)
    return elapsed


class Command(BaseCommand):
    help = "Benchmark the reconciliation end to end on a synthetic file with known differences."

    def add_arguments(self, parser):
        parser.add_argument("--positions", type=int, default=100_000)
        parser.add_argument("--as-of", dest="as_of", type=dt.date.fromisoformat, default=dt.date(2024, 1, 31))
        parser.add_argument("--repeat", type=int, default=1,
                            help="reconcile (and measure the floor) N times; figures are the best run, all runs listed")
        parser.add_argument("--keep-file", action="store_true")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        from trading.reconciliation.services import rules_load

        rules_load()  # the benchmark's layout is read from the database, as every run's is
        n = opts["positions"]
        workdir = Path(tempfile.mkdtemp(prefix="recon-bench-"))
        path = workdir / f"bench-{n}.csv"
        t = time.perf_counter()
        syn, buffers = bench.build(n, as_of=opts["as_of"], path=path)
        _load_books(buffers)
        setup = time.perf_counter() - t

        attempts = []
        for attempt in range(max(1, opts["repeat"])):
            if attempt:
                _clear_runs()
            t = time.perf_counter()
            outcome = reconcile_file(custodian_code=bench.CUSTODIAN, path=path, fmt=f"csv:{LAYOUT}",
                                     as_of=opts["as_of"])
            total = time.perf_counter() - t
            floor = _io_floor(path) if connection.vendor == "postgresql" else None
            found = set()
            for acct, iid, ident, kind, explained in Break.objects.filter(last_run=outcome.run).values_list(
                    "custody_account", "instrument_id", "identifier", "kind", "explained"):
                found.add((acct, iid if iid is not None else ident, kind, explained))
            attempts.append((total, floor, outcome, found))
        total, _, outcome, found = min(attempts, key=lambda a: a[0])
        floors = [a[1] for a in attempts if a[1] is not None]
        floor = min(floors) if floors else None
        run = outcome.run
        missing = sorted(syn.expected - found, key=str)[:10]
        unexpected = sorted(found - syn.expected, key=str)[:10]
        every_run_exact = all(a[3] == syn.expected for a in attempts)
        s = run.stats
        out = {
            "database": connection.vendor, "engine": run.engine, "positions": n,
            "file_rows": s.get("positions"), "file_mb": round(path.stat().st_size / 1e6, 1),
            "breaks": s.get("breaks"), "explained": s.get("explained"), "match_rate": s.get("match_rate"),
            "lines_recorded": s.get("lines"),
            "by_kind": s.get("by_kind"),
            "seconds_parse": round(outcome.timings.get("seconds_parse", 0), 3),
            "seconds_load": round(outcome.timings.get("seconds_load", 0), 3),  # ORM staging (numpy path)
            "seconds_match": round(outcome.timings.get("seconds_match", 0), 3),
            "seconds_write": round(outcome.timings.get("seconds_write", 0), 3),
            "seconds_commit": round(outcome.timings.get("seconds_commit", 0), 3),
            "seconds_hash_and_keep_file": round(outcome.timings.get("seconds_hash", 0), 3),
            "seconds_total": round(total, 3),
            "io_floor_seconds": round(floor, 3) if floor is not None else None,
            "ratio_to_floor": round(total / floor, 2) if floor else None,
            "runs": [{"seconds_total": round(a[0], 3), "io_floor_seconds": round(a[1], 3) if a[1] else None,
                      "ratio": round(a[0] / a[1], 2) if a[1] else None} for a in attempts],
            "seconds_setup": round(setup, 3),
            "injected": syn.counts, "expected_differences": len(syn.expected),
            "exact": not missing and not unexpected and every_run_exact,
        }
        if missing or unexpected:
            out["missing"] = [list(x) for x in missing]
            out["unexpected"] = [list(x) for x in unexpected]
        out.update(machine())  # load average beside the figures
        if not opts["keep_file"]:
            path.unlink()
            workdir.rmdir()
        self.stdout.write(json.dumps(out, default=str) if opts["json"] else json.dumps(out, indent=2, default=str))
