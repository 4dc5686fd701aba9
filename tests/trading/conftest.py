import pytest

from onboarding.models import Relationship
from tests.factories import FirmFactory, tax_documented
from trading.reference.demo import reference_demo
from trading.services import brokers_load

from .factories import AccountFactory, CustodianFactory, CustodyAccountFactory


@pytest.fixture
def ref(db):
    return reference_demo()


@pytest.fixture
def brokers(db):
    brokers_load()


@pytest.fixture
def desk(ref, brokers):
    """A firm with two GBP accounts, each at NORTHBANK (US, UK) and HARBOUR (Tokyo, Hong Kong)."""
    firm = FirmFactory(home_jurisdiction="GB")
    north = CustodianFactory(name="NORTHBANK", bic="NRTHGB2L")
    harbour = CustodianFactory(name="HARBOUR", bic="HRBRHKHH")
    accounts = []
    for _ in range(2):
        account = AccountFactory(firm=firm)
        ca_n = CustodyAccountFactory(account=account, custodian=north)
        ca_n.markets.set([ref.markets[m] for m in ("XNYS", "XNAS", "XLON")])
        ca_h = CustodyAccountFactory(account=account, custodian=harbour)
        ca_h.markets.set([ref.markets[m] for m in ("XTKS", "XHKG")])
        accounts.append((account, ca_n, ca_h))
    return {"firm": firm, "accounts": accounts, "ref": ref}


def make_active(account) -> Relationship:
    """What the real activation gate needs of an account's owner: an approved, active
    relationship, current tax forms, and no open screening alert."""
    relationship, _ = Relationship.objects.update_or_create(firm=account.firm, party=account.owner,
                                                            defaults={"state": "active"})
    tax_documented(account.owner)
    return relationship


@pytest.fixture
def active(desk, monkeypatch):
    """The desk's owners pass the real gate; the gate is watched (never replaced) so tests can
    see that it was asked."""
    from onboarding import services as onboarding_services

    for account, _n, _h in desk["accounts"]:
        make_active(account)
    calls = []
    real = onboarding_services.assert_relationship_active

    def watched(*, party, firm):
        calls.append(party)
        return real(party=party, firm=firm)

    monkeypatch.setattr("trading.services.assert_relationship_active", watched)
    return calls
