"""Reads: the books side of a reconciliation, in bulk, as the arrays the engine takes."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from django.db.models import Count, Exists, OuterRef, Q

from onboarding.labels import code_label

from .matching import QSCALE, BookPositions, CashBalances, CorporateActions, IdentifierMap, PendingTrades
from .models import (
    ACTIVE_STATES,
    BookCash,
    BookCorporateAction,
    BookPendingTrade,
    BookPosition,
    Break,
    CustodianFormat,
    InstrumentIdentifier,
    ReconRun,
    RuleKind,
    RuleSet,
    StatementBalance,
)

# ---------------------------------------------------------------- formats and layouts (data, versioned)

def layout_version(code: str, *, on: dt.date | None = None) -> RuleSet:
    """The layout version in force on `on` (the newest whose effective date has come; for an
    older statement than every version, the first one), from the database, never from a file."""
    from .exceptions import UnknownFormat

    versions = RuleSet.objects.filter(kind=RuleKind.LAYOUT, code=code)
    chosen = (versions.filter(effective_from__lte=on) if on else versions).order_by("-version").first() \
        or versions.order_by("version").first()
    if chosen is None:
        raise UnknownFormat(f"no layout {code!r} is loaded (recon_rules_load, or add it in the admin)",
                            detail={"format": f"csv:{code}"})
    return chosen


def layout_spec(code: str, *, on: dt.date | None = None) -> dict:
    return layout_version(code, on=on).spec


def custodian_formats(custodian_code: str, *, on: dt.date | None = None) -> list[CustodianFormat]:
    """The formats a custodian sends, as of `on`: per format its newest version in force, if active."""
    rows = CustodianFormat.objects.filter(custodian_code=custodian_code)
    if on is not None:
        rows = rows.filter(effective_from__lte=on)
    newest: dict[str, CustodianFormat] = {}
    for row in rows.order_by("format", "-version"):
        newest.setdefault(row.format, row)
    return [r for r in newest.values() if r.active]


def custodians_for(user):
    """The custodians a user's firm holds custody accounts at (platform officers: every custodian)."""
    from accounts.models import Custodian

    return _scoped(Custodian.objects.order_by("name"), user,
                   lambda qs, firm_id: qs.filter(custody_accounts__account__firm_id=firm_id).distinct())


def _scoped(qs, user, mine):
    """`qs` as `user` may see it: nothing for the anonymous or a firmless user, all for platform
    officers, else `mine(qs, firm_id)`."""
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    if sees_all_firms(user):
        return qs
    if user.firm_id is None:
        return qs.none()
    return mine(qs, user.firm_id)


@dataclass(frozen=True)
class FormatInForce:
    """One format a custodian sends, in force on a date, with its layout's version for a CSV."""

    format: CustodianFormat
    layout: RuleSet | None


def formats_in_force(custodian_codes: list[str], *, on: dt.date) -> dict[str, list[FormatInForce]]:
    """Per custodian code, the formats in force on `on` and, for `csv:<layout>`, the layout version
    that reads them, in three queries (formats, layouts, nothing per row)."""
    rows = CustodianFormat.objects.filter(custodian_code__in=custodian_codes, effective_from__lte=on)
    newest: dict[tuple[str, str], CustodianFormat] = {}
    for row in rows.order_by("custodian_code", "format", "-version"):
        newest.setdefault((row.custodian_code, row.format), row)
    codes = {f.format[4:] for f in newest.values() if f.format.startswith("csv:")}
    versions: dict[str, list[RuleSet]] = {}
    for rs in RuleSet.objects.filter(kind=RuleKind.LAYOUT, code__in=codes).order_by("code", "version"):
        versions.setdefault(rs.code, []).append(rs)
    layouts: dict[str, RuleSet] = {}
    for code, vs in versions.items():  # as layout_version: the newest in force, else the first version
        in_force = [v for v in vs if v.effective_from <= on]
        layouts[code] = in_force[-1] if in_force else vs[0]
    out: dict[str, list[FormatInForce]] = {code: [] for code in custodian_codes}
    for (code, fmt), row in newest.items():
        if row.active:
            out[code].append(FormatInForce(row, layouts.get(fmt[4:]) if fmt.startswith("csv:") else None))
    return out


def format_for_file(custodian_code: str, filename: str, *, on: dt.date | None = None) -> str | None:
    """The format of one received file: the custodian's format whose pattern the name matches,
    else its only format without a pattern; None lets the content decide (XML and SWIFT tell)."""
    from fnmatch import fnmatch

    formats = custodian_formats(custodian_code, on=on)
    for row in formats:
        if row.file_pattern and fnmatch(filename.lower(), row.file_pattern.lower()):
            return row.format
    open_ended = [r.format for r in formats if not r.file_pattern]
    return open_ended[0] if len(open_ended) == 1 else None


def _scaled(values) -> np.ndarray:
    return np.fromiter((int(Decimal(v) * QSCALE) for v in values), dtype=np.int64, count=len(values))


def identifier_map(custodian_code: str = "") -> IdentifierMap:
    rows = list(InstrumentIdentifier.objects.filter(Q(custodian_code="") | Q(custodian_code=custodian_code))
                .values_list("kind", "value", "instrument_id", "quantity_factor", "custodian_code"))
    return IdentifierMap(
        kind=np.array([r[0] for r in rows], dtype=object), value=np.array([r[1] for r in rows], dtype=object),
        instrument_id=np.array([r[2] for r in rows], dtype=np.int64),
        quantity_factor=np.array([float(r[3]) for r in rows], dtype=float),
        custodian=np.array([r[4] for r in rows], dtype=object),
    )


def book_positions(custodian_code: str) -> tuple[BookPositions, str]:
    rows = list(BookPosition.objects.filter(custodian_code=custodian_code).values_list(
        "custody_account", "instrument_id", "quantity", "price", "price_currency", "fx_rate", "base_currency"))
    base = rows[0][6] if rows else "USD"
    return BookPositions(
        account=np.array([r[0] for r in rows], dtype=object),
        instrument_id=np.array([r[1] for r in rows], dtype=np.int64),
        quantity=_scaled([r[2] for r in rows]),
        price=np.array([float(r[3]) if r[3] is not None else np.nan for r in rows], dtype=float),
        price_currency=np.array([r[4] for r in rows], dtype=object),
        fx_rate=np.array([float(r[5]) if r[5] is not None else np.nan for r in rows], dtype=float),
    ), base


def pending_trades(custodian_code: str) -> PendingTrades:
    rows = list(BookPendingTrade.objects.filter(custodian_code=custodian_code, instrument_id__isnull=False)
                .values_list("custody_account", "instrument_id", "quantity", "trade_date", "settle_date"))
    return PendingTrades(
        account=np.array([r[0] for r in rows], dtype=object),
        instrument_id=np.array([r[1] for r in rows], dtype=np.int64), quantity=_scaled([r[2] for r in rows]),
        trade_date=np.array([r[3] for r in rows], dtype="datetime64[D]"),
        settle_date=np.array([r[4] for r in rows], dtype="datetime64[D]"),
    )


def pending_cash(custodian_code: str, as_of: dt.date) -> CashBalances:
    rows = list(BookPendingTrade.objects.filter(custodian_code=custodian_code, trade_date__lte=as_of,
                                                settle_date__gt=as_of).exclude(cash_currency="")
                .values_list("custody_account", "cash_currency", "cash_amount"))
    return CashBalances(account=np.array([r[0] for r in rows], dtype=object),
                        currency=np.array([r[1] for r in rows], dtype=object), amount=_scaled([r[2] for r in rows]))


def book_cash(custodian_code: str) -> tuple[CashBalances, bool]:
    """Our cash at a custodian, settled where the books carry it (then True), else trade date."""
    rows = list(BookCash.objects.filter(custodian_code=custodian_code)
                .values_list("custody_account", "currency", "amount", "settled_amount"))
    settled = bool(rows) and all(r[3] is not None for r in rows)
    return CashBalances(account=np.array([r[0] for r in rows], dtype=object),
                        currency=np.array([r[1] for r in rows], dtype=object),
                        amount=_scaled([r[3] if settled else r[2] for r in rows])), settled


def book_price_sources(custodian_code: str) -> dict:
    return {(a, i): src for a, i, src in BookPosition.objects.filter(custodian_code=custodian_code)
            .exclude(price_source="").values_list("custody_account", "instrument_id", "price_source")}


def run_lines(run):
    """A run's lines with the ISIN of each known instrument (read through the identifier map)."""
    from django.db.models import OuterRef, Subquery

    from .models import InstrumentIdentifier, ReconLine

    isin = InstrumentIdentifier.objects.filter(kind="isin", custodian_code="", instrument_id=OuterRef("instrument_id"))\
        .order_by("-value").values("value")[:1]
    return ReconLine.objects.filter(run=run).annotate(isin=Subquery(isin)).order_by("custody_account", "id")


def cash_fx_to_base(custodian_code: str) -> dict:
    """(cash account, currency) -> (our rate to the account's base currency, base currency)."""
    return {(a, ccy): (float(rate), base) for a, ccy, rate, base in
            BookCash.objects.filter(custodian_code=custodian_code).values_list(
                "custody_account", "currency", "fx_rate", "base_currency")}


def cash_fx_sources(custodian_code: str) -> dict:
    """(cash account, currency) -> the source of our rate to base (e.g. WMR_4PM_LONDON)."""
    return {(a, ccy): src for a, ccy, src in BookCash.objects.filter(custodian_code=custodian_code)
            .exclude(fx_source="").values_list("custody_account", "currency", "fx_source")}


def base_currency_of(custodian_code: str) -> str:
    """The base currency of our accounts at a custodian (the most common one) for break labels."""
    row = (BookPosition.objects.filter(custodian_code=custodian_code).values("base_currency")
           .annotate(n=Count("id")).order_by("-n").first()) or \
        (BookCash.objects.filter(custodian_code=custodian_code).exclude(base_currency="").values("base_currency")
         .annotate(n=Count("id")).order_by("-n").first())
    return row["base_currency"] if row else "USD"


def corporate_actions() -> CorporateActions:
    rows = list(BookCorporateAction.objects.values_list("instrument_id", "effective_date", "ratio", "status"))
    return CorporateActions(instrument_id=np.array([r[0] for r in rows], dtype=np.int64),
                            effective_date=np.array([r[1] for r in rows], dtype="datetime64[D]"),
                            ratio=np.array([float(r[2]) for r in rows], dtype=float),
                            open=np.array([r[3] != "booked" for r in rows], dtype=bool))


def previous_closings(custody_accounts: set[str], before: dt.date) -> dict[tuple[str, str], Decimal]:
    out: dict[tuple[str, str], Decimal] = {}
    rows = (StatementBalance.objects.filter(custody_account__in=custody_accounts, closing_date__lt=before)
            .order_by("closing_date", "id").values_list("custody_account", "currency", "closing"))
    for account, ccy, closing in rows:
        out[(account, ccy)] = closing
    return out


def custodians_with_books() -> list[str]:
    return sorted(set(BookPosition.objects.values_list("custodian_code", flat=True).distinct())
                  | set(BookCash.objects.values_list("custodian_code", flat=True).distinct()))


def open_breaks(*, custodian_code: str | None = None, firm=None):
    """Active, unexplained breaks, highest priority first. A firm user's view passes the firm."""
    qs = Break.objects.filter(state__in=ACTIVE_STATES, explained=False)
    if custodian_code:
        qs = qs.filter(custodian_code=custodian_code)
    if firm is not None:
        qs = qs.filter(firm=firm)
    return qs.order_by("priority", "-amount_base")


def run_report(daily_run, *, user=None) -> dict:
    """Match rate, breaks by type, by custodian and by age, for one daily run.

    With a `user` the report is what that user may see (issue 15): a firm user gets only their
    firm's breaks and only the custodians holding their firm's accounts, with counts taken from
    their own breaks (a run's match rate covers every firm's positions, so it is shown only to
    users who see every firm). Without a user (the nightly files for the platform) it is whole."""
    # a firm's own daily run reads the platform run's files, and only that firm's lines
    firm_id = daily_run.firm_id
    source = daily_run.parent if firm_id and daily_run.parent_id else daily_run
    runs = list(ReconRun.objects.filter(daily_run=source).order_by("custodian_code"))
    whole = (user is None or sees_all_firms(user)) and not firm_id
    if firm_id:
        mine = set(daily_run.stats.get("by_custodian", {})) | {
            x["custodian"] for x in daily_run.stats.get("files_refused", [])}
        from .models import BookCustodyAccount

        mine |= set(BookCustodyAccount.objects.filter(firm_id=firm_id).values_list("custodian_code", flat=True))
        runs = [r for r in runs if r.custodian_code in mine]
    breaks = Break.objects.filter(state__in=ACTIVE_STATES, explained=False,
                                  custodian_code__in=[r.custodian_code for r in runs])
    if firm_id:
        breaks = breaks.filter(firm_id=firm_id)
    if not whole and user is not None:
        breaks = breaks.filter(pk__in=breaks_for(user).values("pk"))
        own = set(runs_for(user).filter(pk__in=[r.pk for r in runs]).values_list("pk", flat=True))
        runs = [r for r in runs if r.pk in own]
    as_of = daily_run.as_of
    per_custodian = []
    pairs = clean = 0
    own_counts = dict(breaks.values_list("custodian_code").annotate(n=Count("id")).order_by()) if not whole else {}
    for run in runs:
        s = run.stats or {}
        if whole:
            pairs += s.get("compared", 0)
            clean += s.get("clean", 0)
            per_custodian.append({"custodian": run.custodian_code, "status": run.status,
                                  "match_rate": s.get("match_rate"), "breaks": s.get("breaks", 0),
                                  "explained": s.get("explained", 0), "positions": s.get("positions", 0)})
        else:
            per_custodian.append({"custodian": run.custodian_code, "status": run.status, "match_rate": None,
                                  "breaks": own_counts.get(run.custodian_code, 0), "explained": None,
                                  "positions": None})
    by_kind = dict(breaks.values_list("kind").annotate(n=Count("id")).order_by("kind"))
    kinds_in_words = [(code_label("reconciliation.break.kind", k), n) for k, n in by_kind.items()]
    buckets = {"0-1 days": 0, "2-5 days": 0, "6-20 days": 0, "over 20 days": 0}
    for first_seen in breaks.values_list("first_seen", flat=True):
        age = (as_of - first_seen).days
        label = ("0-1 days" if age <= 1 else "2-5 days" if age <= 5 else "6-20 days" if age <= 20
                 else "over 20 days")
        buckets[label] += 1
    top = list(breaks.order_by("priority", "-amount_base")[:25])
    return {"as_of": as_of, "daily_run": daily_run, "match_rate": (clean / pairs) if pairs else None,
            "compared": pairs, "clean": clean, "by_custodian": per_custodian, "by_kind": by_kind,
            "by_kind_words": kinds_in_words,
            "by_age": buckets, "open_breaks": breaks.count(), "top_breaks": top, "whole": whole}


# --- Scoped reads for the API and pages ---------------------------------------------------


def sees_all_firms(user) -> bool:
    return bool(getattr(user, "is_superuser", False) or getattr(user, "is_platform_officer", False))


def _firm_custody(firm_id: int, *, number=None, custodian=None):
    from accounts.models import CustodyAccount

    qs = CustodyAccount.objects.filter(account__firm_id=firm_id)
    if number is not None:
        qs = qs.filter(number=number)
    return qs.filter(Q(custodian__code=custodian) | Q(custodian__bic=custodian) | Q(custodian__name=custodian))


def breaks_for(user):
    """Breaks on the user's firm's custody accounts (matched by custodian and account number
    when the run did not stamp the firm); platform officers see all."""
    def mine(qs, firm_id):
        held = _firm_custody(firm_id, number=OuterRef("custody_account"), custodian=OuterRef("custodian_code"))
        return qs.filter(Q(firm_id=firm_id) | (Q(firm__isnull=True) & Exists(held)))

    return _scoped(Break.objects.select_related("owner"), user, mine)


def runs_for(user):
    return _scoped(ReconRun.objects.select_related("file"), user,
                   lambda qs, firm_id: qs.filter(Exists(_firm_custody(firm_id, custodian=OuterRef("custodian_code")))))
