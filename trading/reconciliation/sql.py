"""The PostgreSQL path: the same rules as `matching.py`, done set-wise in the database.

1. COPY the raw file into a temporary staging table whose columns are the layout's columns
   (HEADER MATCH checks the header); a COPY error names the file's line.
2. One statement converts the text by the layout's expressions, maps identifiers to our
   instruments (ISIN, CUSIP, SEDOL, ticker + MIC, custodian code in that order: the strongest
   key that maps wins; one hash join on the strongest key present, an index lookup for the rare
   line whose strongest key is unknown but which carries a weaker one), converts quantities (ADR factor) and price units,
   aggregates per (custody account, instrument), FULL OUTER hash joins our positions, joins
   pending trades and corporate actions, classifies, and keeps only the differences. A value
   that does not convert refuses the file, naming the first bad line and field.
3. Breaks are upserted under the same stable key as the ORM path (sha256 of custodian,
   account, asset, instrument) by a handful of UPDATE/INSERT ... RETURNING statements, each
   writing its audit events in the same statement.
"""
from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path

import psycopg
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from onboarding.audit import record_event
from onboarding.models import AuditEvent

from . import selectors
from .exceptions import FileRefused
from .models import (
    BookPosition,
    Break,
    CustodianFile,
    ReconRun,
    RunStatus,
)
from .parsers.layouts import sql_pushdown
from .policy import price_units, sla_rules, tolerances_for
from .services import RunOutcome

COPY_CHUNK = 1 << 20


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def copy_file(cur, table: str, columns: list[str], path: Path, push: dict, *, header_match: bool = True) -> int:
    opts = ["FORMAT csv", f"DELIMITER {_lit(push['delimiter'])}", f"QUOTE {_lit(push['quotechar'])}",
            f"ENCODING {_lit(push['encoding'].upper().replace('-', ''))}"]
    if push["header"]:
        opts.append("HEADER MATCH" if header_match else "HEADER true")
    sql = f"COPY {table} ({', '.join(_q(c) for c in columns)}) FROM STDIN ({', '.join(opts)})"
    with path.open("rb") as f, cur.copy(sql) as copy:
        while chunk := f.read(COPY_CHUNK):
            copy.write(chunk)
    return cur.rowcount


def _copy_error_line(exc: Exception) -> int | None:
    diag = getattr(exc, "diag", None) or getattr(getattr(exc, "__cause__", None), "diag", None)
    text = f"{getattr(diag, 'context', '') or ''} {exc}"
    m = re.search(r"COPY \w+, line (\d+)", text) or re.search(r"line (\d+)", text)
    return int(m.group(1)) if m else None


def _classify_sql(push: dict, columns: list[str], *, custodian: str, as_of: dt.date, basis: str, tol, units,
                  aggregate: bool = False, run_id: int | None = None, source: str = "") -> str:
    """`aggregate=False` is the fast path for files with one line per (account, instrument);
    the caller checks that assumption on the result and reruns with `aggregate=True` if not."""
    e = {k: v for k, v in push["exprs"].items()}
    # raw columns are named after the layout's columns; exprs use c<i>
    for i, col in enumerate(columns):
        for k in e:
            e[k] = re.sub(rf"\bc{i}\b", f"s.{_q(col)}", e[k])

    def f(name: str, default: str = "''") -> str:
        return e.get(name, default)

    # minor-unit price currencies (GBX, ZAc, ...) as CASE expressions: no join over every line
    unit_ccy = "CASE c.pccy " + " ".join(f"WHEN {_lit(code)} THEN {_lit(ccy)}" for code, (ccy, _d) in units.items()) \
        + " ELSE c.pccy END" if units else "c.pccy"
    unit_div = "CASE c.pccy " + " ".join(f"WHEN {_lit(code)} THEN {float(div)!r}::float8"
                                         for code, (_c, div) in units.items()) + " ELSE 1::float8 END" \
        if units else "1::float8"
    pend_filter = "TRUE" if basis == "SETT" else "FALSE"
    w = tol.corporate_action_window_days
    cust = _lit(custodian)
    qtol = int(tol.quantity_absolute * 10**6)
    passes = [("isin", "NULLIF(c.isin, '')", "custodian_code = ''"), ("cusip", "NULLIF(c.cusip, '')", "custodian_code = ''"),
              ("sedol", "NULLIF(c.sedol, '')", "custodian_code = ''"),
              ("ticker_mic", "CASE WHEN c.ticker <> '' THEN c.ticker || '@' || c.mic END", "custodian_code = ''"),
              ("custodian_code", "NULLIF(c.ccode, '')", f"custodian_code IN ('', {cust})")]
    needed = {"isin": "isin", "cusip": "cusip", "sedol": "sedol", "ticker_mic": "ticker", "custodian_code": "custodian_code"}
    used = [(passes.index(p), *p) for p in passes if needed[p[0]] in push["exprs"]]
    # One hash join resolves a line by its strongest identifier present (the map is keyed by
    # (pass, value)). Only a line whose strongest identifier is unknown to us but which carries a
    # weaker one is looked up again, pass by pass through the map's unique index: the same
    # result as one join per pass (the strongest key that resolves wins), without probing every
    # line once per pass.
    if used:
        keys = [key for _, _, key, _ in used]
        map_rows = " OR ".join(f"(kind = {_lit(name)} AND {cond})" for _, name, _, cond in used)
        pass_of_kind = "CASE kind " + " ".join(f"WHEN {_lit(name)} THEN {g}" for g, name, _, _ in used) + " END"
        # (kind, value) is unique but for custodian codes, shared ('') or one custodian's own:
        # the custodian's own wins
        distinct, order = ("DISTINCT ON (pass, value) ", " ORDER BY pass, value, custodian_code DESC") \
            if any(name == "custodian_code" for _, name, _, _ in used) else ("", "")
        idmap = (f"(SELECT {distinct}{pass_of_kind} AS pass, value, instrument_id, quantity_factor::float8 AS f "
                 f"FROM reconciliation_instrumentidentifier WHERE {map_rows}{order})")
        kp = "CASE " + " ".join(f"WHEN {key} IS NOT NULL THEN {g}" for g, _, key, _ in used) + " END"
        kv = f"COALESCE({', '.join(keys)})"
        probes = ", ".join(f"({g}, {_lit(name)}, {key})" for g, name, key, _ in used)
        fb = (f"CASE WHEN m.instrument_id IS NULL AND num_nonnulls({', '.join(keys)}) > 1 THEN ("
              f"SELECT ROW(k.p, i.instrument_id, i.quantity_factor::float8)::recon_pass FROM (VALUES {probes}) k(p, kind, v) "
              f"JOIN reconciliation_instrumentidentifier i ON i.kind = k.kind AND i.value = k.v "
              f"WHERE i.custodian_code = '' OR (i.kind = 'custodian_code' AND i.custodian_code = {cust}) "
              f"ORDER BY k.p, i.custodian_code DESC LIMIT 1) END")
        joins = f"LEFT JOIN {idmap} m ON m.pass = {kp} AND m.value = {kv}"
        fb_sql = f"({fb})"
        iid = f"COALESCE(m.instrument_id, ({fb_sql}).iid)"
        factor = f"COALESCE(m.f, ({fb_sql}).f)"
        pass_case = f"COALESCE(m.pass, ({fb_sql}).pass)"
    else:
        joins, iid, factor, pass_case = "", "NULL::int8", "NULL::float8", "NULL::int"
    ident = ("COALESCE(NULLIF(isin, ''), NULLIF(cusip, ''), NULLIF(sedol, ''), "
             "NULLIF(ticker || CASE WHEN ticker <> '' THEN '@' || mic ELSE '' END, ''), ccode)")
    qconv = "CASE WHEN factor IS NULL OR factor = 1 THEN qty ELSE round(qty * factor)::int8 END"
    if aggregate:
        cg = f"""  -- per (account, instrument); unidentified lines per (account, the identifier they carry)
  SELECT acct, iid, iid IS NULL AS unknown, sum({qconv}) AS qc,
         min(line) AS line, min(pass) AS pass, min(price_n / COALESCE(factor, 1)) AS pc, min(ccy_n) AS ccyc,
         min(fx) AS fxc, min({ident}) FILTER (WHERE iid IS NULL) AS ident
  FROM r GROUP BY acct, iid, CASE WHEN iid IS NULL THEN {ident} END"""
    else:
        cg = f"""  SELECT acct, iid, iid IS NULL AS unknown, {qconv} AS qc, line, pass, price_n / COALESCE(factor, 1) AS pc,
         ccy_n AS ccyc, fx AS fxc, CASE WHEN iid IS NULL THEN {ident} END AS ident
  FROM r OFFSET 0  -- a fence: convert each line's text once"""
    cause = f"""CASE kind WHEN 'pending_settlement' THEN 'trade pending settlement after the statement date'
              WHEN 'unknown_instrument' THEN 'no identifier maps to our instruments'
              WHEN 'corporate_action' THEN CASE WHEN ca_open THEN 'corporate action announced, entitlement not yet booked' ELSE 'split or consolidation booked on one side only' END
              WHEN 'price' THEN CASE WHEN ccyc <> ccyb THEN 'price currency differs'
                                     ELSE 'price differs beyond the price-source band' END
              WHEN 'market_value' THEN CASE WHEN abs(pc - pb) > {tol.price_relative} * abs(pb) THEN 'price source'
                                            ELSE 'fx rate source' END
              ELSE '' END"""
    lines_cte = "" if run_id is None else f""", lines AS (
  -- every line compared, matched ones included, with both figures (the same record as write_lines)
  INSERT INTO reconciliation_reconline (run_id, asset, custody_account, instrument_id, identifier, status, kind, rule,
    custodian_quantity, book_quantity, custodian_price, book_price, price_currency, custodian_fx, book_fx,
    book_price_source, custodian_source, amount_local, amount_base, line)
  SELECT {int(run_id)}, 'position', acct, CASE WHEN unknown THEN NULL ELSE iid END,
    CASE WHEN unknown THEN COALESCE(ident, '') ELSE '' END,
    CASE WHEN kind IS NULL THEN 'matched' WHEN (kind = 'pending_settlement' OR (kind = 'corporate_action' AND ca_open)) THEN 'explained' ELSE 'break' END,
    COALESCE(kind, ''),
    CASE WHEN kind IS NULL THEN COALESCE('matched by ' || (ARRAY['isin', 'cusip', 'sedol', 'ticker_mic',
      'custodian_code'])[pass + 1], 'matched') ELSE COALESCE(NULLIF({cause}, ''), kind) END,
    -- micro-units to units: an exact multiplication (scale 6 <= the column's 8), cheaper than numeric division
    COALESCE(qc, 0)::numeric * 0.000001, COALESCE(qb, 0)::numeric * 0.000001, pc, pb,
    left(COALESCE(NULLIF(ccyb, ''), ccyc, ''), 3), fxc, fxb, COALESCE(psb, ''), {_lit(source[:60])},
    COALESCE(CASE kind
      WHEN 'price' THEN qb::float8 * 1e-6::float8 * (pc - pb)
      WHEN 'market_value' THEN qb::float8 * 1e-6::float8 * (pc - pb)
      WHEN 'unknown_instrument' THEN qc::float8 * 1e-6::float8 * pc
      ELSE dq::float8 * 1e-6::float8 * COALESCE(pb, pc) END, 0),
    COALESCE(CASE kind
      WHEN 'price' THEN abs(qb::float8 * 1e-6::float8 * (pc - pb) * COALESCE(fxb, fxc))
      WHEN 'market_value' THEN abs(mvc - mvb)
      WHEN 'unknown_instrument' THEN abs(qc::float8 * 1e-6::float8 * pc * fxc)
      ELSE abs(dq)::float8 * 1e-6::float8 * COALESCE(pb, pc) * COALESCE(fxb, fxc) END, 0),
    NULLIF(line, 0)
  FROM cls
)"""
    return f"""
WITH c AS (
  SELECT s.line_no + {1 if push['header'] else 0} AS line, {f('account')} AS acct, {f('isin')} AS isin,
         {f('cusip')} AS cusip, {f('sedol')} AS sedol, {f('ticker')} AS ticker, {f('mic')} AS mic,
         {f('custodian_code')} AS ccode, {f('quantity', 'NULL::int8')} AS qty,
         {f('price', 'NULL::float8')} AS price, {f('price_currency')} AS pccy, {f('fx_rate', 'NULL::float8')} AS fx
  FROM recon_stage s
), r AS (
  SELECT c.*, {iid} AS iid, {factor} AS factor, {pass_case} AS pass,
    {unit_ccy} AS ccy_n, c.price / {unit_div} AS price_n
  FROM c
  {joins}
), cg AS (
{cg}
), b AS (
  SELECT custody_account AS acct, instrument_id AS iid, quantity_micro AS qb, price_float AS pb,
         price_currency AS ccyb, fx_float AS fxb, price_source AS psb
  FROM reconciliation_bookposition WHERE custodian_code = {cust}
), j AS (
  SELECT COALESCE(cg.acct, b.acct) AS acct, COALESCE(cg.iid, b.iid) AS iid, cg.qc, b.qb, cg.pc, b.pb,
         cg.ccyc, b.ccyb, cg.fxc, b.fxb, b.psb, cg.line, cg.pass, COALESCE(cg.unknown, false) AS unknown, cg.ident,
         COALESCE(cg.qc, 0) - COALESCE(b.qb, 0) AS dq
  FROM cg FULL OUTER JOIN b ON b.acct = cg.acct AND b.iid = cg.iid
), k AS (
  SELECT j.*,
    CASE WHEN abs(j.dq) > {qtol} THEN (
      SELECT sum(round(t.quantity * 1000000)::int8) FROM reconciliation_bookpendingtrade t
      WHERE {pend_filter} AND t.custodian_code = {cust} AND t.custody_account = j.acct AND t.instrument_id = j.iid
        AND t.trade_date <= {_lit(as_of)}::date AND t.settle_date > {_lit(as_of)}::date) END AS pend,
    CASE WHEN abs(j.dq) > {qtol} THEN (
      SELECT max(a.ratio)::float8 FROM reconciliation_bookcorporateaction a WHERE a.instrument_id = j.iid
        AND a.effective_date BETWEEN {_lit(as_of)}::date - {w} AND {_lit(as_of)}::date + {w}) END AS ratio,
    CASE WHEN abs(j.dq) > {qtol} THEN (  -- announced or confirmed, not booked: it explains
      SELECT max(a.ratio)::float8 FROM reconciliation_bookcorporateaction a WHERE a.instrument_id = j.iid
        AND a.status <> 'booked'
        AND a.effective_date BETWEEN {_lit(as_of)}::date - {w} AND {_lit(as_of)}::date + {w}) END AS ratio_open,
    abs(j.dq) > {qtol} AS qdiff,
    (j.qb::float8 * 1e-6::float8 * j.pc * COALESCE(j.fxc, j.fxb)) AS mvc,
    (j.qb::float8 * 1e-6::float8 * j.pb * j.fxb) AS mvb
  FROM j
  OFFSET 0
), cls AS (
  SELECT k.*,
    CASE
      WHEN unknown THEN 'unknown_instrument'
      WHEN qdiff THEN CASE
        WHEN pend IS NOT NULL AND pend <> 0 AND dq = -pend THEN 'pending_settlement'
        WHEN ratio_open IS NOT NULL AND (abs(qb * ratio_open - qc) < 0.5 OR abs(qc * ratio_open - qb) < 0.5)
          THEN 'corporate_action'
        WHEN ratio IS NOT NULL AND (abs(qb * ratio - qc) < 0.5 OR abs(qc * ratio - qb) < 0.5) THEN 'corporate_action'
        WHEN qb IS NULL THEN 'missing_in_books'
        WHEN qc IS NULL THEN 'missing_at_custodian'
        ELSE 'quantity' END
      WHEN qc IS NULL OR qb IS NULL THEN NULL
      WHEN ccyc <> '' AND ccyb <> '' AND ccyc <> ccyb THEN 'price'
      WHEN abs(pc - pb) > {tol.price_source_band_relative} * abs(pb) THEN 'price'
      WHEN abs(pc - pb) > {tol.price_relative} * abs(pb) AND abs(mvc - mvb) >= {tol.market_value_min_base}
        THEN 'market_value'
      WHEN abs(fxc - fxb) > {tol.fx_relative} * abs(fxb) AND abs(mvc - mvb) >= {tol.market_value_min_base}
        THEN 'market_value'
    END AS kind,
    COALESCE(ratio_open IS NOT NULL AND (abs(qb * ratio_open - qc) < 0.5 OR abs(qc * ratio_open - qb) < 0.5),
             false) AS ca_open
  FROM k
  OFFSET 0  -- a fence: classify each row once, not once per reference to kind
){lines_cte}, agg AS (
  -- one pass over the classified rows: the counts, and the differences gathered as an array
  SELECT count(*) AS nlines,  -- one line written per classified row
         count(*) FILTER (WHERE qc IS NOT NULL AND qb IS NOT NULL AND NOT unknown) AS pairs,
         count(*) FILTER (WHERE qb IS NOT NULL) AS book_side,
         count(*) FILTER (WHERE qc IS NOT NULL AND qb IS NOT NULL AND NOT unknown AND kind IS NULL) AS clean,
         array_agg(ROW(kind, (kind = 'pending_settlement' OR (kind = 'corporate_action' AND ca_open)),
    CASE kind WHEN 'pending_settlement' THEN 'trade pending settlement after the statement date'
              WHEN 'unknown_instrument' THEN 'no identifier maps to our instruments'
              WHEN 'corporate_action' THEN CASE WHEN ca_open THEN 'corporate action announced, entitlement not yet booked' ELSE 'split or consolidation booked on one side only' END
              WHEN 'price' THEN CASE WHEN ccyc <> ccyb THEN 'price currency differs'
                                     ELSE 'price differs beyond the price-source band' END
              WHEN 'market_value' THEN CASE WHEN abs(pc - pb) > {tol.price_relative} * abs(pb) THEN 'price source'
                                            ELSE 'fx rate source' END
              ELSE '' END,
    acct, CASE WHEN unknown THEN NULL ELSE iid END, COALESCE(ident, ''),
    COALESCE(qc, 0)::numeric * 0.000001, COALESCE(qb, 0)::numeric * 0.000001,
    pc, pb, fxc, fxb,
    round(COALESCE(CASE kind
      WHEN 'price' THEN abs(qb::float8 * 1e-6::float8 * (pc - pb) * COALESCE(fxb, fxc))
      WHEN 'market_value' THEN abs(mvc - mvb)
      WHEN 'unknown_instrument' THEN abs(qc::float8 * 1e-6::float8 * pc * fxc)
      ELSE abs(dq)::float8 * 1e-6::float8 * COALESCE(pb, pc) * COALESCE(fxb, fxc) END, 0)::numeric, 2),
    pass, line,
    -- the stable break key, as services.break_key computes it
    left(encode(sha256(convert_to({cust} || '|' || acct || '|position|'
      || CASE WHEN unknown THEN 'ID:' || COALESCE(ident, '') ELSE 'I:' || iid END, 'UTF8')), 'hex'), 40),
    -- the difference (custodian - ours) in the price currency, signed
    round(COALESCE(CASE kind
      WHEN 'price' THEN qb::float8 * 1e-6::float8 * (pc - pb)
      WHEN 'market_value' THEN qb::float8 * 1e-6::float8 * (pc - pb)
      WHEN 'unknown_instrument' THEN qc::float8 * 1e-6::float8 * pc
      ELSE dq::float8 * 1e-6::float8 * COALESCE(pb, pc) END, 0)::numeric, 8),
    COALESCE(NULLIF(ccyb, ''), ccyc, '')
    )::recon_diff) FILTER (WHERE kind IS NOT NULL) AS diffs
  FROM cls
), ins AS (
  INSERT INTO recon_diff SELECT (d).* FROM agg, unnest(agg.diffs) AS d RETURNING 1
)
SELECT agg.pairs, agg.clean, (SELECT count(*) FROM ins), agg.book_side, agg.nlines FROM agg
"""


def _classify(cur, push, columns, custodian, as_of, tol, nbooks, *, run_id=None,
              source="") -> tuple[int, int, int, int]:
    """Fast path first (no per-key aggregation). If the file holds a key twice (a book row met
    twice, or one custodian-only key in two lines), roll back and aggregate."""
    units = price_units()
    cur.execute("SAVEPOINT recon_fast")
    t = time.perf_counter()
    cur.execute(_classify_sql(push, columns, custodian=custodian, as_of=as_of, basis="SETT", tol=tol, units=units,
                              run_id=run_id, source=source))
    pairs, clean, ndiff, book_side, nlines = cur.fetchone()
    _classify.last_seconds = time.perf_counter() - t
    duplicated = book_side > nbooks
    if not duplicated:
        cur.execute("SELECT EXISTS (SELECT 1 FROM recon_diff GROUP BY key HAVING count(*) > 1)")
        duplicated = cur.fetchone()[0]
    if duplicated:
        cur.execute("ROLLBACK TO SAVEPOINT recon_fast")
        cur.execute(_classify_sql(push, columns, custodian=custodian, as_of=as_of, basis="SETT", tol=tol, units=units,
                                  aggregate=True, run_id=run_id, source=source))
        pairs, clean, ndiff, _, nlines = cur.fetchone()
    else:
        cur.execute("RELEASE SAVEPOINT recon_fast")
    return pairs, clean, ndiff, nlines


# the row type of an identifier looked up pass by pass (see _classify_sql)
PASS_TYPE = "CREATE TEMP TABLE recon_pass (pass int, iid int8, f float8) ON COMMIT DROP"

DIFF_TABLE = """
CREATE TEMP TABLE recon_diff (
  kind text, explained boolean, cause text, acct text, iid bigint, ident text, qc numeric, qb numeric,
  pc float8, pb float8, fxc float8, fxb float8, amount numeric, pass int, line bigint, key text,
  alocal numeric, lccy text
) ON COMMIT DROP
"""


def _first_bad_value(cur, push: dict, columns: list[str]) -> tuple[int | None, str, str]:
    """Name the first line and field whose text does not convert (only run after a failure)."""
    best = (None, "", "")
    for fname, (raw, pattern, required) in push["checks"].items():
        col = columns[int(raw[1:])]
        cond = f"NOT ({_q(col)} ~ {_lit(pattern)})"
        cond = f"(({_q(col)} IS NULL OR {_q(col)} = '') OR {cond})" if required else \
            f"({_q(col)} <> '' AND {cond})"
        cur.execute(f"SELECT line_no, {_q(col)} FROM recon_stage WHERE {cond} ORDER BY line_no LIMIT 1")
        row = cur.fetchone()
        if row and (best[0] is None or row[0] < best[0]):
            best = (row[0], fname, row[1])
    return best


def _audit_columns() -> str:
    return AuditEvent._meta.db_table


def _write_breaks_sql(cur, *, run: ReconRun, custodian: str, as_of: dt.date, base_currency: str,
                      actor_id: int | None) -> dict:
    steps: dict[str, float] = {}

    def run_sql(label: str, statement: str) -> None:
        t = time.perf_counter()
        cur.execute(statement)
        steps[label] = round(time.perf_counter() - t, 4)

    bt = Break._meta.db_table
    at = _audit_columns()
    rules = sla_rules(on=as_of)
    # SLA rule by amount and age (age from the existing break's first_seen, else 0)
    sla_case = " ".join(
        f"WHEN d.amount >= {r.min_amount_base} AND (({_lit(as_of)}::date - COALESCE(b.first_seen, {_lit(as_of)}::date))"
        f" * 24) >= {r.min_age_hours} THEN {_lit(f'{r.priority}|{r.code}|{r.due_hours}')}" for r in rules)
    run_sql("key_index", "CREATE UNIQUE INDEX ON recon_diff (key)")
    # statistics, so that joins with the (ever growing) break table probe its key index
    run_sql("analyze", "ANALYZE recon_diff (key)")
    run_sql("sla", f"""
        CREATE TEMP TABLE recon_diff_sla ON COMMIT DROP AS
        SELECT d.key, split_part(s.v, '|', 1)::int AS priority, split_part(s.v, '|', 2) AS sla_rule,
               (COALESCE(b.first_seen, {_lit(as_of)}::date)::timestamp AT TIME ZONE 'UTC')
                 + make_interval(hours => split_part(s.v, '|', 3)::int) AS due_at
        FROM recon_diff d LEFT JOIN {bt} b ON b.key = d.key
        CROSS JOIN LATERAL (SELECT CASE {sla_case} ELSE {_lit(f'{rules[-1].priority}|{rules[-1].code}|{rules[-1].due_hours}')} END AS v) s
    """)
    actor = "NULL" if actor_id is None else str(int(actor_id))
    detail = f"jsonb_build_object('run', {run.pk})"
    audit_cols = "(firm_id, actor_id, subject_type, subject_id, event_type, from_state, to_state, reason, detail, created_at)"

    def audit(event: str, frm: str, to: str, reason_sql: str) -> str:
        return (f"INSERT INTO {at} {audit_cols} SELECT x.firm_id, {actor}, 'reconciliation.break', x.id::text, {_lit(event)}, "
                f"{frm}, {to}, {reason_sql}, {detail}, now() FROM x")

    cur.execute("CREATE UNIQUE INDEX ON recon_diff_sla (key)")
    counts = {}
    # reopen: resolved before, a real difference again today
    run_sql("reopen", f"""WITH x AS (UPDATE {bt} b SET state = 'open', resolution_reason = ''
        FROM recon_diff d WHERE b.key = d.key AND b.state = 'resolved' AND NOT d.explained RETURNING b.id, b.firm_id)
        {audit('break.reopened', "'resolved'", "'open'", "'difference seen again'")}""")
    counts["breaks_reopened"] = cur.rowcount
    # explained today while still active
    run_sql("explain", f"""WITH x AS (UPDATE {bt} b SET state = 'resolved', resolution_reason = d.cause
        FROM recon_diff d WHERE b.key = d.key AND b.state IN ('open', 'assigned', 'investigating') AND d.explained
        RETURNING b.id, b.firm_id, d.cause)
        {audit('break.explained', "'active'", "'resolved'", 'x.cause')}""")
    # carried: same key, same break row (owner, notes, first_seen stay)
    run_sql("carry", f"""UPDATE {bt} b SET kind = d.kind, cause = d.cause, explained = d.explained,
        custodian_quantity = d.qc, book_quantity = d.qb, custodian_price = round(d.pc::numeric, 8), book_price = round(d.pb::numeric, 8),
        custodian_fx = round(d.fxc::numeric, 12), book_fx = round(d.fxb::numeric, 12), amount_base = d.amount, last_seen = {_lit(as_of)},
        amount_local = d.alocal, local_currency = left(d.lccy, 3), base_currency = {_lit(base_currency)},
        last_run_id = {run.pk}, line = d.line, occurrences = b.occurrences + 1, priority = s.priority,
        sla_rule = s.sla_rule, due_at = s.due_at, updated_at = now()
        FROM recon_diff d JOIN recon_diff_sla s ON s.key = d.key WHERE b.key = d.key""")
    counts["breaks_carried"] = cur.rowcount
    run_sql("insert", f"""WITH x AS (
        INSERT INTO {bt} (key, firm_id, custodian_code, custody_account, instrument_id, identifier, asset, kind, cause,
          explained, state, owner_id, custodian_quantity, book_quantity, custodian_price, book_price, custodian_fx,
          book_fx, amount_base, base_currency, priority, sla_rule, due_at, first_seen, last_seen, first_run_id,
          last_run_id, occurrences, line, resolution_reason, write_off_requested_by_id, written_off_approved_by_id,
          created_at, updated_at, amount_local, local_currency)
        SELECT d.key, m.firm_id, {_lit(custodian)}, d.acct, d.iid,
          left(COALESCE(NULLIF(d.ident, ''), isin.value, ''), 60),
          'position', d.kind, d.cause,
          d.explained, CASE WHEN d.explained THEN 'resolved' ELSE 'open' END, NULL, d.qc, d.qb,
          round(d.pc::numeric, 8), round(d.pb::numeric, 8), round(d.fxc::numeric, 12), round(d.fxb::numeric, 12), d.amount, {_lit(base_currency)}, s.priority, s.sla_rule,
          s.due_at, {_lit(as_of)}, {_lit(as_of)}, {run.pk}, {run.pk}, 1, d.line,
          CASE WHEN d.explained THEN d.cause ELSE '' END, NULL, NULL, now(), now(), d.alocal, left(d.lccy, 3)
        FROM recon_diff d JOIN recon_diff_sla s ON s.key = d.key
        LEFT JOIN reconciliation_bookcustodyaccount m ON m.custodian_code = {_lit(custodian)} AND m.custody_account = d.acct
        LEFT JOIN (SELECT instrument_id, max(value) AS value FROM reconciliation_instrumentidentifier
                   WHERE kind = 'isin' AND custodian_code = '' GROUP BY instrument_id) isin ON isin.instrument_id = d.iid
        WHERE NOT EXISTS (SELECT 1 FROM {bt} b WHERE b.key = d.key)
        RETURNING id, explained, kind, cause, firm_id)
        INSERT INTO {at} {audit_cols} SELECT x.firm_id, {actor}, 'reconciliation.break', x.id::text,
          CASE WHEN x.explained THEN 'break.explained' ELSE 'break.opened' END, '',
          CASE WHEN x.explained THEN 'resolved' ELSE 'open' END, CASE WHEN x.explained THEN x.cause ELSE x.kind END,
          {detail}, now() FROM x""")
    counts["breaks_new"] = cur.rowcount
    run_sql("clear", f"""WITH x AS (UPDATE {bt} SET state = 'resolved',
          resolution_reason = {_lit(f'cleared: no difference in run {run.pk} ({as_of})')}, updated_at = now()
        WHERE custodian_code = {_lit(custodian)} AND asset = 'position'
          AND state IN ('open', 'assigned', 'investigating') AND last_run_id IS DISTINCT FROM {run.pk}
        RETURNING id, firm_id)
        {audit('break.cleared', "'active'", "'resolved'", "'no difference'")}""")
    counts["breaks_cleared"] = cur.rowcount
    counts["seconds_write_steps"] = steps
    return counts


def reconcile_positions_sql(*, custodian_code: str, path: Path, stored: Path, sha: str, size: int, fmt: str,
                            as_of: dt.date, actor=None, daily_run=None, progress=lambda s: None,
                            timings: dict | None = None, layout: dict | None = None) -> RunOutcome:
    timings = dict(timings or {})
    spec = layout if layout is not None else selectors.layout_spec(fmt[4:], on=as_of)
    push = sql_pushdown(spec)
    columns = spec["columns"]
    tol = tolerances_for(custodian_code, on=as_of)
    base = BookPosition.objects.filter(custodian_code=custodian_code).values_list("base_currency", flat=True).first() \
        or "USD"
    t_total = time.perf_counter()
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SET LOCAL work_mem = '512MB'")
            cur.execute("SET LOCAL jit = off")
            # ON COMMIT DROP is not enough when the caller's transaction is wider than this one
            cur.execute("DROP TABLE IF EXISTS recon_stage, recon_diff, recon_diff_sla, recon_pass")
            cur.execute(f"CREATE TEMP TABLE recon_stage (line_no bigint GENERATED ALWAYS AS IDENTITY (CACHE 100000), "
                        f"{', '.join(_q(c) + ' text' for c in columns)}) ON COMMIT DROP")
            progress("load")
            t = time.perf_counter()
            cur.execute("SAVEPOINT recon_copy")
            try:
                rows = copy_file(cur, "recon_stage", columns, path, push)
            except (DatabaseError, psycopg.Error) as exc:  # bad CSV shape, bad encoding, header mismatch
                cur.execute("ROLLBACK TO SAVEPOINT recon_copy")
                line = _copy_error_line(exc)
                reason = str(exc).splitlines()[0]
                raise FileRefused(f"{path.name}, line {line}: {reason}",
                                  detail={"file": path.name, "line": line, "field": "", "reason": reason}) from None
            cur.execute("ANALYZE recon_stage")
            cur.execute(DIFF_TABLE)
            cur.execute(PASS_TYPE)
            timings["seconds_parse"] = timings.get("seconds_hash", 0) + time.perf_counter() - t
            progress("match")
            t = time.perf_counter()
            t_count = time.perf_counter()
            nbooks = BookPosition.objects.filter(custodian_code=custodian_code).count()
            timings["seconds_count_books"] = time.perf_counter() - t_count
            # the run's id is drawn now, so that the classifying statement writes every line under it
            cur.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [ReconRun._meta.db_table])
            run_id = cur.fetchone()[0]
            cur.execute("SAVEPOINT recon_match")
            try:
                _pairs, clean, ndiff, nlines = _classify(cur, push, columns, custodian_code, as_of, tol, nbooks,
                                                 run_id=run_id, source=fmt)
            except (DatabaseError, psycopg.Error):
                cur.execute("ROLLBACK TO SAVEPOINT recon_match")
                line, fname, value = _first_bad_value(cur, push, columns)
                if line is None:
                    raise
                line += 1 if push["header"] else 0
                reason = "required field is empty" if value in (None, "") else \
                    f"{value!r} is not a number in this layout"
                raise FileRefused(f"{path.name}, line {line}, field {fname}: {reason}",
                                  detail={"file": path.name, "line": line, "field": fname, "reason": reason}) from None
            nrows = rows
            timings["seconds_match"] = time.perf_counter() - t
            timings["seconds_classify_statement"] = getattr(_classify, "last_seconds", 0)
            progress("write")
            t = time.perf_counter()
            try:
                with transaction.atomic():
                    cfile = CustodianFile.objects.create(
                        custodian_code=custodian_code, name=path.name, sha256=sha, size=size, format=fmt,
                        kind="holdings", as_of=as_of, basis="SETT", stored_path=str(stored), received_by=actor)
            except IntegrityError:  # the same bytes were committed meanwhile (a redelivered task): a duplicate
                duplicate = CustodianFile.objects.get(custodian_code=custodian_code, sha256=sha)
                first_run = duplicate.runs.order_by("-started_at").first()  # read before marking the rollback
                transaction.set_rollback(True)
                return RunOutcome(run=first_run, duplicate=True,
                                  timings={"seconds_hash": timings.get("seconds_hash", 0)})
            record_event(subject=cfile, event_type="recon.file_received", actor=actor,
                         detail={"sha256": sha, "format": fmt, "size": size, "rows": rows})
            run = ReconRun.objects.create(pk=run_id, custodian_code=custodian_code, as_of=as_of, file=cfile,
                                          daily_run=daily_run, engine="sql")
            written = _write_breaks_sql(cur, run=run, custodian=custodian_code, as_of=as_of, base_currency=base,
                                        actor_id=getattr(actor, "pk", None))
            written["lines"] = nlines  # counted by the statement that wrote them
            cur.execute("SELECT kind, explained, count(*) FROM recon_diff GROUP BY 1, 2 ORDER BY 1, 2")
            by_kind = {f"{k}{' (explained)' if e else ''}": n for k, e, n in cur.fetchall()}
            explained = sum(n for k, n in by_kind.items() if k.endswith("(explained)"))
            timings["seconds_write"] = time.perf_counter() - t
            run.status = RunStatus.COMPLETED
            run.finished_at = timezone.now()
            compared = clean + ndiff  # clean pairs, plus every difference (paired or one-sided)
            run.stats = {
                "positions": nrows, "book_rows": nbooks, "compared": compared, "clean": clean,
                "match_rate": round(clean / compared, 6) if compared else 1.0, "breaks": ndiff - explained,
                "explained": explained, "by_kind": by_kind, "statement_checks": [], **written,
            }
            run.save(update_fields=["status", "finished_at", "stats"])
            record_event(subject=run, event_type="recon.run_completed", actor=actor,
                         detail={k: v for k, v in run.stats.items() if k != "statement_checks"})
            t_commit = time.perf_counter()
    timings["seconds_commit"] = time.perf_counter() - t_commit  # deferred FK checks of breaks and audit rows
    timings["seconds_total"] = timings.get("seconds_hash", 0) + time.perf_counter() - t_total
    run.stats.update({k: round(v, 4) for k, v in timings.items()})
    ReconRun.objects.filter(pk=run.pk).update(stats=run.stats)
    progress("done")
    return RunOutcome(run=run, timings=timings)
