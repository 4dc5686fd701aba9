"""Writes: receiving custodian files, reconciliation runs, and every action on a break.

A run is atomic: a refused file (or any failure) changes nothing. The same bytes received
twice for a custodian are recognised by SHA-256 and do nothing the second time. Differences
are written set-wise: new breaks inserted in bulk, carried breaks updated in bulk (same key,
so owner, notes and age stay), breaks no longer seen are cleared; every change is audited.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from onboarding import safeyaml
from onboarding.audit import record_event
from onboarding.exceptions import ValidationFailed
from onboarding.models import AuditEvent, User

from . import selectors
from .exceptions import (
    BreakRoleRefused,
    BreakTransitionNotAllowed,
    FileRefused,
    ResolveNeedsWriteOff,
    UnknownFormat,
    WriteOffNeedsSecondPerson,
)
from .matching import (
    QSCALE,
    BookPositions,
    CashBalances,
    CustodianPositions,
    Differences,
    IdentifierMap,
    reconcile_cash,
    reconcile_positions,
    resolve_instruments,
)
from .models import (
    ACTIVE_STATES,
    BUILTIN_FORMATS,
    Break,
    BreakNote,
    BreakState,
    CustodianFile,
    CustodianFormat,
    DailyRun,
    ReconRun,
    RuleKind,
    RuleSet,
    RunStatus,
    StatementBalance,
    StatementLine,
)
from .parsers import ParsedFile, parse_file
from .parsers.base import ParseError
from .parsers.checks import check_statements
from .parsers.layouts import LAYOUT_DIR, LayoutError, pushdown_supported, validate_layout
from .policy import RULES_DIR, price_units, priority_for, sla_rules, tolerances_for

Progress = Callable[[str], None]


def _noop(stage: str) -> None:
    pass


# ---------------------------------------------------------------- rules

@transaction.atomic
def rules_load(*, layout_paths: list[Path] | None = None, custodians_path: Path | None = None,
               actor: User | None = None) -> dict[str, int]:
    """Load layouts, tolerances, SLA rules and the custodian-to-format map from YAML into
    versioned rows (idempotent: a (code, version) already loaded is left as it is, so a version
    an officer made in the admin is never overwritten). With no paths: the shipped examples."""
    created = {"layout": 0, "tolerance": 0, "sla": 0, "custodian_format": 0}
    if layout_paths is None and custodians_path is None:
        files = [(RuleKind.LAYOUT, p) for p in sorted(LAYOUT_DIR.glob("*.yaml"))]
        files += [(RuleKind.TOLERANCE, RULES_DIR / "tolerances.yaml"), (RuleKind.SLA, RULES_DIR / "sla.yaml")]
        custodians_path = RULES_DIR / "custodians.yaml"
    else:
        files = [(RuleKind.LAYOUT, Path(p)) for p in layout_paths or []]
    for kind, path in files:
        raw = path.read_bytes()
        spec = safeyaml.load(raw)
        if kind == RuleKind.LAYOUT:
            try:
                validate_layout(spec, name=path.name)
            except LayoutError as exc:
                raise ValidationFailed(str(exc), detail={"file": path.name}) from None
            code, version, source, eff = spec["code"], spec["version"], spec["source"], spec["effective_from"]
        else:
            code, version = path.stem, spec["version"]
            source = "; ".join(sorted({r["source"] for r in spec["rules"]}))[:300]
            eff = min(str(r["effective_from"]) for r in spec["rules"])
        if RuleSet.objects.filter(kind=kind, code=code, version=version).exists():
            continue
        _ruleset_create(kind=kind, code=code, version=int(version), source=str(source)[:300], effective_from=str(eff),
                        spec=_jsonable(spec), actor=actor, note=f"loaded from {path.name}")
        created[kind] += 1
    if custodians_path is not None:
        spec = safeyaml.load(Path(custodians_path).read_bytes())
        version = int(spec.get("version", 1))
        for rule in spec["rules"]:
            formats = rule.get("formats") or [{"format": rule["format"], "file_pattern": rule.get("file_pattern", "")}]
            for entry in formats:
                if CustodianFormat.objects.filter(custodian_code=rule["code"], format=entry["format"],
                                                  version=version).exists():
                    continue
                _custodian_format_create(custodian_code=rule["code"], fmt=entry["format"],
                                         file_pattern=entry.get("file_pattern", ""), active=True, version=version,
                                         source=rule["source"], effective_from=str(rule["effective_from"]),
                                         actor=actor, note=f"loaded from {Path(custodians_path).name}")
                created["custodian_format"] += 1
    return created


def _spec_sha(spec: dict[str, Any]) -> str:
    import json

    content = {k: v for k, v in spec.items() if k != "version"}  # a layout names its own version number
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _ruleset_create(*, kind: str, code: str, version: int, source: str, effective_from: str, spec: dict[str, Any],
                    actor: User | None, note: str = "") -> RuleSet:
    rule = RuleSet.objects.create(kind=kind, code=code, version=version, source=source, effective_from=effective_from,
                                  spec=spec, sha256=_spec_sha(spec), created_by=_user(actor), note=note[:300])
    record_event(subject=rule, event_type="recon.rules_version_created", actor=_user(actor),
                 detail={"kind": kind, "code": code, "version": version, "sha256": rule.sha256, "note": note[:300]})
    return rule


def _user(actor: User | None) -> User | None:
    return actor if actor is not None and actor.is_authenticated else None


@transaction.atomic
def ruleset_new_version(*, previous: RuleSet, spec: dict[str, Any], source: str, effective_from: dt.date | str,
                        actor: User | None, note: str = "") -> RuleSet:
    """A change to a layout (or tolerances, SLA) is a new version beside the old one, never an
    edit in place; a layout is validated first. The same content as the newest version changes nothing."""
    if previous.kind == RuleKind.LAYOUT:
        try:
            validate_layout(spec, name=previous.code)
        except LayoutError as exc:
            raise ValidationFailed(str(exc), detail={"spec": [str(exc)]}) from None
        if spec.get("code") != previous.code:
            raise ValidationFailed(f"a new version keeps the layout's code {previous.code!r}",
                                   detail={"spec": ["code"]})
    latest = RuleSet.objects.select_for_update().filter(kind=previous.kind, code=previous.code) \
        .order_by("-version").first()
    assert latest is not None
    spec = _jsonable(spec)
    if _spec_sha(spec) == latest.sha256 and str(effective_from) == str(latest.effective_from) \
            and source == latest.source:
        return latest
    version = latest.version + 1
    if previous.kind == RuleKind.LAYOUT:
        spec["version"] = version
    return _ruleset_create(kind=previous.kind, code=previous.code, version=version, source=source[:300],
                           effective_from=str(effective_from), spec=spec, actor=actor, note=note)


@transaction.atomic
def ruleset_add(*, kind: str, code: str, spec: dict[str, Any], source: str, effective_from: dt.date | str,
                actor: User | None, note: str = "") -> RuleSet:
    """A new layout (or rule set) under a code not used yet: its version 1."""
    if RuleSet.objects.filter(kind=kind, code=code).exists():
        raise ValidationFailed(f"{kind} {code!r} exists: change it to make a new version", detail={"code": [code]})
    if kind == RuleKind.LAYOUT:
        try:
            validate_layout(spec, name=code)
        except LayoutError as exc:
            raise ValidationFailed(str(exc), detail={"spec": [str(exc)]}) from None
    spec = {**_jsonable(spec), **({"version": 1} if kind == RuleKind.LAYOUT else {})}
    return _ruleset_create(kind=kind, code=code, version=1, source=source[:300], effective_from=str(effective_from),
                           spec=spec, actor=actor, note=note)


def _custodian_format_create(*, custodian_code: str, fmt: str, file_pattern: str, active: bool, version: int,
                             source: str, effective_from: str, actor: User | None, note: str = "") -> CustodianFormat:
    if active:
        check_format(fmt)
    row = CustodianFormat.objects.create(custodian_code=custodian_code, format=fmt, file_pattern=file_pattern,
                                         active=active, version=version, source=source[:300],
                                         effective_from=effective_from, created_by=_user(actor), note=note[:300])
    record_event(subject=row, event_type="recon.custodian_format_version_created", actor=_user(actor),
                 detail={"custodian": custodian_code, "format": fmt, "file_pattern": file_pattern, "active": active,
                         "version": version, "note": note[:300]})
    return row


@transaction.atomic
def custodian_format_set(*, custodian_code: str, fmt: str, file_pattern: str = "", active: bool = True,
                         source: str = "", effective_from: dt.date | str | None = None, actor: User | None = None,
                         note: str = "") -> CustodianFormat:
    """Say that a custodian sends files in `fmt` (or, `active=False`, no longer does): a new
    version of that (custodian, format) entry; the same values as the newest version change nothing."""
    latest = CustodianFormat.objects.select_for_update().filter(custodian_code=custodian_code, format=fmt) \
        .order_by("-version").first()
    effective_from = str(effective_from or timezone.localdate())
    if latest is not None and (latest.file_pattern, latest.active, latest.source, str(latest.effective_from)) == \
            (file_pattern, active, source, effective_from):
        return latest
    return _custodian_format_create(custodian_code=custodian_code, fmt=fmt, file_pattern=file_pattern, active=active,
                                    version=(latest.version + 1) if latest else 1, source=source,
                                    effective_from=effective_from, actor=actor, note=note)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (dt.date, Decimal)):
        return str(obj)
    return obj


# ---------------------------------------------------------------- files

def _store(path: Path, on_bytes: Callable[[int], None] | None = None) -> tuple[str, int, Path]:
    """Hash the file while copying it into MEDIA_ROOT/custodian_files (content-addressed)."""
    digest = hashlib.sha256()
    root = Path(settings.MEDIA_ROOT) / "custodian_files"
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".incoming-{path.name}-{time.time_ns()}"
    size = 0
    with path.open("rb") as src, tmp.open("wb") as dst:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            dst.write(chunk)
            size += len(chunk)
            if on_bytes:
                on_bytes(len(chunk))
    sha = digest.hexdigest()
    target = root / sha[:2] / f"{sha}{path.suffix}"
    target.parent.mkdir(exist_ok=True)
    if target.exists():
        tmp.unlink()
    else:
        shutil.move(tmp, target)
    return sha, size, target


def check_format(fmt: str) -> None:
    """A standard format, or csv:<layout> with the layout loaded; else UnknownFormat."""
    if fmt in BUILTIN_FORMATS:
        return
    if fmt.startswith("csv:") and RuleSet.objects.filter(kind=RuleKind.LAYOUT, code=fmt[4:]).exists():
        return
    raise UnknownFormat(f"unknown format {fmt!r}: a standard ({', '.join(BUILTIN_FORMATS)}) or csv:<layout> "
                        f"with a layout loaded (recon_rules_load, or the admin)", detail={"format": fmt})


def guess_format(path: Path) -> str:
    head = path.open("rb").read(4096)
    if b"semt.002" in head:
        return "semt002"
    if b"camt.053" in head:
        return "camt053"
    if b":16R:GENL" in head:
        return "mt535"
    if b":60F:" in head or b":60M:" in head or b":20:" in head:
        return "mt940"
    raise UnknownFormat(f"cannot tell the format of {path.name} from its content (not semt.002, camt.053, MT535 or "
                        f"MT940); name the format the custodian sends",
                        detail={"format": [f"cannot tell the format of {path.name}"]})


@dataclass
class RunOutcome:
    run: ReconRun
    duplicate: bool = False
    timings: dict[str, Any] = field(default_factory=dict)


def reconcile_file(*, custodian_code: str, path: str | Path, fmt: str | None = None, as_of: dt.date | None = None,
                   actor: User | None = None, daily_run: DailyRun | None = None, progress: Progress = _noop,
                   on_bytes: Callable[[int], None] | None = None, engine: str = "auto",
                   refresh_books: bool = True) -> RunOutcome:
    """Receive one custodian file and reconcile it against our books. For a custodian known to
    `accounts` (code = its BIC) our side is first refreshed from the ledger for the date."""
    path = Path(path)
    fmt = fmt or guess_format(path)
    check_format(fmt)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    progress("hash")
    sha, size, stored = _store(path, on_bytes)
    existing = CustodianFile.objects.filter(custodian_code=custodian_code, sha256=sha).first()
    if existing is not None:
        run = existing.runs.order_by("-started_at").first()
        assert run is not None, "a stored custodian file always has its run"
        return RunOutcome(run=run, duplicate=True, timings={"seconds_hash": time.perf_counter() - t0})
    timings["seconds_hash"] = time.perf_counter() - t0
    if refresh_books and as_of is not None and custodian_in_accounts(custodian_code):
        progress("books")
        books_snapshot_load(custodian_code=custodian_code, as_of=as_of)
    layout = selectors.layout_spec(fmt[4:], on=as_of) if fmt.startswith("csv:") else None
    use_sql = (engine == "sql" or (engine == "auto" and connection.vendor == "postgresql")) and \
        layout is not None and pushdown_supported(layout)
    if use_sql:
        from .sql import reconcile_positions_sql

        if as_of is None:
            raise FileRefused("a CSV positions file without a date needs --as-of", detail={"file": path.name})
        outcome = reconcile_positions_sql(custodian_code=custodian_code, path=path, stored=stored, sha=sha,
                                          size=size, fmt=fmt, as_of=as_of, layout=layout, actor=actor, daily_run=daily_run,
                                          progress=progress, timings=timings)
        _announce_new_breaks(outcome.run)
        return outcome
    progress("parse")
    t = time.perf_counter()
    try:
        parsed = parse_file(path.read_bytes(), fmt, file=path.name, layout=layout)
    except ParseError as exc:
        raise FileRefused(str(exc), detail=exc.as_dict()) from None
    _check_account_ids(parsed, path.name)
    timings["seconds_parse"] = time.perf_counter() - t
    if as_of is None and parsed.as_of is not None and refresh_books and custodian_in_accounts(custodian_code):
        books_snapshot_load(custodian_code=custodian_code, as_of=parsed.as_of)
    as_of = as_of or parsed.as_of
    if as_of is None:
        raise FileRefused(f"{path.name}: the file carries no statement date; give --as-of", detail={"file": path.name})
    with transaction.atomic():
        t = time.perf_counter()
        try:
            with transaction.atomic():
                cfile = CustodianFile.objects.create(
                    custodian_code=custodian_code, name=path.name, sha256=sha, size=size, format=fmt,
                    kind=parsed.kind, as_of=as_of, basis=parsed.basis, stored_path=str(stored), received_by=actor)
        except IntegrityError:  # the same bytes were committed meanwhile (a redelivered task): a duplicate
            existing = CustodianFile.objects.get(custodian_code=custodian_code, sha256=sha)
            return RunOutcome(run=existing.runs.order_by("-started_at").first(), duplicate=True,
                              timings={"seconds_hash": timings["seconds_hash"]})
        issues = _stage(cfile, parsed)
        run = ReconRun.objects.create(custodian_code=custodian_code, as_of=as_of, file=cfile, daily_run=daily_run,
                                      engine="numpy")
        record_event(subject=cfile, event_type="recon.file_received", actor=actor,
                     detail={"sha256": sha, "format": fmt, "size": size, "checks": issues})
        timings["seconds_load"] = time.perf_counter() - t
        progress("match")
        t = time.perf_counter()
        tol = tolerances_for(custodian_code, on=as_of)
        cash_result = None
        if parsed.kind == "holdings":
            books, base = selectors.book_positions(custodian_code)
            custodian_side = CustodianPositions.from_holdings(parsed.holdings)
            idmap = selectors.identifier_map(custodian_code)
            books, scope, scope_keys = _statement_scope(parsed, custodian_side, books, idmap, custodian_code)
            result = reconcile_positions(
                custodian_side, books, idmap,
                tolerances=tol, price_units=price_units(), as_of=as_of, basis=parsed.basis,
                custodian=custodian_code, pending=selectors.pending_trades(custodian_code),
                corporate_actions=selectors.corporate_actions())
            asset = "position"
            cash_result = _cash_rows_of_holdings_file(parsed, custodian_code, tol, as_of)
        else:
            cash = CashBalances(account=np.array([c.account for c in parsed.cash], dtype=object),
                                currency=np.array([c.currency for c in parsed.cash], dtype=object),
                                amount=np.array([int(c.amount * QSCALE) for c in parsed.cash], dtype=np.int64))
            books_cash, settled = selectors.book_cash(custodian_code)
            accounts = set(cash.account.tolist())
            keep = np.array([a in accounts for a in books_cash.account.tolist()], dtype=bool)
            books_cash = CashBalances(books_cash.account[keep], books_cash.currency[keep], books_cash.amount[keep])
            # a bank's closing booked balance is settled cash: compared with our settled balance there is
            # nothing pending to explain; trade-date books (a feed without settled figures) still need it
            result = reconcile_cash(cash, books_cash, tolerances=tol,
                                    pending=None if settled else selectors.pending_cash(custodian_code, as_of),
                                    fx_to_base=selectors.cash_fx_to_base(custodian_code))
            base = selectors.base_currency_of(custodian_code)
            scope, scope_keys, asset = accounts, set(), "cash"
            if custodian_in_accounts(custodian_code):
                _name_cash_entries(result, parsed, custodian_code, as_of)
        timings["seconds_match"] = time.perf_counter() - t
        progress("write")
        t = time.perf_counter()
        sources = selectors.book_price_sources(custodian_code) if asset == "position" else {}
        written = write_differences(run=run, diffs=result.differences, base_currency=base, asset=asset,
                                    scope_accounts=scope, scope_keys=scope_keys, actor=actor,
                                    book_sources=sources)
        if parsed.kind == "holdings" and cash_result is not None:  # a position file's cash rows are compared too
            cash_written = write_differences(run=run, diffs=cash_result.differences, base_currency=base, asset="cash",
                                             scope_accounts={c.account for c in parsed.cash}, actor=actor)
            written["cash_lines"] = write_lines(run=run, lines=cash_result.lines, asset="cash", source=fmt)
            written["cash_breaks_opened"] = cash_written["breaks_opened"]
        written["lines"] = write_lines(run=run, lines=result.lines, asset=asset, source=fmt, book_sources=sources)
        timings["seconds_write"] = time.perf_counter() - t
        run.status = RunStatus.COMPLETED
        run.finished_at = timezone.now()
        run.stats = {
            "positions": result.custodian_rows, "book_rows": result.book_rows, "compared": result.clean_pairs
            + len(result.differences), "clean": result.clean_pairs, "match_rate": round(result.match_rate, 6),
            "breaks": result.breaks, "explained": result.explained, "by_kind": result.differences.summary(),
            "resolved_by_pass": result.resolved_by_pass, "statement_checks": issues, **written,
            **{k: round(v, 4) for k, v in timings.items()},
        }
        run.save(update_fields=["status", "finished_at", "stats"])
        record_event(subject=run, event_type="recon.run_completed", actor=actor,
                     detail={k: v for k, v in run.stats.items() if k != "statement_checks"})
        _announce_new_breaks(run)
    progress("done")
    return RunOutcome(run=run, timings=timings)


def _our_reference(ref: str) -> str:
    """Our movement's reference as the custodian knows it: a book import's trades carry the
    file's own reference after the import's prefix."""
    return ref.rsplit(":", 1)[-1] if ref.startswith("book-import:") else ref


def statement_txns(parsed: ParsedFile, *, on: dt.date | None = None) -> dict[tuple[str, str], list[Any]]:
    """A cash file's booked entries (of the day `on`, or all) per (account, currency), as
    `matching.Txn` (amounts signed already, reversals included), in the statement's currency."""
    from .matching import Txn

    out: dict[tuple[str, str], list[Txn]] = {}
    for st in parsed.cash_statements:
        for e in st.entries:
            if e.status != "BOOK" or (on is not None and on not in {e.value_date, e.entry_date}):
                continue
            txns = out.setdefault((st.account, st.currency), [])
            txns.append(Txn(id=f"s{len(txns):05d}", account="", currency=st.currency, amount=e.amount,
                            value_date=e.value_date if on is None else on, reference=e.reference))
    return out


def _name_cash_entries(result: Any, parsed: ParsedFile, custodian_code: str, as_of: dt.date) -> None:
    """The cause of each unexplained cash difference, from the entries: the statement's booked
    entries of `as_of` against our cash legs settling that day (`matching.cash_entry_causes`)."""
    from accounts.selectors import custodian_cash_day

    from .matching import Txn, cash_entry_causes

    targets = [(diffs, n) for diffs in (result.differences, result.lines) if diffs is not None
               for n in range(len(diffs)) if diffs.kind[n] == "cash" and not diffs.explained[n]]
    if not targets:
        return
    for diffs in (result.differences, result.lines):
        if diffs is not None:
            diffs.cause = diffs.cause.astype(object)  # room for the entries' text
    custodian = _accounts_custodian(custodian_code)
    ours: dict[tuple[str, str], list[Txn]] = {}
    for day in custodian_cash_day(custodian_id=custodian.pk, on=as_of):
        txns = [Txn(id=f"o{k:05d}", account="", currency=day.currency, amount=amount, value_date=as_of,
                    reference=_our_reference(ref or "")) for k, (amount, _kind, ref, _td) in enumerate(day.entries)]
        for number in {day.custody_number, day.cash_number} - {""}:
            ours[(number, day.currency)] = txns
    theirs = statement_txns(parsed, on=as_of)
    for diffs, n in targets:
        key = (str(diffs.account[n]), str(diffs.identifier[n]))
        cause = cash_entry_causes(theirs.get(key, []), ours.get(key, []))
        if cause:
            diffs.cause[n] = cause


def _statement_scope(parsed: ParsedFile, cust: CustodianPositions, books: BookPositions, idmap: IdentifierMap,
                     custodian_code: str) -> tuple[BookPositions, set[str] | None, set[str]]:
    """What a holdings file speaks for (issue 14): a statement covers its own safekeeping account
    only, all of it when complete (COMP), only the lines it lists when a delta (DELT). Our books are
    cut to that before matching, and only breaks there may be cleared: returns the books, the
    accounts and the break keys in scope. A file without statements (a CSV extract) covers the
    custodian, as the SQL engine does."""
    statements = parsed.holding_statements
    if not statements:
        return books, None, set()
    complete = {s.account for s in statements if s.complete}
    delta = {s.account for s in statements if not s.complete} - complete
    listed: set[tuple[str, int]] = set()
    if delta:
        instrument, _factor, _pass = resolve_instruments(cust, idmap, custodian=custodian_code)
        listed = {(a, i) for a, i in zip(cust.account.tolist(), instrument.tolist()) if a in delta and i >= 0}
    keep = np.array([a in complete or (a, i) in listed
                     for a, i in zip(books.account.tolist(), books.instrument_id.tolist())], dtype=bool)
    books = BookPositions(**{f.name: getattr(books, f.name)[keep] for f in fields(BookPositions)})
    return books, complete, {break_key(custodian_code, a, i, "", "position") for a, i in listed}


def _cash_rows_of_holdings_file(parsed: ParsedFile, custodian_code: str, tol: Any, as_of: dt.date) -> Any:
    """The cash rows of a positions file (broker exports carry them), against our settled cash."""
    if not parsed.cash:
        return None
    cash = CashBalances(account=np.array([c.account for c in parsed.cash], dtype=object),
                        currency=np.array([c.currency for c in parsed.cash], dtype=object),
                        amount=np.array([int(c.amount * QSCALE) for c in parsed.cash], dtype=np.int64))
    books_cash, settled = selectors.book_cash(custodian_code)
    accounts = set(cash.account.tolist())
    keep = np.array([a in accounts for a in books_cash.account.tolist()], dtype=bool)
    books_cash = CashBalances(books_cash.account[keep], books_cash.currency[keep], books_cash.amount[keep])
    return reconcile_cash(cash, books_cash, tolerances=tol,
                          pending=None if settled else selectors.pending_cash(custodian_code, as_of),
                          fx_to_base=selectors.cash_fx_to_base(custodian_code))


def _announce_new_breaks(run: ReconRun | None) -> None:
    """One `break.opened` webhook per firm and run (not one per break: a run can open thousands),
    with the count and the first hundred break ids; and `break.resolved` for each active break this run
    resolved (no difference any more, or explained), as when a person resolves one."""
    if run is None:
        return
    _announce_resolved_breaks(run)
    from django.db.models import Count

    from onboarding import webhooks

    opened = (Break.objects.filter(first_run=run, state=BreakState.OPEN, firm_id__isnull=False)
              .values("firm_id").annotate(n=Count("id")))
    for row in opened:
        ids = list(Break.objects.filter(first_run=run, state=BreakState.OPEN, firm_id=row["firm_id"])
                   .order_by("priority", "pk").values_list("pk", flat=True)[:100]) if row["n"] else []
        webhooks.emit(firm=row["firm_id"], event_type="break.opened",
                      data={"run": run.pk, "custodian": run.custodian_code, "as_of": str(run.as_of),
                            "breaks_opened": row["n"], "break_ids": ids})


def _announce_resolved_breaks(run: ReconRun) -> None:
    """The breaks the run resolved, found from its own audit rows (both engines write one per break,
    `from_state` active, `detail.run` the run), announced in bulk (`webhooks.emit_many`)."""
    from onboarding import webhooks
    from onboarding.models import AuditEvent

    resolved_ids = [int(subject_id) for subject_id, detail in AuditEvent.objects.filter(
        # narrows the scan by the created_at index; a day's margin because the SQL engine's rows carry
        # its transaction's start time, which can precede the run row's own
        created_at__gte=run.started_at - dt.timedelta(days=1), subject_type="reconciliation.break",
        event_type__in=("break.cleared", "break.explained"), from_state="active",
    ).values_list("subject_id", "detail") if (detail or {}).get("run") == run.pk]
    if not resolved_ids:
        return
    events = []
    for chunk in range(0, len(resolved_ids), 5000):
        for brk in Break.objects.filter(pk__in=resolved_ids[chunk:chunk + 5000], firm_id__isnull=False,
                                        state=BreakState.RESOLVED).order_by("pk"):
            events.append((brk.firm_id, "break.resolved", {
                "break": brk.pk, "custodian": brk.custodian_code, "custody_account": brk.custody_account,
                "kind": brk.kind, "amount_base": brk.amount_base, "base_currency": brk.base_currency,
                "state": brk.state, "reason": brk.resolution_reason}))
    webhooks.emit_many(events)


def _stage(cfile: CustodianFile, parsed: ParsedFile) -> list[dict[str, Any]]:
    """Statement lines and balances into the staging tables; statement checks."""
    issues: list[dict[str, Any]] = []
    if parsed.cash_statements:
        accounts = {s.account for s in parsed.cash_statements}
        first = min(s.opening.date for s in parsed.cash_statements)
        previous = selectors.previous_closings(accounts, first)
        issues = [i.as_dict() for i in check_statements(parsed.cash_statements, previous)]
        StatementBalance.objects.bulk_create([
            StatementBalance(file=cfile, custody_account=s.account, currency=s.currency,
                             statement_number="/".join(x for x in (s.statement_number, s.sequence) if x)[:20],
                             opening_date=s.opening.date, opening=s.opening.amount, closing_date=s.closing.date,
                             closing=s.closing.amount, line=s.line) for s in parsed.cash_statements])
        cfile.checks = issues
        cfile.save(update_fields=["checks"])
    StatementLine.objects.bulk_create([
        StatementLine(file=cfile, line=h.line, custody_account=h.account, isin=h.isin, cusip=h.cusip, sedol=h.sedol,
                      ticker=h.ticker[:20], mic=h.mic, custodian_security=h.custodian_code[:40], quantity=h.quantity,
                      price=h.price, price_currency=h.price_currency[:3], fx_rate=h.fx_rate)
        for h in parsed.holdings] + [
        StatementLine(file=cfile, line=c.line, custody_account=c.account, cash_currency=c.currency,
                      cash_amount=c.amount) for c in parsed.cash], batch_size=5000)
    return issues


# ---------------------------------------------------------------- writing differences

def _check_account_ids(parsed: ParsedFile, file: str) -> None:
    """Account ids from a custodian file must fit the break's column (issue 15: a 41-character id
    reached the database as a 500); the file is refused whole, naming the account."""
    from onboarding.columns import column_problem

    rows = [*parsed.holdings, *parsed.cash, *parsed.cash_statements, *parsed.holding_statements]
    for row in rows:
        account = getattr(row, "account", "") or ""
        why = column_problem(Break, "custody_account", account)
        if why:
            raise FileRefused(f"{file}: account {account[:60]!r}: {why}",
                              detail={"file": file, "field": "account", "problem": why})


def break_key(custodian: str, account: str, instrument_id: int, identifier: str, asset: str) -> str:
    subject = f"I:{instrument_id}" if instrument_id >= 0 else f"ID:{identifier}"
    return hashlib.sha256(f"{custodian}|{account}|{asset}|{subject}".encode()).hexdigest()[:40]


def _dec(value: Any, places: int = 8) -> Decimal | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-places))


def _due(first_seen: dt.date, hours: int) -> dt.datetime:
    start = dt.datetime.combine(first_seen, dt.time(0), tzinfo=dt.UTC)
    return start + dt.timedelta(hours=hours)


def _text_at(values: Any, n: int, limit: int = 40) -> str:
    return "" if values is None else str(values[n] or "")[:limit]


def write_differences(*, run: ReconRun, diffs: Differences, base_currency: str, asset: str,
                      scope_accounts: set[str] | None, actor: User | None = None,
                      book_sources: dict[Any, Any] | None = None,
                      scope_keys: set[str] | None = None) -> dict[str, int]:
    """Upsert the run's differences as breaks under their stable keys (ORM bulk path)."""
    book_sources = book_sources or {}
    fx_sources = selectors.cash_fx_sources(run.custodian_code) if asset == "cash" else {}
    custodian, as_of = run.custodian_code, run.as_of
    rules = sla_rules(on=as_of)
    keys = [break_key(custodian, a, int(i), ident, asset) for a, i, ident in
            zip(diffs.account.tolist(), diffs.instrument_id.tolist(), diffs.identifier.tolist())]
    from .models import BookCustodyAccount

    firm_of = dict(BookCustodyAccount.objects.filter(custodian_code=custodian)
                   .values_list("custody_account", "firm_id"))
    # breaks show the ISIN (or the custodian's identifier), never only our internal instrument id
    from .models import InstrumentIdentifier

    known = {int(i) for i in diffs.instrument_id.tolist() if i >= 0}
    isin_of: dict[int, str] = {}
    for iid, value in InstrumentIdentifier.objects.filter(kind="isin", custodian_code="", instrument_id__in=known) \
            .order_by("value").values_list("instrument_id", "value"):  # the greatest, as the SQL engine
        isin_of[iid] = value
    existing: dict[str, Break] = {}
    for chunk in range(0, len(keys), 5000):
        existing.update({b.key: b for b in Break.objects.filter(key__in=keys[chunk:chunk + 5000])})
    new, carried, reopen_ids, explain_ids = [], [], [], []
    for n, key in enumerate(keys):
        explained = bool(diffs.explained[n])
        amount = Decimal(str(round(float(diffs.amount_base[n]), 2)))
        values = dict(
            kind=diffs.kind[n], cause=str(diffs.cause[n])[:200], explained=explained,
            custodian_quantity=Decimal(int(diffs.custodian_quantity[n])) / QSCALE,
            book_quantity=Decimal(int(diffs.book_quantity[n])) / QSCALE,
            custodian_price=_dec(diffs.custodian_price[n]), book_price=_dec(diffs.book_price[n]),
            custodian_fx=_dec(diffs.custodian_fx[n], 12), book_fx=_dec(diffs.book_fx[n], 12),
            amount_base=amount, last_seen=as_of, last_run=run, line=int(diffs.line[n]) or None,
            amount_local=None if diffs.amount_local is None else _dec(diffs.amount_local[n]),
            local_currency="" if diffs.local_currency is None else str(diffs.local_currency[n] or "")[:3],
            base_currency=(diffs.base_currency[n] if diffs.base_currency is not None and diffs.base_currency[n]
                           else base_currency),
            custodian_price_source=_text_at(diffs.custodian_price_source, n),
            custodian_fx_source=_text_at(diffs.custodian_fx_source, n),
            book_price_source=str(book_sources.get((str(diffs.account[n]), int(diffs.instrument_id[n])), ""))[:40],
            book_fx_source=str(fx_sources.get((str(diffs.account[n]), str(diffs.identifier[n])), ""))[:40],
        )
        brk = existing.get(key)
        first_seen = brk.first_seen if brk else as_of
        rule = priority_for(amount, (as_of - first_seen).days * 24, rules)
        values.update(priority=rule.priority, sla_rule=rule.code, due_at=_due(first_seen, rule.due_hours))
        if brk is None:
            new.append(Break(key=key, custodian_code=custodian, custody_account=diffs.account[n],
                             firm_id=firm_of.get(diffs.account[n]),
                             instrument_id=int(diffs.instrument_id[n]) if diffs.instrument_id[n] >= 0 else None,
                             identifier=(str(diffs.identifier[n]) or isin_of.get(int(diffs.instrument_id[n]), ""))[:60],
                             asset=asset,
                             first_seen=as_of, first_run=run, occurrences=1,
                             resolution_reason=str(diffs.cause[n]) if explained else "", **values))
            continue
        for k, v in values.items():
            setattr(brk, k, v)
        brk.occurrences += 1
        if brk.state == BreakState.RESOLVED and not explained:
            reopen_ids.append(brk.pk)
        elif brk.state in ACTIVE_STATES and explained:
            explain_ids.append(brk.pk)
        carried.append(brk)
    created = Break.objects.bulk_create(new, batch_size=2000)
    # explained on arrival: created as resolved with the explanation as reason
    created_explained = [b.pk for b in created if b.explained]
    if created_explained:
        Break.objects.filter(pk__in=created_explained).update(state=BreakState.RESOLVED)
    Break.objects.bulk_update(carried, ["kind", "cause", "explained", "custodian_quantity", "book_quantity",
                                        "custodian_price", "book_price", "custodian_fx", "book_fx", "amount_base",
                                        "amount_local", "local_currency", "base_currency",
                                        "custodian_price_source", "custodian_fx_source", "book_price_source",
                                        "book_fx_source",
                                        "last_seen", "last_run", "line", "priority", "sla_rule", "due_at",
                                        "occurrences"], batch_size=2000)
    if reopen_ids:
        Break.objects.filter(pk__in=reopen_ids).update(state=BreakState.OPEN, resolution_reason="")
    if explain_ids:
        Break.objects.filter(pk__in=explain_ids).update(state=BreakState.RESOLVED, resolution_reason=F("cause"))
    cleared_qs = Break.objects.filter(custodian_code=custodian, asset=asset, state__in=ACTIVE_STATES) \
        .exclude(last_run=run)
    if scope_accounts is not None:  # only what the file speaks for: its accounts, or a delta's lines
        cleared_qs = cleared_qs.filter(Q(custody_account__in=scope_accounts) | Q(key__in=scope_keys or ()))
    cleared = dict(cleared_qs.values_list("pk", "firm_id"))
    cleared_ids = list(cleared)
    if cleared_ids:
        Break.objects.filter(pk__in=cleared_ids).update(
            state=BreakState.RESOLVED, resolution_reason=f"cleared: no difference in run {run.pk} ({as_of})")
    events = []

    def ev(pk: int, event: str, frm: str, to: str, reason: str = "", firm_id: int | None = None) -> None:
        events.append(AuditEvent(firm_id=firm_id, subject_type="reconciliation.break", subject_id=str(pk),
                                 event_type=event,
                                 from_state=frm, to_state=to, reason=reason, actor=actor if actor and
                                 actor.is_authenticated else None, detail={"run": run.pk}))
    for b in created:
        if b.explained:
            ev(b.pk, "break.explained", "", BreakState.RESOLVED, b.cause, firm_id=b.firm_id)
        else:
            ev(b.pk, "break.opened", "", BreakState.OPEN, b.kind, firm_id=b.firm_id)
    firm_of_break = {b.pk: b.firm_id for b in carried} | cleared  # each break's events belong to its firm
    for pk in reopen_ids:
        ev(pk, "break.reopened", BreakState.RESOLVED, BreakState.OPEN, "difference seen again", firm_id=firm_of_break.get(pk))
    for pk in explain_ids:
        ev(pk, "break.explained", "active", BreakState.RESOLVED, "explained", firm_id=firm_of_break.get(pk))
    for pk in cleared_ids:
        ev(pk, "break.cleared", "active", BreakState.RESOLVED, "no difference", firm_id=firm_of_break.get(pk))
    AuditEvent.objects.bulk_create(events, batch_size=5000)
    return {"breaks_opened": sum(1 for b in created if not b.explained), "breaks_carried": len(carried),
            "breaks_reopened": len(reopen_ids), "breaks_cleared": len(cleared_ids)}


def _f(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else float(value)


def write_lines(*, run: ReconRun, lines: Differences | None, asset: str, source: str,
                book_sources: dict[Any, Any] | None = None) -> int:
    """Every line the run compared (matched ones included) with both figures, in bulk."""
    from .matching import PASSES
    from .models import LineStatus, ReconLine

    if lines is None:
        return 0
    book_sources = book_sources or {}
    objs = []
    for n in range(len(lines)):
        kind = str(lines.kind[n] or "")
        explained = bool(lines.explained[n])
        status = LineStatus.MATCHED if not kind else LineStatus.EXPLAINED if explained else LineStatus.BREAK
        mpass = int(lines.match_pass[n])
        if not kind:
            rule = f"matched by {PASSES[mpass]}" if asset == "position" and mpass >= 0 else \
                "closing booked balance agrees with our settled balance" if asset == "cash" else "matched"
        else:
            rule = str(lines.cause[n] or kind)
        iid = int(lines.instrument_id[n])
        objs.append(ReconLine(
            run=run, asset=asset, custody_account=str(lines.account[n])[:40], instrument_id=iid if iid >= 0 else None,
            identifier=str(lines.identifier[n] or "")[:60], status=status, kind=kind, rule=rule[:200],
            custodian_quantity=Decimal(int(lines.custodian_quantity[n])) / QSCALE,
            book_quantity=Decimal(int(lines.book_quantity[n])) / QSCALE,
            custodian_price=_f(lines.custodian_price[n]), book_price=_f(lines.book_price[n]),
            price_currency=("" if lines.local_currency is None else str(lines.local_currency[n] or ""))[:3],
            custodian_fx=_f(lines.custodian_fx[n]), book_fx=_f(lines.book_fx[n]),
            book_price_source=book_sources.get((str(lines.account[n]), iid), "")[:40], custodian_source=source[:60],
            custodian_price_source=_text_at(lines.custodian_price_source, n),
            custodian_fx_source=_text_at(lines.custodian_fx_source, n),
            amount_local=None if lines.amount_local is None else _f(lines.amount_local[n]),
            amount_base=_f(lines.amount_base[n]), line=int(lines.line[n]) or None))
    ReconLine.objects.bulk_create(objs, batch_size=5000)
    return len(objs)


# ---------------------------------------------------------------- break actions

BREAK_ROLES = frozenset({"operations", "firm_admin", "compliance_officer"})


def _require_break_role(actor: User | None) -> None:
    """Who may work a break: operations, the firm's administrator, platform officers (issue 15:
    an advisor closed an unexplained break). System actions (runs, tasks) have no actor."""
    if actor is None or getattr(actor, "is_superuser", False):
        return
    if getattr(actor, "role", "") not in BREAK_ROLES:
        raise BreakRoleRefused(detail={"role": getattr(actor, "role", "")})


def _lock(brk: Break) -> Break:
    return Break.objects.select_for_update().get(pk=brk.pk)


def _transition(brk: Break, name: str, *, actor: User, event: str, reason: str = "", detail: dict[str, Any] | None = None) -> Break:
    before = brk.state
    try:
        getattr(brk, name)()
    except TransitionNotAllowed:
        raise BreakTransitionNotAllowed(f"cannot {name.replace('_', ' ')} a break that is {before}",
                                        detail={"state": before, "action": name}) from None
    brk.save()
    record_event(subject=brk, event_type=event, actor=actor, from_state=before, to_state=brk.state, reason=reason,
                 detail=detail or {})
    if event in ("break.resolved", "break.written_off") and brk.firm_id is not None:
        from onboarding import webhooks

        webhooks.emit(firm=brk.firm_id, event_type=event, data={
            "break": brk.pk, "custodian": brk.custodian_code, "custody_account": brk.custody_account,
            "kind": brk.kind, "amount_base": brk.amount_base, "base_currency": brk.base_currency,
            "state": brk.state, "reason": reason})
    return brk


@transaction.atomic
def break_assign(*, brk: Break, owner: User, actor: User) -> Break:
    _require_break_role(actor)
    _require_break_role(owner)
    brk = _lock(brk)
    brk.owner = owner
    return _transition(brk, "assign", actor=actor, event="break.assigned", detail={"owner": owner.pk})


@transaction.atomic
def break_investigate(*, brk: Break, actor: User, note: str = "") -> Break:
    _require_break_role(actor)
    brk = _lock(brk)
    if brk.owner_id is None:
        brk.owner = actor
    brk = _transition(brk, "investigate", actor=actor, event="break.investigating", reason=note)
    if note:
        BreakNote.objects.create(brk=brk, author=actor, text=note)
    return brk


@transaction.atomic
def break_resolve(*, brk: Break, actor: User, reason: str) -> Break:
    if not reason.strip():
        from onboarding.exceptions import ValidationFailed

        raise ValidationFailed("a resolution needs a reason", detail={"reason": ["a resolution needs a reason"]})
    _require_break_role(actor)
    brk = _lock(brk)
    if not brk.explained and brk.amount_base != 0 and brk.state in ACTIVE_STATES:
        raise ResolveNeedsWriteOff(
            f"an unexplained difference of {brk.base_currency} {brk.amount_base:,.2f} is closed by a write-off "
            "that a second person approves (request-write-off, then approve-write-off), or clears by itself "
            "when a later run no longer finds it",
            detail={"amount_base": str(brk.amount_base), "currency": brk.base_currency, "explained": False})
    brk.resolution_reason = reason
    return _transition(brk, "resolve", actor=actor, event="break.resolved", reason=reason)


@transaction.atomic
def break_request_write_off(*, brk: Break, actor: User, reason: str) -> Break:
    _require_break_role(actor)
    brk = _lock(brk)
    if brk.state != BreakState.INVESTIGATING:
        raise BreakTransitionNotAllowed(f"cannot request a write-off of a break that is {brk.state}",
                                        detail={"state": brk.state})
    brk.write_off_requested_by = actor
    brk.resolution_reason = reason
    brk.save(update_fields=["write_off_requested_by", "resolution_reason", "updated_at"])
    record_event(subject=brk, event_type="break.write_off_requested", actor=actor, from_state=brk.state,
                 to_state=brk.state, reason=reason, detail={"amount_base": str(brk.amount_base)})
    return brk


@transaction.atomic
def break_approve_write_off(*, brk: Break, approver: User) -> Break:
    _require_break_role(approver)
    brk = _lock(brk)
    if brk.write_off_requested_by_id is None:
        raise BreakTransitionNotAllowed("no write-off was requested for this break", detail={"state": brk.state})
    if brk.write_off_requested_by_id == approver.pk:
        raise WriteOffNeedsSecondPerson(detail={"requested_by": brk.write_off_requested_by_id})
    brk.written_off_approved_by = approver
    return _transition(brk, "write_off", actor=approver, event="break.written_off", reason=brk.resolution_reason,
                       detail={"requested_by": brk.write_off_requested_by_id, "amount_base": str(brk.amount_base)})


@transaction.atomic
def break_add_note(*, brk: Break, actor: User, text: str) -> BreakNote:
    _require_break_role(actor)
    note = BreakNote.objects.create(brk=brk, author=actor, text=text)
    record_event(subject=brk, event_type="break.note_added", actor=actor, detail={"note": note.pk})
    return note


# ---------------------------------------------------------------- daily run

@transaction.atomic
def daily_run_start(*, as_of: dt.date) -> DailyRun:
    """The platform's run for a day (idempotent: the same day again is the same run, reopened)."""
    run, created = DailyRun.objects.get_or_create(as_of=as_of, firm=None)
    if created:
        record_event(subject=run, event_type="recon.daily_run_started", detail={"as_of": str(as_of)})
    elif run.status != RunStatus.RUNNING:
        DailyRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, finished_at=None)
        run.refresh_from_db()
    return run


def daily_run_refuse_file(*, daily_run: DailyRun, custodian_code: str, path: str, reason: str,
                          detail: dict[str, Any] | None = None) -> ReconRun:
    """A file the run could not read: listed as refused with its reason (nothing else changes)."""
    return ReconRun.objects.create(custodian_code=custodian_code, as_of=daily_run.as_of, daily_run=daily_run,
                                   status=RunStatus.FAILED, finished_at=timezone.now(),
                                   stats={"refused": reason, "file": Path(path).name, "detail": detail or {}})


@transaction.atomic
def daily_run_finish(*, daily_run_id: int) -> DailyRun:
    """Close the platform run with its counts, then write each firm's own run for the day."""
    run = DailyRun.objects.select_for_update().get(pk=daily_run_id)
    runs = list(run.runs.all())
    refused = [r for r in runs if r.status == RunStatus.FAILED]
    done = [r for r in runs if r.status == RunStatus.COMPLETED]
    # a refused file is reported, not a failed day; the day fails only when nothing could be read
    run.status = RunStatus.FAILED if runs and not done else RunStatus.COMPLETED
    run.finished_at = timezone.now()
    run.stats = {
        "custodians": len({r.custodian_code for r in runs}), "files": len(runs), "files_reconciled": len(done),
        "files_refused": len(refused),
        "refused": [{"custodian": r.custodian_code, "file": r.stats.get("file", r.file.name if r.file_id else ""),
                     "reason": r.stats.get("refused", "")} for r in refused],
        "breaks": sum(r.stats.get("breaks", 0) for r in done), "explained": sum(r.stats.get("explained", 0)
                                                                                 for r in done),
    }
    run.save()
    record_event(subject=run, event_type="recon.daily_run_finished", to_state=run.status, detail=run.stats)
    _firm_runs(run, runs)
    return run


def _firm_runs(run: DailyRun, runs: list[ReconRun]) -> None:
    """Each firm's view of the day: only its custody accounts' breaks, counted per custodian."""
    from django.db.models import Count, Q

    from .models import BookCustodyAccount

    codes = {r.custodian_code for r in runs}
    firms = set(BookCustodyAccount.objects.filter(custodian_code__in=codes).values_list("firm_id", flat=True))
    run_ids = [r.pk for r in runs]
    seen = (Break.objects.filter(last_run_id__in=run_ids, firm_id__isnull=False)
            .values("firm_id", "custodian_code")
            .annotate(breaks=Count("id", filter=Q(explained=False)), explained=Count("id", filter=Q(explained=True))))
    per_firm: dict[int, dict[str, Any]] = {f: {} for f in firms}
    for row in seen:
        per_firm.setdefault(row["firm_id"], {})[row["custodian_code"]] = {"breaks": row["breaks"],
                                                                         "explained": row["explained"]}
    for firm_id, by_custodian in per_firm.items():
        mine = {c for c, in BookCustodyAccount.objects.filter(firm_id=firm_id, custodian_code__in=codes)
                .values_list("custodian_code").distinct()} | set(by_custodian)
        stats = {"custodians": len(mine), "breaks": sum(v["breaks"] for v in by_custodian.values()),
                 "explained": sum(v["explained"] for v in by_custodian.values()),
                 "by_custodian": by_custodian,
                 "files_refused": [x for x in run.stats["refused"] if x["custodian"] in mine]}
        DailyRun.objects.update_or_create(firm_id=firm_id, as_of=run.as_of, defaults={
            "parent": run, "status": run.status, "finished_at": run.finished_at, "stats": stats})


# ---------------------------------------------------------------- books from the accounts ledger

@transaction.atomic
def identifiers_refresh() -> int:
    """Our identifiers (ISIN, CUSIP, SEDOL, ticker + MIC) from trading.reference into the
    identifier map the matcher reads. Custodian-specific codes and ADR factors stay as data."""
    from trading.reference.models import Instrument, Listing

    from .models import InstrumentIdentifier

    rows = []
    for iid, isin, cusip, sedol in Instrument.objects.values_list("pk", "isin", "cusip", "sedol"):
        rows += [("isin", isin, iid), ("cusip", cusip, iid), ("sedol", sedol, iid)]
    for iid, ticker, mic, sedol in Listing.objects.values_list("instrument_id", "ticker", "market__mic", "sedol"):
        rows += [("ticker_mic", f"{ticker}@{mic}", iid), ("sedol", sedol, iid)]
    objs = [InstrumentIdentifier(kind=k, value=v, custodian_code="", instrument_id=i, quantity_factor=1)
            for k, v, i in rows if v]
    InstrumentIdentifier.objects.bulk_create(objs, ignore_conflicts=True, batch_size=5000)
    return len(objs)


@transaction.atomic
def books_snapshot_load(*, custodian_code: str = "", as_of: dt.date, custodian_bic: str = "") -> dict[str, int]:
    """Our books at one custodian on `as_of`, read through `accounts.selectors.custodian_books`,
    written in bulk into the tables the matcher reads (replacing the previous snapshot).
    Positions are on trade date; trades pending settlement after `as_of` are listed so that a
    settlement-basis statement can be explained. Cash is keyed by the custodian's cash account
    number (IBAN) when one is on file, which is what an MT940 :25: or a camt.053 Acct/Id names."""
    from accounts.models import CustodyAccount, CustodyCashAccount
    from accounts.selectors import custodian_books

    from .models import BookCash, BookCorporateAction, BookCustodyAccount, BookPendingTrade, BookPosition

    custodian = _accounts_custodian(custodian_code or custodian_bic)
    assert custodian is not None, f"no custodian {custodian_code or custodian_bic!r} in accounts"
    custodian_bic = custodian_code or custodian_bic  # the code the files and the books tables use
    books = custodian_books(custodian_id=custodian.pk, custodian_bic=custodian.bic or "", as_of=as_of)
    cash_numbers = {(n, c): iban for n, c, iban in CustodyCashAccount.objects.filter(
        custody_account__custodian_id=custodian.pk).values_list("custody_account__number", "currency", "number")}
    BookPosition.objects.filter(custodian_code=custodian_bic).delete()
    BookPendingTrade.objects.filter(custodian_code=custodian_bic).delete()
    BookCash.objects.filter(custodian_code=custodian_bic).delete()
    BookCustodyAccount.objects.filter(custodian_code=custodian_bic).delete()
    firms = list(CustodyAccount.objects.filter(custodian_id=custodian.pk)
                 .values_list("number", "account__firm_id"))
    firms += [(iban, firm) for (number, _ccy), iban in cash_numbers.items() for n, firm in firms if n == number]
    BookCustodyAccount.objects.bulk_create(
        [BookCustodyAccount(custodian_code=custodian_bic, custody_account=n, firm_id=f) for n, f in dict(firms).items()],
        batch_size=5000)
    BookPosition.objects.bulk_create([
        BookPosition(custodian_code=custodian_bic, custody_account=number, instrument_id=iid, quantity=trade_q,
                     price=price, price_currency=ccy or "", fx_rate=rate, base_currency=base, as_of=as_of)
        for number, iid, _isin, trade_q, _settled, price, ccy, rate, base in books.positions], batch_size=5000)
    BookPendingTrade.objects.bulk_create(
        [BookPendingTrade(custodian_code=custodian_bic, custody_account=number, instrument_id=iid, quantity=qty,
                          trade_date=td, settle_date=sd) for number, iid, qty, td, sd in books.pending]
        + [BookPendingTrade(custodian_code=custodian_bic, custody_account=cash_numbers.get((number, ccy), number),
                            cash_currency=ccy, cash_amount=amount, trade_date=as_of, settle_date=sd)
           for number, ccy, amount, sd in books.pending_cash], batch_size=5000)
    from trading.reference.selectors import fx_rates_to

    base_of = dict(CustodyAccount.objects.filter(custodian_id=custodian.pk)
                   .values_list("number", "account__base_currency"))
    rates = {base: fx_rates_to(target=base, currencies={c for _n, c, _t, _s in books.cash}, on=as_of)
             for base in set(base_of.values())}

    def rate(number: str, ccy: str) -> tuple[Decimal, str, str]:
        base = base_of.get(number, "")
        if ccy == base:
            return Decimal(1), "", base
        found = rates.get(base, {}).get(ccy)
        return (found.rate, found.source, base) if found else (Decimal(0), "", base)

    BookCash.objects.bulk_create([
        BookCash(custodian_code=custodian_bic, custody_account=cash_numbers.get((number, ccy), number), currency=ccy,
                 amount=trade_amount, settled_amount=settled, fx_rate=rate(number, ccy)[0],
                 fx_source=rate(number, ccy)[1], base_currency=rate(number, ccy)[2], as_of=as_of)
        for number, ccy, trade_amount, settled in books.cash], batch_size=5000)
    # an event announced earlier and now booked in the ledger stops explaining differences
    for iid, day, _factor, _kind in books.corporate_actions:
        BookCorporateAction.objects.filter(instrument_id=iid, effective_date=day).exclude(status="booked") \
            .update(status="booked")
    known = set(BookCorporateAction.objects.values_list("instrument_id", "effective_date"))
    BookCorporateAction.objects.bulk_create([
        BookCorporateAction(instrument_id=iid, effective_date=day, ratio=factor, description=kind)
        for iid, day, factor, kind in books.corporate_actions if (iid, day) not in known])
    identifiers_refresh()
    return {"positions": len(books.positions), "pending": len(books.pending) + len(books.pending_cash),
            "cash": len(books.cash)}


def _accounts_custodian(code: str) -> Any:
    """The accounts custodian a file's code names: its `code` (a BIC by default), or its BIC."""
    from django.db.models import Q

    from accounts.models import Custodian

    return Custodian.objects.filter(Q(code=code) | Q(bic=code)).order_by("pk").first() if code else None


def custodian_in_accounts(code: str) -> bool:
    return _accounts_custodian(code) is not None
