"""The real activation gate, with every registered check, in front of account actions."""
import pytest

from accounts import services
from onboarding.exceptions import RelationshipNotActive
from onboarding.models import Relationship
from tests.accounts.conftest import make_account
from tests.factories import PersonFactory, tax_documented

pytestmark = pytest.mark.django_db


def test_an_account_of_an_owner_without_a_current_w8ben_cannot_be_activated(firm, custodians):
    owner = PersonFactory(firm=firm, residence_country="CH", nationalities=["GB"])
    Relationship.objects.create(firm=firm, party=owner, state="active")
    account, _ = make_account(firm, owner, custodians, number="G-1", activate=False)
    with pytest.raises(RelationshipNotActive) as refused:
        services.account_activate(account=account, actor=None)
    reasons = refused.value.detail["reasons"]
    assert any("W-8BEN" in r and "no form on file" in r for r in reasons), reasons
    assert any("CRS self-certification" in r for r in reasons), reasons

    tax_documented(owner)
    assert services.account_activate(account=account, actor=None).status == "active"



def test_a_deposit_above_the_sanity_limit_is_refused_for_everyone(booked):
    from decimal import Decimal

    from accounts.models import Transaction
    from onboarding.exceptions import ValidationFailed
    from tests.accounts.conftest import TRADE_DAY, fund

    account, custody = booked
    # USD 1e17 at GBP/USD 1.3080 is GBP 7.6e16, far above the default GBP 10,000,000,000.
    with pytest.raises(ValidationFailed, match="above the sanity limit of 10,000,000,000 GBP"):
        fund(account, custody["us"], "USD", Decimal("1e17"), day=TRADE_DAY)
    assert not Transaction.objects.filter(account=account).exists()


def test_who_may_book_cash_and_up_to_what_amount_is_the_firms_policy(booked, firm):
    from decimal import Decimal

    from accounts.models import ApprovalPolicy
    from onboarding.exceptions import PermissionDenied
    from tests.accounts.conftest import TRADE_DAY
    from tests.factories import UserFactory

    account, custody = booked
    ApprovalPolicy.objects.create(firm=firm, deposit_roles=["operations"], deposit_limit=Decimal(1000))
    advisor, ops = UserFactory(firm=firm, role="advisor"), UserFactory(firm=firm, role="operations")
    with pytest.raises(PermissionDenied, match="advisor may not approve deposits"):
        services.cash_deposit(account=account, custody_account=custody["eu"], currency="GBP", amount=Decimal(500),
                              value_date=TRADE_DAY, actor=advisor)
    with pytest.raises(PermissionDenied, match="1,500.00 GBP is above your approval limit of 1,000.00"):
        services.cash_deposit(account=account, custody_account=custody["eu"], currency="GBP", amount=Decimal(1500),
                              value_date=TRADE_DAY, actor=ops)
    services.cash_deposit(account=account, custody_account=custody["eu"], currency="GBP", amount=Decimal(900),
                          value_date=TRADE_DAY, actor=ops)


def test_a_custody_account_created_without_markets_covers_the_custodians_markets(firm, owner, custodians):
    from tests.accounts.conftest import make_account

    account, _ = make_account(firm, owner, custodians, number="M-1", activate=False)
    hsbc = custodians["HSBCHKHH"]
    custody = services.custody_account_add(account=account, custodian=hsbc, number="M-1-X")
    assert set(custody.markets.values_list("mic", flat=True)) == set(hsbc.markets.values_list("mic", flat=True)) != set()
