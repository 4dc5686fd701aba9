"""Daily runs per firm: the platform run reads every custodian's files (they cover all firms);
each firm with accounts there gets its own run for the day, with only its lines and counts."""
from __future__ import annotations

import datetime as dt

import pytest

from tests.factories import FirmFactory
from trading.reconciliation import selectors, services
from trading.reconciliation.models import BookCustodyAccount, Break, DailyRun, ReconRun

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 11, 24)


def _brk(run, firm, account, n, *, explained=False, custodian="BNY"):
    return Break.objects.create(key=f"{custodian}{account}{n}", firm=firm, custodian_code=custodian,
                                custody_account=account, instrument_id=n, kind="quantity", explained=explained,
                                state="resolved" if explained else "open",
                                resolution_reason="pending" if explained else "", first_seen=DAY, last_seen=DAY,
                                first_run=run, last_run=run)


def test_each_firm_gets_its_own_run_and_counts():
    alpha, beta = FirmFactory(), FirmFactory()
    for custodian, account, firm in (("BNY", "A-1", alpha), ("BNY", "B-1", beta), ("CITI", "B-2", beta)):
        BookCustodyAccount.objects.create(custodian_code=custodian, custody_account=account, firm=firm)
    daily = services.daily_run_start(as_of=DAY)
    bny = ReconRun.objects.create(custodian_code="BNY", as_of=DAY, daily_run=daily, status="completed",
                                  stats={"breaks": 2, "explained": 1, "compared": 10, "clean": 7})
    services.daily_run_refuse_file(daily_run=daily, custodian_code="CITI", path="/inbox/citi.txt",
                                   reason="not a holdings or balance statement")
    _brk(bny, alpha, "A-1", 1)
    _brk(bny, alpha, "A-1", 2)
    _brk(bny, beta, "B-1", 3, explained=True)
    services.daily_run_finish(daily_run_id=daily.pk)
    daily.refresh_from_db()
    assert daily.status == "completed"
    assert (daily.stats["custodians"], daily.stats["files_refused"], daily.stats["breaks"]) == (2, 1, 2)
    mine = {r.firm_id: r for r in DailyRun.objects.filter(as_of=DAY, firm__isnull=False)}
    assert set(mine) == {alpha.pk, beta.pk}  # as_of is unique per firm, not across firms
    a, b = mine[alpha.pk], mine[beta.pk]
    assert (a.stats["custodians"], a.stats["breaks"], a.stats["explained"], a.stats["files_refused"]) == (1, 2, 0, [])
    assert (b.stats["custodians"], b.stats["breaks"], b.stats["explained"]) == (2, 0, 1)
    assert [x["custodian"] for x in b.stats["files_refused"]] == ["CITI"]
    # the firm's report holds only its own breaks, never the custodian-wide match rate
    report = selectors.run_report(a)
    assert report["open_breaks"] == 2 and {x.firm_id for x in report["top_breaks"]} == {alpha.pk}
    assert report["match_rate"] is None
    assert selectors.run_report(b)["open_breaks"] == 0
    # finishing the day again updates the same rows
    services.daily_run_finish(daily_run_id=services.daily_run_start(as_of=DAY).pk)
    assert DailyRun.objects.filter(as_of=DAY).count() == 3
