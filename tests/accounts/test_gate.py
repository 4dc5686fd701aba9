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

