"""`make run` loads the demo: firms, users of every role, clients at different stages."""
import pytest
from django.core.management import call_command

from onboarding.models import CaseState, Firm, OnboardingCase, Role, User

# The demo seeds through every registered provider and activation check (tax forms, screening),
# as `make run` does: the registries are not emptied here.
pytestmark = [pytest.mark.django_db, pytest.mark.with_registered_apps]


def test_the_demo_loads_every_role_and_cases_in_several_states_and_is_idempotent():
    call_command("rulepacks", "load")
    from io import StringIO

    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "review desk at /desk/" in out.getvalue()  # officers are told where their desk is
    assert Firm.objects.count() == 3
    assert set(User.objects.values_list("role", flat=True)) == set(Role.values)
    states = set(OnboardingCase.objects.values_list("state", flat=True))
    assert {CaseState.DRAFT, CaseState.SUBMITTED, CaseState.IN_REVIEW, CaseState.AWAITING_SECOND_APPROVAL,
            CaseState.APPROVED, CaseState.REJECTED, CaseState.WITHDRAWN} <= states
    assert len(set(OnboardingCase.objects.values_list("jurisdiction", flat=True))) >= 4
    call_command("seed_demo")
    assert Firm.objects.count() == 3
