"""Breaks past their SLA due time appear in the compliance officer's work queues."""
import datetime as dt

import pytest
from django.utils import timezone

from onboarding.requirements import work_queues
from tests.factories import FirmFactory, OfficerFactory, UserFactory
from trading.reconciliation.models import Break

pytestmark = pytest.mark.django_db


def make_break(firm, key, due):
    return Break.objects.create(key=key, firm=firm, custodian_code="IRVTUS3N", custody_account="ACC-1",
                                kind="quantity", amount_base=1000, first_seen=dt.date(2026, 11, 1),
                                last_seen=dt.date(2026, 11, 20), due_at=due, priority=1)


def test_overdue_breaks_are_queued_for_officers_and_scoped_for_firm_users():
    firm, other = FirmFactory(), FirmFactory()
    late = make_break(firm, "k1", timezone.now() - dt.timedelta(hours=5))
    make_break(firm, "k2", timezone.now() + dt.timedelta(hours=5))  # not yet due
    make_break(other, "k3", timezone.now() - dt.timedelta(hours=1))
    provider = work_queues()["reconciliation.aged_breaks"]
    queue = provider(OfficerFactory())
    assert queue.count == 2 and queue.severity == "danger"
    assert queue.rows[0]["url"].endswith(f"/{late.pk}/change/")
    assert provider(UserFactory(firm=firm)).count == 1
