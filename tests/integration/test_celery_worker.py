"""Tasks run on a real Celery worker over Redis against PostgreSQL (the scale-out path)."""
import datetime as dt

import pytest

from onboarding import services
from onboarding.models import CaseKind, OnboardingCase, Relationship, RelationshipState
from tests.factories import FirmFactory, OfficerFactory, PersonFactory, UserFactory, tax_documented
from tests.onboarding.helpers import complete_person

pytestmark = pytest.mark.celery_worker


def test_due_reviews_are_opened_by_a_real_worker_once_even_when_the_task_runs_twice(celery_worker_process):
    relationships = _approved_relationships()
    Relationship.objects.filter(pk=relationships[0].pk).update(next_review_due=dt.date(2020, 1, 1))
    Relationship.objects.filter(pk=relationships[1].pk).update(next_review_due=dt.date(2021, 1, 1))
    _run_and_check(celery_worker_process, relationships)


def _approved_relationships():
    services.rulepacks_load()
    firm = FirmFactory(home_jurisdiction="GB")
    advisor, officer = UserFactory(firm=firm), OfficerFactory()
    relationships = []
    for _ in range(3):
        party = PersonFactory(firm=firm)
        complete_person(party, actor=advisor)
        case = services.case_create(firm=firm, party=party, actor=advisor)
        tax_documented(party)  # every registered provider runs: the tax forms are on file, no alert is open
        case = services.case_start_review(case=services.case_submit(case=case, actor=advisor), actor=officer)
        services.case_approve(case=case, actor=officer)
        relationships.append(Relationship.objects.get(party=party))
    return relationships


def _run_and_check(celery_worker_process, relationships):
    first = celery_worker_process.send_task("onboarding.tasks.open_due_reviews").get(timeout=60)
    assert first == {"due": 2}
    import time

    deadline = time.time() + 30
    while time.time() < deadline and OnboardingCase.objects.filter(kind=CaseKind.PERIODIC_REVIEW).count() < 2:
        time.sleep(0.3)
    celery_worker_process.send_task("onboarding.tasks.open_due_reviews").get(timeout=60)
    time.sleep(2)
    reviews = OnboardingCase.objects.filter(kind=CaseKind.PERIODIC_REVIEW)
    assert sorted(reviews.values_list("relationship_id", flat=True)) == sorted(r.pk for r in relationships[:2])
    assert Relationship.objects.get(pk=relationships[0].pk).state == RelationshipState.UNDER_REVIEW
    assert Relationship.objects.get(pk=relationships[2].pk).state == RelationshipState.ACTIVE
