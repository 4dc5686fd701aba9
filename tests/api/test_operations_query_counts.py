"""The operations lists (orders, blocks, fills, custody accounts, models, breaks) run a fixed
number of queries whatever the number of rows (no N+1)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import ModelPortfolio, ModelTarget
from tests.factories import FirmFactory, UserFactory
from tests.trading.factories import AccountFactory, CustodianFactory, CustodyAccountFactory, OrderFactory
from trading.models import Block, Broker, Fill
from trading.reconciliation.models import Break
from trading.reference.demo import reference_demo
from trading.services import brokers_load

from .conftest import token_client

pytestmark = pytest.mark.django_db
LISTS = ["/api/v1/orders/", "/api/v1/blocks/", "/api/v1/fills/", "/api/v1/custody-accounts/", "/api/v1/models/",
         "/api/v1/recon-breaks/", "/api/v1/subscriptions/"]


def count(client, path) -> int:
    client.get(path)  # warm: the token's last-used stamp is written at most once a minute
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200, response.content[:300]
    return len(ctx.captured_queries)


@pytest.fixture
def desk(db):
    ref = reference_demo()
    brokers_load()
    firm = FirmFactory()
    custodian = CustodianFactory(name="NORTHBANK", bic="NRTHGB2L")
    return {"ref": ref, "firm": firm, "custodian": custodian, "broker": Broker.objects.get(code="ATLAS"),
            "client": token_client(UserFactory(firm=firm, role="operations"))}


def add_rows(desk, n: int, start: int) -> None:
    ref = desk["ref"]
    for i in range(start, start + n):
        account = AccountFactory(firm=desk["firm"])
        custody = CustodyAccountFactory(account=account, custodian=desk["custodian"], number=f"Q-{i}")
        custody.markets.set([ref.markets["XNAS"], ref.markets["XNYS"]])
        block = Block.objects.create(reference=f"QB-{i}", listing=ref.listings["AAPL"], broker=desk["broker"],
                                     side="buy", trade_date=dt.date(2026, 11, 24), currency="USD",
                                     quantity=Decimal(10), released_at=timezone.now())
        OrderFactory(account=account, custody_account=custody, listing=ref.listings["AAPL"], block=block,
                     quantity=Decimal(10))
        Fill.objects.create(block=block, exec_id=f"QE-{i}", quantity=Decimal(10), price=Decimal(250),
                            executed_at=timezone.now())
        model = ModelPortfolio.objects.create(provider="Q", code=f"QM-{i}", version=1, name="Q", base_currency="USD",
                                              effective_from=dt.date(2026, 1, 1), publisher=desk["firm"])
        ModelTarget.objects.create(model=model, instrument=ref.instruments["AAPL"], weight=Decimal("0.9"))
        ModelTarget.objects.create(model=model, cash_currency="USD", weight=Decimal("0.1"))
        Break.objects.create(key=f"QK-{i}", custodian_code="NRTHGB2L", custody_account=f"Q-{i}", kind="quantity",
                             first_seen=dt.date(2026, 11, 24), last_seen=dt.date(2026, 11, 24))


def test_operations_lists_cost_the_same_for_one_row_or_ten(desk):
    add_rows(desk, 1, 0)
    one = {path: count(desk["client"], path) for path in LISTS}
    add_rows(desk, 9, 1)
    ten = {path: count(desk["client"], path) for path in LISTS}
    assert ten == one
    sizes = {path: len(desk["client"].get(path).json()["results"]) for path in LISTS}
    assert sizes == {**{path: 10 for path in LISTS}, "/api/v1/subscriptions/": 0}
