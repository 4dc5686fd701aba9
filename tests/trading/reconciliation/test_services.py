"""Receiving files, reconciliation runs, break carry-over and the break workflow (any database)."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from onboarding.models import AuditEvent
from tests.factories import UserFactory
from trading.reconciliation import services
from trading.reconciliation.exceptions import (
    BreakTransitionNotAllowed,
    FileRefused,
    WriteOffNeedsSecondPerson,
)
from trading.reconciliation.models import (
    Break,
    BreakState,
    CustodianFile,
    ReconRun,
    RuleSet,
    StatementBalance,
    StatementLine,
)

from .builders import semt002
from .factories import BookCashFactory, BookPositionFactory, IdentifierFactory, PendingTradeFactory

pytestmark = pytest.mark.django_db

APPLE, MSFT, VOD = "US0378331005", "US5949181045", "GB00BH4HKS39"


@pytest.fixture
def books(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    IdentifierFactory(kind="isin", value=APPLE, instrument_id=1)
    IdentifierFactory(kind="isin", value=MSFT, instrument_id=2)
    IdentifierFactory(kind="isin", value=VOD, instrument_id=3)
    BookPositionFactory(instrument_id=1, quantity=Decimal(1000), price=Decimal("185.64"))
    BookPositionFactory(instrument_id=2, quantity=Decimal(50), price=Decimal("397.58"))
    BookPositionFactory(instrument_id=3, quantity=Decimal(2500), price=Decimal("0.7152"), price_currency="GBP",
                        fx_rate=Decimal("1.27"))


def holdings(apple="1000", msft="50", vod="2500"):
    rows = [{"isin": APPLE, "qty": apple, "price": "185.64", "price_ccy": "USD"},
            {"isin": MSFT, "qty": msft, "price": "397.58", "price_ccy": "USD"}]
    if vod is not None:
        rows.append({"isin": VOD, "qty": vod, "price": "71.52", "price_ccy": "GBX"})
    return rows


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def run_file(tmp_path, name, as_of="2024-01-31", **kw):
    path = write(tmp_path, name, semt002(as_of=as_of, holdings=holdings(**kw)))
    return services.reconcile_file(custodian_code="GLOBALCUST", path=path, fmt="semt002", engine="numpy")


def test_clean_file_matches_everything_and_is_audited(books, tmp_path):
    outcome = run_file(tmp_path, "d1.xml")
    run = outcome.run
    assert run.status == "completed" and run.stats["breaks"] == 0 and run.stats["match_rate"] == 1.0
    assert StatementLine.objects.filter(file=run.file).count() == 3
    assert AuditEvent.objects.filter(subject_type="reconciliation.reconrun", event_type="recon.run_completed").exists()
    assert AuditEvent.objects.filter(subject_type="reconciliation.custodianfile", event_type="recon.file_received",
                                     detail__sha256=run.file.sha256).exists()


def test_reimport_of_the_same_bytes_does_nothing(books, tmp_path):
    first = run_file(tmp_path, "d1.xml", apple="990")
    again = services.reconcile_file(custodian_code="GLOBALCUST", path=tmp_path / "d1.xml", fmt="semt002")
    assert again.duplicate and again.run.pk == first.run.pk
    assert CustodianFile.objects.count() == 1 and ReconRun.objects.count() == 1
    assert Break.objects.get().occurrences == 1


def test_malformed_file_is_refused_and_changes_nothing(books, tmp_path):
    bad = semt002(holdings=holdings()).replace(b"<Unit>50</Unit>", b"<Unit>5O</Unit>")
    path = write(tmp_path, "bad.xml", bad)
    with pytest.raises(FileRefused) as err:
        services.reconcile_file(custodian_code="GLOBALCUST", path=path, fmt="semt002")
    assert err.value.detail["line"] is not None and "Unit" in err.value.detail["element"]
    assert "bad.xml" in err.value.message
    assert not CustodianFile.objects.exists() and not ReconRun.objects.exists() and not Break.objects.exists()


def test_break_carries_across_days_with_owner_and_age_then_clears_and_reopens(books, tmp_path):
    ops = UserFactory(role="operations")
    day1 = run_file(tmp_path, "d1.xml", apple="990").run
    brk = Break.objects.get()
    assert (brk.kind, brk.state, brk.custodian_quantity, brk.book_quantity) == \
        ("quantity", "open", Decimal(990), Decimal(1000))
    services.break_assign(brk=brk, owner=ops, actor=ops)
    services.break_add_note(brk=brk, actor=ops, text="asked custodian")

    day2 = run_file(tmp_path, "d2.xml", as_of="2024-02-01", apple="990").run
    brk = Break.objects.get()
    assert brk.state == "assigned" and brk.owner == ops and brk.occurrences == 2
    assert brk.first_seen == dt.date(2024, 1, 31) and brk.last_seen == dt.date(2024, 2, 1)
    assert brk.first_run_id == day1.pk and brk.last_run_id == day2.pk and brk.notes.count() == 1

    run_file(tmp_path, "d3.xml", as_of="2024-02-02")
    brk.refresh_from_db()
    assert brk.state == "resolved" and brk.resolution_reason.startswith("cleared")
    assert AuditEvent.objects.filter(subject_id=str(brk.pk), event_type="break.cleared").exists()

    run_file(tmp_path, "d4.xml", as_of="2024-02-05", apple="990")
    brk.refresh_from_db()
    assert brk.state == "open" and brk.owner == ops and brk.occurrences == 3
    assert AuditEvent.objects.filter(subject_id=str(brk.pk), event_type="break.reopened").exists()


def test_pending_trade_is_explained_not_a_break(books, tmp_path):
    PendingTradeFactory(instrument_id=1, quantity=Decimal(10))
    run = run_file(tmp_path, "d1.xml", apple="990").run
    assert run.stats["breaks"] == 0 and run.stats["explained"] == 1
    brk = Break.objects.get()
    assert brk.explained and brk.state == "resolved" and brk.kind == "pending_settlement"
    assert "pending settlement" in brk.resolution_reason


def test_missing_and_unknown_are_classified(books, tmp_path):
    rows = holdings(vod=None) + [{"isin": "DE0007164600", "qty": "5", "price": "180", "price_ccy": "EUR"}]
    path = write(tmp_path, "d1.xml", semt002(holdings=rows))
    run = services.reconcile_file(custodian_code="GLOBALCUST", path=path, fmt="semt002").run
    kinds = sorted(Break.objects.values_list("kind", flat=True))
    assert kinds == ["missing_at_custodian", "unknown_instrument"]
    assert run.stats["by_kind"] == {"missing_at_custodian": 1, "unknown_instrument": 1}
    unknown = Break.objects.get(kind="unknown_instrument")
    assert unknown.identifier == "DE0007164600" and unknown.instrument_id is None


def test_priority_and_sla_come_from_amount_and_age(books, tmp_path):
    run_file(tmp_path, "d1.xml", apple="100")  # 900 x 185.64 = 167,076 USD
    brk = Break.objects.get()
    assert brk.priority == 1 and brk.sla_rule == "p1_large"
    assert brk.amount_base == Decimal("167076.00")
    assert brk.due_at == dt.datetime(2024, 2, 2, tzinfo=dt.UTC)


def test_break_workflow_write_off_needs_a_second_person(books, tmp_path):
    run_file(tmp_path, "d1.xml", apple="999")
    brk = Break.objects.get()
    ops, manager = UserFactory(role="operations"), UserFactory(role="operations")
    with pytest.raises(BreakTransitionNotAllowed):
        services.break_request_write_off(brk=brk, actor=ops, reason="immaterial")
    brk = services.break_investigate(brk=brk, actor=ops, note="checking trade blotter")
    brk = services.break_request_write_off(brk=brk, actor=ops, reason="immaterial rounding")
    with pytest.raises(WriteOffNeedsSecondPerson):
        services.break_approve_write_off(brk=brk, approver=ops)
    brk = services.break_approve_write_off(brk=brk, approver=manager)
    assert brk.state == BreakState.WRITTEN_OFF and brk.written_off_approved_by == manager
    events = list(AuditEvent.objects.filter(subject_type="reconciliation.break", subject_id=str(brk.pk))
                  .values_list("event_type", "from_state", "to_state"))
    assert events == [("break.opened", "", "open"), ("break.investigating", "open", "investigating"),
                      ("break.write_off_requested", "investigating", "investigating"),
                      ("break.written_off", "investigating", "written_off")]
    with pytest.raises(BreakTransitionNotAllowed):
        services.break_resolve(brk=brk, actor=ops, reason="again")


def test_resolved_break_needs_a_reason_in_the_database(books, tmp_path):
    from django.db import IntegrityError, transaction

    run_file(tmp_path, "d1.xml", apple="999")
    with pytest.raises(IntegrityError), transaction.atomic():
        Break.objects.update(state="resolved", resolution_reason="")


def test_cash_statement_checks_consistency_and_continuity(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    BookCashFactory(custody_account="DE89370400440532013000", currency="EUR", amount=Decimal("1250.00"))
    from .builders import camt053

    first = write(tmp_path, "c1.xml", camt053(date="2024-01-30", opening="900.00", closing="1000.00",
                                              entries=(("100.00", "CRDT", "BOOK"),)))
    services.reconcile_file(custodian_code="BANK", path=first, fmt="camt053")
    second = write(tmp_path, "c2.xml", camt053(date="2024-01-31", opening="1010.00", closing="1260.00"))
    run = services.reconcile_file(custodian_code="BANK", path=second, fmt="camt053").run
    checks = run.stats["statement_checks"]
    assert [c["kind"] for c in checks] == ["continuity"] and Decimal(checks[0]["expected"]) == Decimal(1000)
    assert StatementBalance.objects.count() == 2
    brk = Break.objects.get()
    assert brk.asset == "cash" and brk.kind == "cash" and brk.identifier == "EUR"
    assert brk.custodian_quantity == Decimal(1260) and brk.book_quantity == Decimal(1250)


def test_mt940_sample_reconciles_through_the_service(settings, tmp_path, shared_data):
    settings.MEDIA_ROOT = tmp_path / "media"
    BookCashFactory(custodian_code="ASN", custody_account="NL81ASNB9999999999", currency="EUR",
                    amount=Decimal("501.23"))
    path = shared_data / "mt940/ASNB/0708271685_09022020_164516.940.txt"
    run = services.reconcile_file(custodian_code="ASN", path=path, fmt="mt940").run
    assert run.stats["statement_checks"] == [] and run.stats["breaks"] == 0 and run.stats["match_rate"] == 1.0


def test_reconcile_command_prints_json_and_refuses_bad_files(books, tmp_path):
    path = write(tmp_path, "d1.xml", semt002(holdings=holdings(apple="990")))
    out = StringIO()
    call_command("reconcile", "--custodian", "GLOBALCUST", "--file", str(path), "--format", "semt002", "--json",
                 stdout=out)
    data = json.loads(out.getvalue())
    assert data["ok"] and data["breaks"] == 1 and data["by_kind"] == {"quantity": 1}
    out = StringIO()
    call_command("reconcile", "--custodian", "GLOBALCUST", "--file", str(path), "--json", stdout=out)
    assert json.loads(out.getvalue())["duplicate"] is True
    bad = write(tmp_path, "bad.csv", b"Depot;ISIN\nx;y\n")
    out = StringIO()
    with pytest.raises(SystemExit):
        call_command("reconcile", "--custodian", "DEPOTBANK", "--file", str(bad), "--format", "csv:euro_semicolon",
                     "--json", stdout=out)
    refused = json.loads(out.getvalue())
    assert refused["code"] == "recon_file_refused" and refused["detail"]["line"] == 1


def test_rules_load_is_idempotent():
    from trading.reconciliation.models import CustodianFormat

    RuleSet.objects.all().delete()
    CustodianFormat.objects.all().delete()
    first = services.rules_load()
    assert first["layout"] >= 4 and first["tolerance"] == 1 and first["sla"] == 1
    assert first["custodian_format"] == 5  # SCHWAB, PERSHING, DEPOTBANK one each; GLOBALCUST semt002 and camt053
    assert services.rules_load() == {"layout": 0, "tolerance": 0, "sla": 0, "custodian_format": 0}
    layout = RuleSet.objects.get(kind="layout", code="euro_semicolon")
    assert layout.spec["decimal"] == "," and layout.source


def test_daily_run_reconciles_every_custodian_and_renders_the_report(books, tmp_path, settings):
    from pypdf import PdfReader

    from trading.reconciliation.models import DailyRun
    from trading.reconciliation.tasks import daily_run

    settings.RECON_INBOX = tmp_path / "inbox"
    day = settings.RECON_INBOX / "2024-01-31"
    (day / "GLOBALCUST").mkdir(parents=True)
    (day / "GLOBALCUST" / "holdings.xml").write_bytes(semt002(holdings=holdings(apple="990")))
    (day / "DEPOTBANK").mkdir()
    (day / "DEPOTBANK" / "bestand.csv").write_bytes(b"not;a;layout\n")
    (day / "NEWCUST").mkdir()  # a custodian with no format on file, and content that names none
    (day / "NEWCUST" / "positions.dat").write_bytes(b"hello\n")
    run_id = daily_run.delay("2024-01-31").get()
    daily = DailyRun.objects.get(pk=run_id)
    # the refused files are listed with their reasons; the day completes with the counts right
    assert daily.status == "completed"
    assert (daily.stats["custodians"], daily.stats["files"], daily.stats["files_reconciled"],
            daily.stats["files_refused"], daily.stats["breaks"]) == (3, 3, 1, 2, 1)
    reasons = {x["custodian"]: x["reason"] for x in daily.stats["refused"]}
    assert "header" in reasons["DEPOTBANK"] and "cannot tell the format of positions.dat" in reasons["NEWCUST"]
    runs = {r.custodian_code: r for r in daily.runs.all()}
    assert runs["GLOBALCUST"].stats["breaks"] == 1 and "refused" in runs["DEPOTBANK"].stats
    html = (settings.MEDIA_ROOT / "recon_reports" / "recon-2024-01-31.html").read_text()
    assert "GLOBALCUST" in html
    # open breaks by type in words from the label table, not the kind code
    assert "<td>Quantity differs</td>" in html and "<td>quantity</td>" not in html
    pdf = PdfReader(settings.MEDIA_ROOT / "recon_reports" / "recon-2024-01-31.pdf")
    assert "Reconciliation report" in pdf.pages[0].extract_text()
    # running the day again is harmless: same files, no new breaks
    daily_run.delay("2024-01-31").get()
    assert Break.objects.count() == 1 and Break.objects.get().occurrences == 1


@pytest.mark.urls("tests.trading.reconciliation.urls")
def test_report_page_and_pdf_for_operations_only(books, tmp_path, client):
    from trading.reconciliation.models import DailyRun

    run_file(tmp_path, "d1.xml", apple="990")
    daily = services.daily_run_start(as_of=dt.date(2024, 1, 31))
    ReconRun.objects.update(daily_run=daily)
    services.daily_run_finish(daily_run_id=daily.pk)
    operations = UserFactory(role="operations")
    # The books here carry no custody accounts, so the run could not stamp a firm: the breaks are
    # this operations user's firm's (the report shows a user only their own firm's breaks).
    Break.objects.update(firm=operations.firm)
    advisor = UserFactory(role="advisor", firm=operations.firm)
    client.force_login(advisor)
    assert client.get("/reconciliation/runs/2024-01-31/report/").status_code == 403
    client.force_login(UserFactory(role="operations"))  # another firm's operations: none of these breaks
    page = client.get("/reconciliation/runs/2024-01-31/report/")
    assert page.status_code == 200 and b"Quantity differs" not in page.content
    client.force_login(operations)
    page = client.get("/reconciliation/runs/2024-01-31/report/")
    assert page.status_code == 200 and b"GLOBALCUST" in page.content and b"Quantity differs" in page.content
    pdf = client.get("/reconciliation/runs/2024-01-31/report/?format=pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert client.get("/reconciliation/runs/2024-02-01/report/").status_code == 404
    assert DailyRun.objects.get().status == "completed"


def test_recon_daily_command_with_an_empty_inbox(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.RECON_INBOX = tmp_path / "inbox"
    out = StringIO()
    call_command("recon_daily", "--as-of", "2024-03-01", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["status"] == "completed" and data["stats"]["custodians"] == 0
    assert (settings.MEDIA_ROOT / "recon_reports" / "recon-2024-03-01.pdf").exists()
