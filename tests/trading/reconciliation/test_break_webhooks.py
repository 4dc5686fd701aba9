"""`break.resolved` is sent whenever a break is resolved (issue 18): by a later run of either engine that no
longer finds the difference (one webhook per break, in one bulk insert of deliveries), or by a person. The
audit rows of the run carry the break's firm, so the firm's audit list shows them."""
from __future__ import annotations

import datetime as dt

import pytest

from onboarding.models import AuditEvent, WebhookDelivery, WebhookEndpoint
from tests.conftest import requires_postgres
from tests.factories import FirmFactory, UserFactory
from trading.reconciliation import services
from trading.reconciliation.models import BookCustodyAccount, Break

from .test_sql_engine import AS_OF, FILE_ROWS, books, write  # noqa: F401 - the fixture is used by name

pytestmark = pytest.mark.django_db
FIXED = [r for r in FILE_ROWS if not r.startswith("A2,,,,AAPL")] + ["A2,,,,AAPL,XNAS,10,185.64,USD,1"]


def _firm_with_endpoint():
    firm = FirmFactory()
    BookCustodyAccount.objects.create(custodian_code="CUST", custody_account="A2", firm=firm)
    other = FirmFactory()
    endpoint = WebhookEndpoint.objects.create(firm=firm, url="https://partner.example/hook", secret="s",
                                              events=["break.resolved"])
    WebhookEndpoint.objects.create(firm=other, url="https://other.example/hook", secret="s", events=[])
    return firm, endpoint


def _resolved(endpoint):
    return [d.payload for d in WebhookDelivery.objects.filter(endpoint=endpoint, event_type="break.resolved")]


@pytest.mark.parametrize("engine", ["numpy", pytest.param("sql", marks=[requires_postgres, pytest.mark.postgres])])
def test_a_later_run_that_no_longer_finds_the_difference_sends_break_resolved(books, tmp_path, engine):  # noqa: F811
    firm, endpoint = _firm_with_endpoint()
    services.reconcile_file(custodian_code="CUST", path=write(tmp_path, "d1.csv", FILE_ROWS),
                            fmt="csv:meridian_positions_csv", as_of=AS_OF, engine=engine)
    brk = Break.objects.get(custody_account="A2", instrument_id=1)  # 11 at the custodian, 10 in our books
    assert brk.state == "open" and brk.firm_id == firm.pk and _resolved(endpoint) == []
    run = services.reconcile_file(custodian_code="CUST", path=write(tmp_path, "d2.csv", FIXED),
                                  fmt="csv:meridian_positions_csv", as_of=AS_OF + dt.timedelta(days=1),
                                  engine=engine).run
    brk.refresh_from_db()
    assert brk.state == "resolved"
    sent = [p for p in _resolved(endpoint) if p["data"]["break"] == brk.pk]
    assert len(sent) == 1, _resolved(endpoint)
    data = sent[0]["data"]
    assert data["state"] == "resolved" and data["custody_account"] == "A2" and data["kind"] == "quantity"
    assert data["reason"] == f"cleared: no difference in run {run.pk} ({AS_OF + dt.timedelta(days=1)})"
    assert data["amount_base"] == "185.64"  # one share of 185.64 USD, as the run found it
    # only the firm's own breaks, only to its endpoint; no firm, no webhook
    assert {p["data"]["custody_account"] for p in _resolved(endpoint)} == {"A2"}
    assert not WebhookDelivery.objects.exclude(endpoint=endpoint).filter(event_type="break.resolved").exists()
    cleared = AuditEvent.objects.get(subject_id=str(brk.pk), event_type="break.cleared")
    assert cleared.firm_id == firm.pk  # the firm's audit list shows it
    # a third run that still agrees resolves nothing again
    services.reconcile_file(custodian_code="CUST", path=write(tmp_path, "d3.csv", list(reversed(FIXED))),
                            fmt="csv:meridian_positions_csv", as_of=AS_OF + dt.timedelta(days=2), engine=engine)
    assert len([p for p in _resolved(endpoint) if p["data"]["break"] == brk.pk]) == 1


def test_a_person_resolving_a_break_sends_break_resolved(books, tmp_path):  # noqa: F811
    firm, endpoint = _firm_with_endpoint()
    services.reconcile_file(custodian_code="CUST", path=write(tmp_path, "d1.csv", FILE_ROWS),
                            fmt="csv:meridian_positions_csv", as_of=AS_OF, engine="numpy")
    brk = Break.objects.get(custody_account="A2", instrument_id=1)
    Break.objects.filter(pk=brk.pk).update(explained=True)  # operations found the reason for the difference
    ops = UserFactory(firm=firm, role="operations")
    services.break_resolve(brk=Break.objects.get(pk=brk.pk), actor=ops, reason="trade booked late by the custodian")
    sent = _resolved(endpoint)
    assert len(sent) == 1 and sent[0]["data"]["break"] == brk.pk
    assert sent[0]["data"]["reason"] == "trade booked late by the custodian"
