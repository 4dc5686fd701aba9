"""The demo helpers build a realistic, valued, subscribed account and can run twice."""
import datetime as dt

import pytest

from accounts import selectors
from accounts.demo import accounts_demo
from accounts.models import Account, Transaction

pytestmark = pytest.mark.django_db


def test_the_demo_account_is_multi_custody_funded_invested_and_valued(firm, owner):
    demo = accounts_demo(firm=firm, owner=owner)
    account = demo.account
    assert account.status == "active" and set(demo.custody) == {"IRVTUS3N", "CITIGB2L"}
    val = selectors.valuation(account=account, on=dt.date(2026, 11, 20))
    assert {line.price_unit for line in val.lines if line.kind == "security"} == {"USD", "GBp"}
    assert val.total_base > 0
    assert account.subscriptions.get().model.code == "GLOBAL-EQ-GBP"
    again = accounts_demo(firm=firm, owner=owner)
    assert again.account.pk == account.pk
    assert Account.objects.count() == 1 and Transaction.objects.filter(account=account).count() == 5
