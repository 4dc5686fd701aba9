"""Bulk reads into numpy and bulk writes from it.

On PostgreSQL a query's rows come out with `COPY (...) TO STDOUT (FORMAT binary)`, every
column cast to int8 or float8 in SQL, and are decoded by numpy in one pass; rows go in with
binary COPY of fixed-width columns into a staging table and one set-oriented INSERT ... SELECT.
Elsewhere (SQLite in tests) the same SQL runs through the cursor."""
from __future__ import annotations

import numpy as np
from django.db import connection

PG_HEADER = 19


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def fetch(sql: str, params: list | tuple = (), kinds: str = "") -> list[np.ndarray]:
    """Run `sql` (each column already cast to an integer or a float); `kinds` has one letter per
    column: 'i' for int64, 'f' for float64. NULLs must be coalesced in SQL."""
    n = len(kinds)
    if is_postgres():
        with connection.cursor() as cur:
            raw = cur.cursor if hasattr(cur, "cursor") else cur
            chunks = []
            with raw.copy(f"COPY ({sql}) TO STDOUT (FORMAT binary)", params or None) as copy:
                for chunk in copy:
                    chunks.append(bytes(chunk))
        buf = b"".join(chunks)
        row = 2 + 12 * n
        rows = (len(buf) - PG_HEADER - 2) // row
        fields = [("n", ">i2")]
        for i, k in enumerate(kinds):
            fields += [(f"l{i}", ">i4"), (f"v{i}", ">i8" if k == "i" else ">f8")]
        arr = np.frombuffer(buf, dtype=np.dtype(fields), count=rows, offset=PG_HEADER)
        return [arr[f"v{i}"].astype(np.int64 if k == "i" else np.float64) for i, k in enumerate(kinds)]
    with connection.cursor() as cur:
        cur.execute(sql.replace("::int8", "").replace("::float8", ""), params)
        data = cur.fetchall()
    if not data:
        return [np.zeros(0, dtype=np.int64 if k == "i" else np.float64) for k in kinds]
    cols = list(zip(*data))
    return [np.asarray(c, dtype=np.int64 if k == "i" else np.float64) for c, k in zip(cols, kinds)]


def copy_binary(table: str, columns: list[str], arrays: list[np.ndarray], kinds: str) -> None:
    """Binary COPY of int8 ('i'), float8 ('f') and int4 ('d', days since 2000-01-01 as date) columns."""
    n = len(arrays[0]) if arrays else 0
    fields = [("n", ">i2")]
    for i, k in enumerate(kinds):
        fields += [(f"l{i}", ">i4"), (f"v{i}", {"i": ">i8", "f": ">f8", "d": ">i4"}[k])]
    rec = np.empty(n, dtype=np.dtype(fields))
    rec["n"] = len(kinds)
    for i, (k, a) in enumerate(zip(kinds, arrays)):
        rec[f"l{i}"] = 4 if k == "d" else 8
        rec[f"v{i}"] = a
    payload = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00" + rec.tobytes() + b"\xff\xff"
    with connection.cursor() as cur:
        raw = cur.cursor if hasattr(cur, "cursor") else cur
        with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT binary)") as copy:
            copy.write(payload)


def execute(sql: str, params: list | tuple = ()) -> int:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.rowcount
