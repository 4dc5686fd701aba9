"""The database connection of a request is terminated while the request is inside its transaction.

The request (POST /api/v1/cases/: a relationship row, then the case and its audit event) runs in
its own thread with its own connection; the test holds a lock on the advisor's user row, so the
request stops at its COMMIT (the case's created_by foreign key is checked there), and then
terminates that backend with pg_terminate_backend from another connection."""
from __future__ import annotations

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from onboarding.api.auth import api_token_create
from onboarding.models import AuditEvent, OnboardingCase, Relationship, User
from tests.factories import FirmFactory, PersonFactory, UserFactory
from tests.reliability.faults import RowLock, side_connection

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def _counts():
    return (Relationship.objects.count(), OnboardingCase.objects.count(), AuditEvent.objects.count())


def test_a_connection_killed_mid_request_gives_an_error_and_writes_nothing_then_the_next_request_works(
        postgres_only):
    firm = FirmFactory(home_jurisdiction="GB")
    advisor = UserFactory(firm=firm, role="advisor")
    party, other = PersonFactory(firm=firm), PersonFactory(firm=firm)
    _, token = api_token_create(user=advisor, name="drop")
    before = _counts()
    responses = []

    def requests():
        client = APIClient(raise_request_exception=False)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        try:
            responses.append(client.post("/api/v1/cases/", {"party": party.pk}, format="json"))
            responses.append(client.post("/api/v1/cases/", {"party": other.pk}, format="json"))
        finally:
            connection.close()

    lock = RowLock(User, advisor.pk)
    try:
        thread = threading.Thread(target=requests)
        thread.start()
        (waiting,) = lock.wait_for_waiters(1)
        assert waiting["query"] == "COMMIT"  # relationship, case and event written, not committed
        with side_connection() as killer:
            assert killer.execute("SELECT pg_terminate_backend(%s)", [waiting["pid"]]).fetchone()[0] is True
            killer.commit()
        # the first request has failed; release the lock so the second one can go through
        first_done = _wait_for(lambda: len(responses) >= 1)
    finally:
        lock.release()
    thread.join(timeout=60)
    assert first_done and len(responses) == 2

    failed, recovered = responses
    assert failed.status_code == 500  # an error, not a half-made case
    assert "Traceback" not in failed.content.decode(errors="replace")
    assert recovered.status_code == 201, recovered.content
    assert not Relationship.objects.filter(party=party).exists()
    assert not OnboardingCase.objects.filter(party=party).exists()
    assert OnboardingCase.objects.filter(party=other).count() == 1
    assert _counts()[:2] == (before[0] + 1, before[1] + 1)  # only the second request's rows
    assert not AuditEvent.objects.filter(event_type="case.created", detail__party=party.pk).exists()


def _wait_for(predicate, timeout: float = 30) -> bool:
    import time

    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False
