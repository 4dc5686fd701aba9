"""Concurrent approvals of one case: exactly one wins (PostgreSQL row locks)."""
import threading

import pytest
from django.db import close_old_connections, connection

from onboarding import services
from onboarding.exceptions import InvalidTransition
from onboarding.models import AuditEvent, CaseState, OnboardingCase
from onboarding.services import rulepacks_load
from tests.factories import FirmFactory, OfficerFactory, PersonFactory, UserFactory
from tests.onboarding.helpers import complete_person

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("row-lock concurrency is tested on PostgreSQL")


def _race(n, action):
    barrier = threading.Barrier(n)
    outcomes = []

    def worker(i):
        close_old_connections()
        try:
            barrier.wait()
            action(i)
            outcomes.append("ok")
        except InvalidTransition:
            outcomes.append("refused")
        except Exception as exc:  # noqa: BLE001 - recorded and asserted below
            outcomes.append(f"error: {exc!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_fifty_simultaneous_approvals_produce_exactly_one_approval():
    rulepacks_load()
    firm = FirmFactory(home_jurisdiction="GB")
    advisor = UserFactory(firm=firm)
    officers = [OfficerFactory() for _ in range(50)]
    party = PersonFactory(firm=firm)
    complete_person(party, actor=advisor)
    case = services.case_create(firm=firm, party=party, actor=advisor)
    case = services.case_submit(case=case, actor=advisor)
    case = services.case_start_review(case=case, actor=officers[0])

    outcomes = _race(50, lambda i: services.case_approve(case=OnboardingCase.objects.get(pk=case.pk),
                                                          actor=officers[i]))
    assert outcomes.count("ok") == 1, outcomes
    assert outcomes.count("refused") == 49, outcomes
    case.refresh_from_db()
    assert case.state == CaseState.APPROVED
    assert AuditEvent.objects.filter(subject_id=str(case.pk), event_type="case.approved").count() == 1
    assert AuditEvent.objects.filter(event_type="relationship.approved").count() == 1
