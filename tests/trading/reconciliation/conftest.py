"""A GBP account at two demo custodians with a settled history and one trade pending settlement,
booked through the accounts services (the ledger the custodian simulator writes from)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest

SIM_DAY = dt.date(2026, 11, 24)  # a Tuesday


@pytest.fixture(autouse=True)
def _recon_rules_loaded(request):
    """Every test here that touches the database sees the shipped layouts and custodian formats
    loaded (as `make run` does); pure parser and engine tests stay without a database."""
    marker = request.node.get_closest_marker("django_db")
    names = set(request.fixturenames)
    if not marker and not names & {"db", "transactional_db", "django_db_setup"}:
        return
    transactional = "transactional_db" in names or bool(marker and marker.kwargs.get("transaction"))
    request.getfixturevalue("transactional_db" if transactional else "db")
    from trading.reconciliation.services import rules_load

    rules_load()


@dataclass
class SimLedger:
    ref: object
    account: object
    custody: dict
    custodians: dict


@pytest.fixture
def sim_ledger(db, settings, tmp_path):
    from accounts import services as accounts_services
    from accounts.demo import custodians_demo
    from onboarding.models import Relationship
    from tests.accounts.conftest import fund, make_account
    from tests.factories import FirmFactory, PersonFactory, tax_documented
    from trading.reference.demo import reference_demo

    settings.MEDIA_ROOT = tmp_path / "media"
    ref = reference_demo()
    custodians = custodians_demo()
    firm = FirmFactory(home_jurisdiction="CH")
    owner = PersonFactory(firm=firm, residence_country="CH", nationalities=["GB"])
    Relationship.objects.create(firm=firm, party=owner, state="active")
    tax_documented(owner)  # the real activation gate asks for a current W-8BEN and CRS self-certification
    account, custody = make_account(firm, owner, custodians, number="SIM-1")
    fund(account, custody["us"], "USD", "100000", day=dt.date(2026, 11, 2))
    fund(account, custody["eu"], "GBP", "50000", day=dt.date(2026, 11, 2))
    book = accounts_services.trade_book
    book(account=account, custody_account=custody["us"], listing=ref.listings["AAPL"], side="buy",
         quantity=Decimal(100), price=Decimal(250), trade_date=dt.date(2026, 11, 2))
    book(account=account, custody_account=custody["us"], listing=ref.listings["AAPL"], side="buy",
         quantity=Decimal(10), price=Decimal(260), trade_date=SIM_DAY)  # settles T+1, after the statement
    book(account=account, custody_account=custody["eu"], listing=ref.listings["VOD.L"], side="buy",
         quantity=Decimal(1000), price=Decimal(92), trade_date=dt.date(2026, 11, 2))  # 92 pence
    book(account=account, custody_account=custody["eu"], listing=ref.listings["DEMO_BOND"], side="buy",
         quantity=Decimal(10000), price=Decimal("98.5"), trade_date=dt.date(2026, 11, 2))  # 98.5 % of par
    return SimLedger(ref, account, custody, custodians)
