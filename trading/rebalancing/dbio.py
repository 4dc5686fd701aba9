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
            buf = bytearray()  # one growing buffer: the rows are held once, not as chunks plus their join
            with raw.copy(f"COPY ({sql}) TO STDOUT (FORMAT binary)", params or None) as copy:
                for chunk in copy:
                    buf += chunk
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


# --- binary COPY straight into a table -----------------------------------------------------------

PG_EPOCH_DAYS = 10957  # 2000-01-01 - 1970-01-01


def _numeric_dtype(frac_groups: int) -> np.dtype:
    return np.dtype([("nd", ">i2"), ("w", ">i2"), ("sign", ">u2"), ("ds", ">i2"), ("d", ">i2", (4 + frac_groups,))])


def numeric_field(values: np.ndarray, scale: int) -> np.ndarray:
    """PostgreSQL binary numeric with `scale` decimals (0..12): four integer base-10000 digits
    (|value| < 1e16) and enough fractional ones; the server strips the zero groups. Exact to
    the float64 the engine computed."""
    fg = max(1, -(-scale // 4))
    v = np.asarray(values, dtype=np.float64)
    n = np.round(np.abs(v) * 10.0 ** scale)
    ip = np.floor(n / 10.0 ** scale)
    fp = ((n - ip * 10.0 ** scale) * 10.0 ** (4 * fg - scale)).astype(np.int64)
    ipi = ip.astype(np.int64)
    rec = np.empty(len(v), dtype=_numeric_dtype(fg))
    rec["nd"], rec["w"], rec["ds"] = 4 + fg, 3, scale
    rec["sign"] = np.where(v < 0, 0x4000, 0)
    for k in range(4):
        rec["d"][:, k] = (ipi // 10 ** (4 * (3 - k))) % 10000
    for k in range(fg):
        rec["d"][:, 4 + k] = (fp // 10 ** (4 * (fg - 1 - k))) % 10000
    return rec


def fixed_text(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """Byte strings prefix + zero-padded number, built arithmetically (no Python loop)."""
    numbers = np.asarray(numbers, dtype=np.int64)
    digits = (numbers[:, None] // (10 ** np.arange(width - 1, -1, -1, dtype=np.int64))) % 10 + 48
    pre = np.frombuffer(prefix.encode(), dtype=np.uint8)
    out = np.empty((len(numbers), len(pre) + width), dtype=np.uint8)
    out[:, :len(pre)] = pre
    out[:, len(pre):] = digits
    return out.view(f"S{len(pre) + width}").ravel()


def copy_records(table: str, columns: list[tuple[str, str, object]], n: int) -> None:
    """Binary COPY of n rows. Column kinds: 'i8', 'i4', 'date' (days since 1970 as int),
    'ts' (microseconds since 1970), 'bool', 'num<scale>' (float values), 'text' (a bytes constant
    or an S<k> array of one width), 'null'."""
    if n == 0:
        return
    fields = [("nf", ">i2")]
    plan = []
    for i, (name, kind, value) in enumerate(columns):
        fields.append((f"l{i}", ">i4"))
        if kind == "null":
            plan.append((i, kind, -1, None))
            continue
        if kind in ("i8", "ts"):
            dtype = np.dtype(">i8")
        elif kind in ("i4", "date"):
            dtype = np.dtype(">i4")
        elif kind == "bool":
            dtype = np.dtype("u1")
        elif kind.startswith("num"):
            dtype = _numeric_dtype(max(1, -(-int(kind[3:]) // 4)))
        elif kind == "text":
            dtype = np.dtype(f"S{len(value) if isinstance(value, bytes) else np.asarray(value).dtype.itemsize}")
        else:
            raise ValueError(kind)
        fields.append((f"v{i}", dtype))
        plan.append((i, kind, dtype.itemsize, value))
    rec = np.zeros(n, dtype=np.dtype(fields))
    rec["nf"] = len(columns)
    for i, kind, size, value in plan:
        rec[f"l{i}"] = size
        if kind == "null":
            continue
        if kind == "date":
            rec[f"v{i}"] = np.asarray(value) - PG_EPOCH_DAYS
        elif kind == "ts":
            rec[f"v{i}"] = np.asarray(value) - PG_EPOCH_DAYS * 86_400_000_000
        elif kind.startswith("num"):
            rec[f"v{i}"] = numeric_field(np.broadcast_to(value, (n,)), int(kind[3:]))
        else:
            rec[f"v{i}"] = value
    payload = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8 + rec.tobytes() + b"\xff\xff"
    with connection.cursor() as cur:
        raw = cur.cursor if hasattr(cur, "cursor") else cur
        with raw.copy(f"COPY {table} ({', '.join(c[0] for c in columns)}) FROM STDIN (FORMAT binary)") as copy:
            for start in range(0, len(payload), 1 << 24):
                copy.write(payload[start:start + (1 << 24)])
