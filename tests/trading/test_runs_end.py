"""Runs always end `completed` or `failed` with a reason, dry runs included; impossible dates and
scopes are refused with a 400 before anything is written."""
from __future__ import annotations

import datetime as dt

import pytest

from onboarding.exceptions import ValidationFailed
from tests.api.conftest import assert_error, token_client
from tests.factories import UserFactory
from trading import services
from trading.models import RebalanceRun
from trading.rebalancing.scope import RebalanceScope

from .test_rebalance_service import TRADE, subscribed  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def test_a_dry_run_ends_completed_with_its_figures(desk, subscribed):  # noqa: F811
    scope = RebalanceScope(trade_date=TRADE, accounts=(desk["accounts"][0][0].pk,))
    result = services.rebalance_run(scope=scope, key="dry-ends", dry_run=True)
    run = RebalanceRun.objects.get(key="dry-ends")
    assert run.status == "completed" and run.finished_at is not None
    assert run.stats["orders"] == result.orders > 0 and run.stats["dry_run"] is True


def test_a_run_that_breaks_ends_failed_with_the_reason(desk, subscribed, monkeypatch):  # noqa: F811
    def broken(*args, **kwargs):
        raise RuntimeError("price feed missing for 7203")

    monkeypatch.setattr("trading.rebalancing.engine.rebalance", broken)
    with pytest.raises(RuntimeError):
        services.rebalance_run(scope=RebalanceScope(trade_date=TRADE, firm=desk["firm"].pk), key="breaks")
    run = RebalanceRun.objects.get(key="breaks")
    assert run.status == "failed" and run.stats["error"] == "RuntimeError: price feed missing for 7203"


@pytest.mark.parametrize("day", [dt.date(9999, 12, 31), dt.date(1990, 1, 2)])
def test_an_impossible_trade_date_is_refused_before_anything_is_written(desk, subscribed, day):  # noqa: F811
    with pytest.raises(ValidationFailed, match="outside the market calendars"):
        services.rebalance_run(scope=RebalanceScope(trade_date=day, firm=desk["firm"].pk), key="never")
    assert not RebalanceRun.objects.exists()


def test_the_api_refuses_9999_12_31_with_a_400_and_writes_no_run(desk, subscribed):  # noqa: F811
    client = token_client(UserFactory(firm=desk["firm"], role="advisor"))
    body = assert_error(client.post("/api/v1/rebalance-runs/", {"trade_date": "9999-12-31"}, format="json"), 400,
                        "validation_failed")
    assert "trade_date" in body["detail"]
    assert_error(client.post("/api/v1/rebalance-runs/", {"trade_date": "2029-06-01"}, format="json"), 400,
                 "validation_failed")  # more than a year ahead of today
    assert not RebalanceRun.objects.exists()
