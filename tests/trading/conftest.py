import pytest

from tests.factories import FirmFactory
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


@pytest.fixture
def active(monkeypatch):
    """Relationships count as active (the onboarding workflow is tested in tests/onboarding)."""
    calls = []
    monkeypatch.setattr("trading.services.assert_relationship_active", lambda *, party, firm: calls.append(party))
    return calls
