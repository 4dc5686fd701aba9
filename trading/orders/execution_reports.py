"""Execution reports (CSV) parsed and validated whole before anything is written (no ORM)."""
from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

REQUIRED = ["exec_id", "cl_ord_id", "last_qty", "last_px", "transact_time"]


@dataclass(frozen=True)
class ExecutionRow:
    line: int
    exec_id: str
    cl_ord_id: str
    last_qty: Decimal
    last_px: Decimal
    transact_time: dt.datetime
    venue: str


class ExecutionFileError(Exception):
    def __init__(self, message: str, *, file: str, line: int | None = None, field: str | None = None):
        super().__init__(message)
        self.file, self.line, self.field = file, line, field


def _checked(reader, file: str):
    """Rows of a csv reader; a csv.Error (a field over the size limit...) names the line."""
    rows = iter(reader)
    while True:
        try:
            yield next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            line = reader.reader.line_num  # the line being read (DictReader.line_num lags by one)
            raise ExecutionFileError(f"{file}: line {line}: field row: {exc}", file=file, line=line, field="row") from None


def parse_execution_reports(content: str, *, file: str) -> list[ExecutionRow]:
    reader = csv.DictReader(io.StringIO(content))
    try:
        header = reader.fieldnames
    except csv.Error as exc:  # e.g. a field over the csv module's size limit
        raise ExecutionFileError(f"{file}: line 1: field header: {exc}", file=file, line=1, field="header") from None
    missing = [c for c in REQUIRED if c not in (header or [])]
    if missing:
        raise ExecutionFileError(f"{file}: line 1: missing column(s) {', '.join(missing)}", file=file, line=1,
                                 field=missing[0])
    rows: list[ExecutionRow] = []
    seen: set[str] = set()
    for n, raw in enumerate(_checked(reader, file), start=2):
        def bad(field: str, why: str, n: int = n) -> ExecutionFileError:
            return ExecutionFileError(f"{file}: line {n}: field {field}: {why}", file=file, line=n, field=field)

        exec_id = (raw.get("exec_id") or "").strip()
        if not exec_id:
            raise bad("exec_id", "is empty")
        if exec_id in seen:
            raise bad("exec_id", f"duplicate {exec_id!r}")
        seen.add(exec_id)
        cl = (raw.get("cl_ord_id") or "").strip()
        if not cl:
            raise bad("cl_ord_id", "is empty")
        values = {}
        for field in ("last_qty", "last_px"):
            try:
                values[field] = Decimal((raw.get(field) or "").strip())
            except InvalidOperation:
                raise bad(field, f"not a decimal: {raw.get(field)!r}") from None
            if not values[field].is_finite() or values[field] <= 0:
                raise bad(field, "must be positive")
        try:
            when = dt.datetime.fromisoformat((raw.get("transact_time") or "").strip())
        except ValueError:
            raise bad("transact_time", f"not an ISO timestamp: {raw.get('transact_time')!r}") from None
        if when.tzinfo is None:
            raise bad("transact_time", "needs a UTC offset")
        venue = (raw.get("venue") or "").strip()
        from onboarding.columns import column_problem

        from ..models import Fill

        for field, column, value in (("exec_id", "exec_id", exec_id), ("venue", "venue", venue),
                                     ("last_qty", "quantity", values["last_qty"]),
                                     ("last_px", "price", values["last_px"])):
            why = column_problem(Fill, column, value)
            if why:
                raise bad(field, why)
        rows.append(ExecutionRow(n, exec_id, cl, values["last_qty"], values["last_px"], when, venue))
    return rows
