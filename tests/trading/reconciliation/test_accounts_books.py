"""Our side read from the accounts ledger: a custodian statement on settlement basis against
trade-date books, with a purchase still pending settlement."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from accounts import services as accounts_services
from tests.accounts.conftest import fund, make_account
from trading.reconciliation import services
from trading.reconciliation.models import BookPendingTrade, BookPosition, Break, InstrumentIdentifier

from .builders import semt002

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 11, 24)  # Tuesday


@pytest.fixture
def ledger(db, settings, tmp_path):
    from accounts.demo import custodians_demo
    from onboarding.models import Relationship
    from tests.factories import FirmFactory, PersonFactory, tax_documented
    from trading.reference.demo import reference_demo

    settings.MEDIA_ROOT = tmp_path / "media"
    ref = reference_demo()
    custodians = custodians_demo()
    firm = FirmFactory(home_jurisdiction="CH")
    owner = PersonFactory(firm=firm, residence_country="CH", nationalities=["GB"])
    Relationship.objects.create(firm=firm, party=owner, state="active")
    tax_documented(owner)
    account, custody = make_account(firm, owner, custodians)
    fund(account, custody["us"], "USD", "100000", day=dt.date(2026, 11, 2))
    aapl = ref.listings["AAPL"]
    accounts_services.trade_book(account=account, custody_account=custody["us"], listing=aapl, side="buy",
                                 quantity=Decimal(100), price=Decimal(250), trade_date=dt.date(2026, 11, 2))
    accounts_services.trade_book(account=account, custody_account=custody["us"], listing=aapl, side="buy",
                                 quantity=Decimal(10), price=Decimal(260), trade_date=DAY)  # settles T+1
    return ref, custody, aapl


def test_settlement_basis_statement_against_ledger_books(ledger, tmp_path):
    _ref, custody, aapl = ledger
    isin = aapl.instrument.isin
    path = tmp_path / "bny.xml"
    path.write_bytes(semt002(account=custody["us"].number, as_of=str(DAY),
                             holdings=[{"isin": isin, "qty": "100"}]))
    run = services.reconcile_file(custodian_code="IRVTUS3N", path=path, fmt="semt002").run
    assert BookPosition.objects.get(custodian_code="IRVTUS3N").quantity == Decimal(110)
    assert BookPendingTrade.objects.filter(custodian_code="IRVTUS3N", instrument_id=aapl.instrument_id).exists()
    assert InstrumentIdentifier.objects.filter(kind="isin", value=isin, instrument_id=aapl.instrument_id).exists()
    assert run.stats["breaks"] == 0 and run.stats["explained"] == 1
    brk = Break.objects.get()
    assert brk.kind == "pending_settlement" and brk.state == "resolved"


def test_a_real_difference_against_ledger_books_is_a_break(ledger, tmp_path):
    _ref, custody, aapl = ledger
    path = tmp_path / "bny.xml"
    path.write_bytes(semt002(account=custody["us"].number, as_of=str(DAY),
                             holdings=[{"isin": aapl.instrument.isin, "qty": "95"}]))
    run = services.reconcile_file(custodian_code="IRVTUS3N", path=path, fmt="semt002").run
    assert run.stats["breaks"] == 1
    brk = Break.objects.get()
    assert (brk.kind, brk.custodian_quantity, brk.book_quantity) == ("quantity", Decimal(95), Decimal(110))


def test_new_breaks_are_announced_to_their_firm_once_per_run(ledger, tmp_path):
    from onboarding.models import WebhookDelivery
    from onboarding.webhooks import webhook_register

    _ref, custody, aapl = ledger
    firm = custody["us"].account.firm
    webhook_register(firm=firm, url="http://127.0.0.1:9/hook", events=["break.opened"])
    path = tmp_path / "bny.xml"
    path.write_bytes(semt002(account=custody["us"].number, as_of=str(DAY),
                             holdings=[{"isin": aapl.instrument.isin, "qty": "95"}]))
    run = services.reconcile_file(custodian_code="IRVTUS3N", path=path, fmt="semt002").run
    [delivery] = WebhookDelivery.objects.filter(event_type="break.opened")
    brk = Break.objects.get()
    assert delivery.payload["data"] == {"run": run.pk, "custodian": "IRVTUS3N", "as_of": str(DAY),
                                        "breaks_opened": 1, "break_ids": [brk.pk]}
