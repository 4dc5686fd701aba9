"""Households, custodians, multi-custody accounts and the account lifecycle, all gated by the
owner's onboarding relationship."""
import pytest

from accounts import services
from accounts.exceptions import AccountNotActive, InvalidTransition
from accounts.models import Account, AccountStatus, Custodian
from onboarding.audit import events_for
from onboarding.exceptions import NotFound, RelationshipNotActive, ValidationFailed
from onboarding.models import Relationship
from tests.accounts.conftest import make_account
from tests.factories import PersonFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_custodian_with_an_invalid_bic_is_refused(ref):
    with pytest.raises(ValidationFailed) as err:
        services.custodian_create(name="Bad", bic="IRVTUS3", country="US", markets=["XNYS"])
    assert "bic" in err.value.detail
    assert not Custodian.objects.filter(name="Bad").exists()


def test_a_custodian_records_the_markets_it_settles_and_the_files_it_sends(custodians):
    bny = custodians["IRVTUS3N"]
    assert set(bny.markets.values_list("mic", flat=True)) >= {"XNYS", "XNAS"}
    assert "semt002" in bny.file_formats
    with pytest.raises(ValidationFailed):
        services.custodian_create(name="X", bic="DEUTDEFF", country="DE", file_formats=["pdf"])


def test_one_account_holds_custody_accounts_at_three_custodians(booked):
    account, custody = booked
    assert account.custody_accounts.count() == 3
    assert {c.custodian.bic for c in account.custody_accounts.all()} == {"IRVTUS3N", "CITIGB2L", "HSBCHKHH"}


def test_a_custody_account_cannot_cover_markets_its_custodian_does_not_settle(firm, owner, custodians):
    account = services.account_open(firm=firm, owner=owner, number="X", name="X", base_currency="EUR",
                                    booking_centre="onshore", booking_jurisdiction="DE")
    with pytest.raises(ValidationFailed) as err:
        services.custody_account_add(account=account, custodian=custodians["IRVTUS3N"], number="X-1", markets=["XHKG"])
    assert err.value.detail == {"markets": ["XHKG"]}


def test_activation_writes_an_audit_event_with_the_state_change(booked, advisor):
    account, _ = booked
    event = events_for(account).get(event_type="account.activated")
    assert (event.from_state, event.to_state, event.actor) == ("pending", "active", advisor)


def test_an_account_cannot_be_activated_while_the_relationship_is_pending(firm, custodians):
    party = PersonFactory(firm=firm)
    Relationship.objects.create(firm=firm, party=party, state="pending")
    account, _ = make_account(firm, party, custodians, activate=False)
    with pytest.raises(RelationshipNotActive):
        services.account_activate(account=account)
    assert Account.objects.get(pk=account.pk).status == AccountStatus.PENDING


def test_an_owner_without_any_relationship_cannot_activate(firm, custodians):
    party = PersonFactory(firm=firm)
    account, _ = make_account(firm, party, custodians, activate=False)
    with pytest.raises(RelationshipNotActive):
        services.account_activate(account=account)


def test_an_account_without_custody_cannot_be_activated(firm, owner):
    account = services.account_open(firm=firm, owner=owner, number="N", name="N", base_currency="USD",
                                    booking_centre="onshore", booking_jurisdiction="US")
    with pytest.raises(ValidationFailed):
        services.account_activate(account=account)


def test_suspended_accounts_cannot_be_funded_and_closed_ones_cannot_be_reinstated(booked):
    from tests.accounts.conftest import fund

    account, custody = booked
    services.account_suspend(account=account, reason="KYC refresh")
    with pytest.raises(AccountNotActive):
        fund(account, custody["eu"], "GBP", "1000")
    services.account_reinstate(account=account, reason="done")
    fund(account, custody["eu"], "GBP", "1000")
    with pytest.raises(ValidationFailed):
        services.account_close(account=account, reason="client left")  # still holds cash
    services.cash_withdraw(account=account, custody_account=custody["eu"], currency="GBP", amount="1000",
                           value_date=account.movements.first().settle_date)
    services.account_close(account=account, reason="client left")
    with pytest.raises(InvalidTransition):
        services.account_reinstate(account=account, reason="oops")


def test_the_account_status_cannot_be_set_directly(booked):
    account, _ = booked
    with pytest.raises(AttributeError):
        account.status = "closed"


def test_a_user_of_another_firm_cannot_open_an_account_for_this_firm(firm, owner):
    stranger = UserFactory()
    with pytest.raises(NotFound):
        services.account_open(firm=firm, owner=owner, number="Z", name="Z", base_currency="USD",
                              booking_centre="onshore", booking_jurisdiction="US", actor=stranger)


def test_a_us_national_owner_makes_the_account_a_us_person(firm, custodians):
    party = PersonFactory(firm=firm, nationalities=["GB", "US"])
    account = services.account_open(firm=firm, owner=party, number="U", name="U", base_currency="USD",
                                    booking_centre="offshore", booking_jurisdiction="CH")
    assert account.is_us_person


def test_a_custody_account_keeps_one_cash_account_per_currency(booked):
    account, custody = booked
    cash = services.custody_cash_account_add(custody_account=custody["eu"], currency="GBP",
                                             number="GB33BUKB20201555555555")
    assert cash.custody_account.account == account
    with pytest.raises(ValidationFailed):
        services.custody_cash_account_add(custody_account=custody["eu"], currency="GBP", number="OTHER")
    with pytest.raises(ValidationFailed):
        services.custody_cash_account_add(custody_account=custody["eu"], currency="gbp", number="X")


def test_a_firm_user_sees_only_the_firms_accounts(booked, advisor):
    from accounts import selectors
    from tests.factories import OfficerFactory

    account, _ = booked
    assert selectors.account_get(user=advisor, pk=account.pk) == account
    with pytest.raises(NotFound):
        selectors.account_get(user=UserFactory(), pk=account.pk)
    assert selectors.accounts_visible_to(user=OfficerFactory()).filter(pk=account.pk).exists()
