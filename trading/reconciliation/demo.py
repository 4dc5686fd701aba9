"""Reconciliation's part of the demo day (after trading's, trading/demo.py): the custodians'
statements for Friday 20 November 2026, written by the custodian simulator from what settled in
the ledger, dropped in the reconciliation inbox and reconciled through the daily run's own steps
(the task body per file, then the run's finish), as `recon_daily` would.

BNY Mellon and Citibank London (MT535, every safekeeping account in one file) agree with our
books. HSBC Hong Kong's MT535
reports one board lot (400 shares) of HSBC's Hong Kong line fewer than we hold for Alice
Carter's account: one open quantity break, on her account page and in the officer's queue.
A second run changes nothing (the day's platform run is found and left as it is)."""
from __future__ import annotations

import datetime as dt

from accounts.models import Custodian
from trading.reference.demo import DEMO_PRICE_DATE, INSTRUMENTS

from . import simulator
from .models import DailyRun
from .services import daily_run_finish, daily_run_start
from .tasks import inbox_root, reconcile_custodian_file

DAY: dt.date = DEMO_PRICE_DATE
HSBC_ISIN = INSTRUMENTS["HSBA"]["isin"]
MISSING_LOT = -400
STATEMENTS = (  # custodian BIC, format, differences injected
    # not semt.002 here: one document per safekeeping account, and a complete statement for one
    # account is read as complete for the whole custodian (the other accounts' lines would open as
    # missing); see the report of issue 13
    ("IRVTUS3N", "mt535", ()),
    ("CITIGB2L", "mt535", ()),
    ("HSBCHKHH", "mt535", (f"quantity:{HSBC_ISIN}:{MISSING_LOT}",)),
)


def reconciliation_demo() -> DailyRun | None:
    """Write and reconcile the day's statements (see the module docstring); the platform's
    daily run, or None when there is nothing at the demo custodians to reconcile."""
    done = DailyRun.objects.filter(as_of=DAY, firm__isnull=True).first()
    if done is not None:
        return done
    custodians = {c.bic: c for c in Custodian.objects.filter(bic__in=[bic for bic, _f, _i in STATEMENTS])}
    files: list[tuple[str, str, str]] = []
    for bic, fmt, inject in STATEMENTS:
        custodian = custodians.get(bic)
        if custodian is None:
            continue
        snap = simulator.collect(custodian, DAY)
        if not snap.positions:
            continue
        simulator.inject(snap, list(inject))
        folder = inbox_root() / DAY.isoformat() / custodian.code
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in simulator.statement_files(snap, fmt):
            (folder / name).write_bytes(data)
            files.append((custodian.code, str(folder / name), fmt))
    if not files:
        return None
    daily = daily_run_start(as_of=DAY)
    for code, path, fmt in files:
        reconcile_custodian_file(daily.pk, code, path, fmt)
    return daily_run_finish(daily_run_id=daily.pk)


def after_approval(ctx: object) -> None:
    reconciliation_demo()
