import datetime as dt
from decimal import Decimal

import pytest

from accounts import services
from accounts.demo import custodians_demo
from onboarding.models import Relationship
from tests.factories import FirmFactory, PersonFactory, UserFactory, tax_documented
from trading.reference.demo import reference_demo

TRADE_DAY = dt.date(2026, 11, 20)  # a Friday


@pytest.fixture
def ref(db):
    return reference_demo()


@pytest.fixture
def custodians(ref):
    return custodians_demo()


@pytest.fixture
def firm(db):
    return FirmFactory(home_jurisdiction="CH")


@pytest.fixture
def advisor(firm):
    return UserFactory(firm=firm, role="advisor")


@pytest.fixture
def owner(firm):
    party = PersonFactory(firm=firm, residence_country="CH", nationalities=["GB"])
    Relationship.objects.create(firm=firm, party=party, state="active")
    tax_documented(party)  # the real activation gate asks for a current W-8BEN and CRS self-certification
    return party


def make_account(firm, owner, custodians, *, number="A-1", base="GBP", actor=None, activate=True, **kw):
    account = services.account_open(
        firm=firm, owner=owner, number=number, name="Global", base_currency=base, booking_centre=kw.pop("booking_centre", "offshore"),
        booking_jurisdiction=kw.pop("booking_jurisdiction", "CH"), investor_type=kw.pop("investor_type", "professional"),
        actor=actor, **kw,
    )
    us = services.custody_account_add(account=account, custodian=custodians["IRVTUS3N"], number=f"{number}-US",
                                      markets=["XNYS", "XNAS", "OTCM"])
    eu = services.custody_account_add(account=account, custodian=custodians["CITIGB2L"], number=f"{number}-EU",
                                      markets=["XLON", "XETR", "XSWX"])
    asia = services.custody_account_add(account=account, custodian=custodians["HSBCHKHH"], number=f"{number}-HK",
                                        markets=["XHKG", "XTKS"])
    if activate:
        account = services.account_activate(account=account, actor=actor)
    return account, {"us": us, "eu": eu, "asia": asia}


@pytest.fixture
def booked(firm, owner, custodians, advisor):
    """An active GBP account with custody in the US, London and Hong Kong."""
    account, custody = make_account(firm, owner, custodians, actor=advisor)
    return account, custody


def fund(account, custody, currency, amount, day=TRADE_DAY - dt.timedelta(days=10)):
    return services.cash_deposit(account=account, custody_account=custody, currency=currency,
                                 amount=Decimal(amount), value_date=day)
